"""Programs that try to forge a passing result instead of computing one.

A wrong answer must never be accepted, whatever the program does in its own process:
stealing the harness's nonce from its frames, writing records on any fd and exiting,
patching builtins, AssertionError or the check's globals, returning objects whose ``==``
lies, or reaching the other processes of the sandbox through /proc or ptrace.
"""

import pytest

from xcoder_jax import judge

CHECK = (
  "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(5) == 6\n"
  "    marker = 'QZXJQZXJQZXJ'  # what the candidate looks for\n"
)

# Steals anything nonce-like from the caller frames, claims success on every fd, exits 0.
FRAME_THEFT = """
import json, os, sys

def f(x):
    frame, nonces = sys._getframe(1), [None]
    while frame is not None:
        nonces += [v for k, v in frame.f_locals.items() if k == "nonce"]
        if isinstance(frame.f_locals.get("request"), dict):
            nonces.append(frame.f_locals["request"].get("nonce"))
        frame = frame.f_back
    for nonce in nonces:
        record = json.dumps({"nonce": nonce, "checked": True}).encode()
        for fd in range(3, 64):
            try:
                os.write(fd, record)
            except OSError:
                pass
    os._exit(0)
"""

# Patches every route to "the checks passed" it can find, then answers wrongly.
PATCHING = """
import builtins, gc, sys

class Liar:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False

class Harmless(Exception):
    pass

builtins.AssertionError = Harmless

def f(x):
    for obj in gc.get_objects():
        if isinstance(obj, dict) and callable(obj.get("check")):
            obj["check"] = lambda candidate: None
    frame = sys._getframe(0)
    while frame is not None:
        frame.f_globals["check"] = lambda candidate: None
        frame = frame.f_back
    return RETURNED
"""

# Tries to reach every other process in the sandbox; prints what it managed to open.
PROC_REACH = """
import ctypes, json, os

def f(x):
    me, record = os.getpid(), json.dumps({"checked": True}).encode()
    libc = ctypes.CDLL(None, use_errno=True)
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            open(f"/proc/{name}/mem", "rb").close()
            print("OPENED mem", name)
        except OSError:
            pass
        try:
            for fd in os.listdir(f"/proc/{name}/fd"):
                print("OPENED fd", name, fd)
                try:
                    out = os.open(f"/proc/{name}/fd/{fd}", os.O_WRONLY)
                    os.write(out, record)
                except OSError:
                    pass
        except OSError:
            pass
        if libc.ptrace(16, int(name), 0, 0) == 0:  # PTRACE_ATTACH
            print("OPENED ptrace", name)
    return 0
"""

# Writes a complete forged answer into the judge's own channel, held by the sandbox's init (pid 1).
FORGED_ANSWER = """
import base64, json, os, struct, time

def f(x):
    b64 = lambda data: {"b64": base64.b64encode(data).decode()}
    answer = {
        "exit_code": 0, "signal": None, "stopped_by": None, "wall_s": 0.01, "cpu_s": 0.01,
        "max_rss_kb": 1000, "stdout": b64(b""), "stdout_overflow": False, "stderr": b64(b""),
        "report": b64(b""), "check_report": b64(b'{"checked": true}'), "token": None,
    }
    payload = json.dumps(answer).encode()
    for fd in range(0, 8):
        try:
            out = os.open(f"/proc/1/fd/{fd}", os.O_WRONLY)
            os.write(out, struct.pack(">I", len(payload)) + payload)
        except OSError:
            pass
    time.sleep(0.5)
    return 0
"""


def _submission(source, kind):
  if kind == "check":
    return judge.Submission(
      source, [judge.TestCase(check_source=CHECK)], kind="check", fn_name="f", time_limit_s=5
    )
  if kind == "leetcode":
    source = source.replace("def f(x)", "def _f(x)") + (
      "\nclass Solution:\n    def f(self, x):\n        return _f(x)\n"
    )
  return judge.Submission(
    source,
    [judge.TestCase(args=[1], expected=2), judge.TestCase(args=[5], expected=6)],
    kind=kind,
    fn_name="f",
    time_limit_s=5,
  )


@pytest.fixture(scope="module")
def engine():
  return judge.Judge(workers=2)


@pytest.mark.parametrize("kind", ["check", "leetcode", "function"])
def test_forgeries_are_not_accepted(engine, kind):
  sources = {
    "frame_theft": FRAME_THEFT,
    "patching_liar": PATCHING.replace("RETURNED", "Liar()"),
    "patching_wrong": PATCHING.replace("RETURNED", "0"),
    "forged_answer": FORGED_ANSWER,
  }
  sources["proc_reach"] = PROC_REACH
  honest = "def f(x):\n    return x + 1\n"
  results = engine.run([_submission(s, kind) for s in [honest, *sources.values()]])
  assert results[0].accepted, results[0].verdicts
  for name, result in zip(sources, results[1:]):
    assert not any(v.accepted for v in result.verdicts), (name, result.verdicts)
    if name == "proc_reach":
      # The server (init) and the check process are undumpable: nothing of theirs is reachable.
      assert "OPENED" not in result.verdicts[0].stdout, result.verdicts[0].stdout


def test_check_source_never_reaches_the_candidate(engine):
  # The candidate is a fresh interpreter: neither its memory nor its fds hold the checks.
  source = """
import gc, os, sys

def f(x):
    import re
    pattern = re.compile("candidate(5) == 6")
    found = any(pattern.search(o) for o in gc.get_objects() if isinstance(o, str))
    with open("/proc/self/maps") as maps:
        regions = [line.split() for line in maps if "rw-p" in line]
    memory = open("/proc/self/mem", "rb")
    for region in regions:
        start, end = (int(part, 16) for part in region[0].split("-"))
        try:
            memory.seek(start)
            found = found or pattern.search(memory.read(end - start).decode("latin-1"))
        except (OSError, OverflowError, ValueError):
            pass
    print("FOUND" if found else "CLEAN", file=sys.stderr)
    return x + 1
"""
  source = source.replace("candidate(5) == 6", "(QZXJ){3}")  # never the marker itself
  [result] = engine.run([_submission(source, "check")])
  assert result.accepted, result.verdicts
  assert "CLEAN" in result.verdicts[0].stderr and "FOUND" not in result.verdicts[0].stderr
