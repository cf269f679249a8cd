"""Programs that attack the fork server whose report the verdict is built from.

The server is undumpable and the PID namespace's init: a run can neither trace it, read or
write its memory, nor stop or kill it. And time verdicts are measured outside the sandbox,
so even a server that lied would only fail its own run.
"""

import pytest

from xcoder_jax import judge
from xcoder_jax.judge.sandbox import Sandbox

T = judge.TestCase

# Every way at its parent (the server) it knows; one word per attempt, "denied" if refused.
ATTACKS = """
import ctypes, os, signal

def attacks():
    libc = ctypes.CDLL(None, use_errno=True)
    parent, found = os.getppid(), []
    for request in (16, 0x4206):  # PTRACE_ATTACH, PTRACE_SEIZE
        found.append("denied" if libc.ptrace(request, parent, 0, 0) != 0 else "TRACED")
    for mode in ("rb", "r+b"):
        try:
            with open(f"/proc/{parent}/mem", mode) as memory:
                memory.seek(0x400000)
                memory.write(b"x") if "+" in mode else memory.read(1)
            found.append("REACHED")
        except OSError:
            found.append("denied")
    try:
        found.append("OPENED " + " ".join(os.listdir(f"/proc/{parent}/fd")))
    except OSError:
        found.append("denied")
    os.kill(parent, signal.SIGSTOP)  # dropped by the kernel: the server is init
    return found
"""
DENIED = ["denied"] * 5


@pytest.fixture(scope="module")
def engine():
  return judge.Judge(workers=2)


def test_a_run_cannot_trace_or_stop_its_server(engine):
  stdio = ATTACKS + "print(*attacks())\n"
  call = ATTACKS + "\ndef f():\n    return attacks()\n"
  results = engine.run(
    [
      judge.Submission(stdio, [T("", " ".join(DENIED))] * 2),
      judge.Submission(call, [T(args=[], expected=DENIED)], kind="function", fn_name="f"),
    ]
  )
  for result in results:
    assert result.accepted, result.verdicts


@pytest.mark.parametrize("ending", ["import time\ntime.sleep(60)\n", "while True:\n    pass\n"])
def test_tampering_then_running_past_the_limit_is_a_time_limit(engine, ending):
  source = ATTACKS + "print(*attacks(), flush=True)\n" + ending
  [result] = engine.run([judge.Submission(source, [T("", " ".join(DENIED))], time_limit_s=0.3)])
  verdict = result.verdicts[0]
  assert verdict.verdict == "time_limit", verdict
  assert verdict.stdout.split() == DENIED and verdict.time_s < 3.0, verdict


def test_the_judge_times_runs_itself_when_the_server_lies(engine, monkeypatch):
  # A server that enforces no limit and reports a quick clean exit: the judge's own clocks
  # (the sandbox's CPU time and the request's wall time) still give time_limit.
  original = Sandbox.request

  def lying_server(self, message, timeout_s):
    if message["op"] == "run":
      message = dict(message, limits=dict(message["limits"], cpu_s=30.0, wall_s=30.0))
    response = original(self, message, timeout_s)
    if message["op"] == "run":
      response.update(stopped_by=None, signal=None, exit_code=0, cpu_s=0.01, wall_s=0.01)
    return response

  monkeypatch.setattr(Sandbox, "request", lying_server)
  spin = "import time\nend = time.process_time() + 1.0\nwhile time.process_time() < end:\n"
  results = engine.run(
    [
      judge.Submission(spin + "    pass\nprint(3)\n", [T("", "3")], time_limit_s=0.3),
      judge.Submission("import time\ntime.sleep(2.2)\nprint(3)\n", [T("", "3")], time_limit_s=0.3),
      judge.Submission("print(3)\n", [T("", "3")], time_limit_s=0.3),
    ]
  )
  spun, slept, honest = (r.verdicts[0] for r in results)
  assert (spun.verdict, slept.verdict, honest.verdict) == ("time_limit", "time_limit", "accepted")
  assert "CPU" in spun.message and spun.cpu_s >= 0.9, spun
  assert "wall" in slept.message and slept.time_s >= 2.0, slept
