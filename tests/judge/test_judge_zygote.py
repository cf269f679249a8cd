"""Each solution's sandbox is forked by its worker's zygote: fresh namespaces, no
capabilities, nothing carried from one solution to the next; the zygote itself comes back if
it dies, and goes away with the Judge."""

import errno
import fcntl
import gc
import os
import signal
import threading
import time

import pytest

from xcoder_jax import judge
from xcoder_jax.judge import pool
from xcoder_jax.judge.harness import libc
from xcoder_jax.judge.sandbox import wait_for_no_processes

T = judge.TestCase

# Leaves state that outlives every process of a run in kernel objects that namespaces scope
# (a SysV shared-memory segment, a key in the user keyring), after reporting what it sees.
PROBE = """
import ctypes, platform
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
ADD_KEY, KEYCTL = {"x86_64": (248, 250), "aarch64": (217, 219)}[platform.machine()]
KEY, USER_KEYRING, KEYCTL_READ = 0x5EC7E7, -4, 11
shm = libc.shmget(KEY, 0, 0) != -1
key = libc.syscall(KEYCTL, KEYCTL_READ, USER_KEYRING, 0, 0) > 0  # any key in it?
libc.shmget(KEY, 4096, 0o1666)
libc.syscall(ADD_KEY, b"user", b"xcoder-probe", b"secret", 6, USER_KEYRING)
print(shm, key)
"""
CAPS = """
import os, signal
fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
keys = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs")
print(*(fields[key].strip() for key in keys))
os.kill(1, signal.SIGINT)  # the server is init and ignores it (no KeyboardInterrupt there)
print(os.getppid())
master, terminal = os.openpty()  # a devpts instance of its own: nobody else's terminals
print(os.ttyname(terminal), sorted(os.listdir("/dev/pts")))
"""


def test_nothing_carries_over_from_one_solution_to_the_next():
  with judge.Judge(workers=1) as engine:
    probe = judge.Submission(PROBE, [T("", "")] * 2, capture_output=True)
    first, second = engine.run([probe, probe])
  # Within a solution the second run sees what the first left; the next solution does not.
  assert [v.output.split()[0] for v in first.verdicts] == ["False", "True"], first.verdicts
  assert second.verdicts[0].output.split() == ["False", "False"], second.verdicts


def test_a_run_holds_no_capabilities_and_its_server_is_init():
  with judge.Judge(workers=1) as engine:
    [result] = engine.run([judge.Submission(CAPS, [T("", "")], capture_output=True)])
  assert result.accepted, result.verdicts
  caps, parent, terminals = result.verdicts[0].output.splitlines()
  assert caps.split() == ["0000000000000000"] * 5 + ["1"], caps
  assert parent == "1", parent  # the fork server, the namespace's init
  assert terminals == "/dev/pts/0 ['0', 'ptmx']", terminals


RUN_SECONDS = 300  # the sleeping run: far longer than the killer can take to find it


def _parents() -> dict[int, int]:
  """pid -> parent pid of every process, from /proc/PID/stat (which, unlike
  /proc/PID/task/*/children, also shows processes that were reparented)."""
  parents = {}
  for name in os.listdir("/proc"):
    if name.isdigit():
      try:
        with open(f"/proc/{name}/stat") as stat:
          parents[int(name)] = int(stat.read().rsplit(")", 1)[1].split()[1])
      except (OSError, ValueError, IndexError):
        pass
  return parents


def _kill_zygote_once_a_run_is_running(engine):
  """bubblewrap, the zygote, its sandbox's server, the server's run: then kill the first two.
  Waits as long as the run lasts (it cannot end by itself before the test's limit), so a busy
  machine only makes the test slower, never lets the run finish before the kill."""
  deadline = time.monotonic() + RUN_SECONDS
  while time.monotonic() < deadline:
    pids = engine.zygote_pids()
    parents = _parents()
    servers = {pid for pid, parent in parents.items() if len(pids) > 1 and parent == pids[1]}
    if any(parent in servers for parent in parents.values()):
      break
    time.sleep(0.01)
  for pid in pids:
    os.kill(pid, signal.SIGKILL)


def test_a_zygote_dying_mid_run_is_the_judges_error_not_the_programs():
  with judge.Judge(workers=1) as engine:
    engine.warm_up()
    killer = threading.Thread(target=_kill_zygote_once_a_run_is_running, args=(engine,))
    killer.start()
    sleeper = judge.Submission(
      f"import time\ntime.sleep({RUN_SECONDS})\n", [T("", "")], time_limit_s=RUN_SECONDS
    )
    [result] = engine.run([sleeper])
    killer.join()
  assert result.verdicts[0].verdict == "judge_error", result.verdicts[0]


def test_libc_errors_carry_errno():
  with pytest.raises(OSError) as failure:
    libc.call("unshare", 0x7FFFFFFF)  # no such flags: EINVAL, and nothing changes
  assert failure.value.errno == errno.EINVAL


def test_a_killed_zygote_is_restarted_and_close_leaves_nothing():
  engine = judge.Judge(workers=1)
  add = judge.Submission("print(sum(map(int, input().split())))\n", [T("1 2", "3")])
  assert engine.run([add])[0].accepted
  pids = engine.zygote_pids()
  assert len(pids) == 2, pids  # bubblewrap and the zygote, idle between batches
  os.kill(pids[1], signal.SIGKILL)  # the zygote only: bubblewrap follows it out
  started = time.monotonic()
  assert engine.run([add])[0].accepted
  assert time.monotonic() - started < 10  # no wait for a greeting that cannot come
  assert set(engine.zygote_pids()).isdisjoint(pids)
  engine.close()
  assert engine.zygote_pids() == []
  for uid in engine.worker_uids():
    if uid is not None:
      assert wait_for_no_processes(uid) == []
  assert engine.run([add])[0].accepted  # a closed Judge starts its workers again
  engine.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_lets_go_of_the_zygotes():
  with judge.Judge(workers=1) as engine:
    engine.warm_up()
    [zygote] = engine._zygotes
    pid = os.fork()
    if pid == 0:
      os._exit(0 if zygote._control is None else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert zygote._control is not None  # the parent still has it


def test_judges_alive_together_never_share_a_worker_uid():
  """Two judges on one host (a trainer's and an evaluation's, two test suites) lease distinct
  uids, so neither RLIMIT_NPROC nor per-uid process counts mix their runs; a gone judge's
  uids are free again."""
  first, second = judge.Judge(workers=2), judge.Judge(workers=2)
  if first.worker_uids()[0] is None:
    pytest.skip("not root: workers keep the judge's own uid")
  assert set(first.worker_uids()).isdisjoint(second.worker_uids())
  freed = second.worker_uids()
  del second
  gc.collect()
  for uid in freed:  # nobody holds them now
    with open(os.path.join(pool.LEASE_DIR, str(uid))) as lease:
      fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
  third = judge.Judge(workers=2)
  assert set(third.worker_uids()).isdisjoint(first.worker_uids())
  first.close()
  third.close()
