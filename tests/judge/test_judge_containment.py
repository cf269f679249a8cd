"""Hostile programs: each must get the expected verdict and leave the host untouched."""

import hashlib
import os
import socket
import time
from pathlib import Path

import pytest

from tests.judge.language_programs import ATTACK_OUTPUT, ATTACK_PROGRAMS
from xcoder_jax import judge
from xcoder_jax.judge import languages
from xcoder_jax.judge.sandbox import wait_for_no_processes

MARKER = "xcoder-judge-containment-marker"
HOST_FILES = ["/usr/bin/python3", "/etc/passwd", "/bin/sh"]


@pytest.fixture(scope="module")
def engine():
  return judge.Judge(workers=2)


@pytest.fixture()
def host(tmp_path):
  """A host directory with a secret and a world-writable canary, plus fingerprints."""
  secret = tmp_path / "secret.txt"
  secret.write_text("host secret")
  secret.chmod(0o644)
  canary = tmp_path / "canary.txt"
  canary.write_text("untouched")
  canary.chmod(0o666)
  tmp_path.chmod(0o777)
  fingerprints = {path: hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in HOST_FILES}
  yield {"secret": str(secret), "canary": str(canary), "dir": str(tmp_path)}
  for path, digest in fingerprints.items():
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == digest, path
  assert canary.read_text() == "untouched"
  assert sorted(p.name for p in tmp_path.iterdir()) == ["canary.txt", "secret.txt"]


def assert_host_clean(engine):
  """No process of any sandbox uid (but the idle zygotes) and none carrying the marker
  survives the run."""
  zygotes = set(engine.zygote_pids())
  for uid in engine.worker_uids():
    if uid is not None:
      assert wait_for_no_processes(uid, ignore=zygotes) == [], f"processes of uid {uid} survived"
  for entry in Path("/proc").iterdir():
    if entry.name.isdigit() and int(entry.name) != os.getpid():
      try:
        cmdline = (entry / "cmdline").read_bytes()
      except OSError:
        continue
      assert MARKER.encode() not in cmdline, f"pid {entry.name} survived: {cmdline!r}"


def judge_one(engine, source, tests=(judge.TestCase("", ""),), **options):
  started = time.monotonic()
  [result] = engine.run([judge.Submission(source, list(tests), **options)])
  elapsed = time.monotonic() - started
  assert_host_clean(engine)
  return result.verdicts, elapsed


def outcomes(verdicts):
  return [v.verdict.value for v in verdicts]


@pytest.mark.slow
def test_fork_bomb(engine, host):
  source = (
    "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
  )
  verdicts, elapsed = judge_one(engine, source, time_limit_s=1.0)
  assert outcomes(verdicts) == ["time_limit"]
  assert elapsed < 8


def test_memory_bomb(engine, host):
  source = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 << 20))\n"
  verdicts, _ = judge_one(engine, source, memory_mb=128)
  assert outcomes(verdicts) == ["memory_limit"]


def test_infinite_loop_and_ignored_sigterm(engine, host):
  source = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n"
  verdicts, elapsed = judge_one(engine, source, time_limit_s=1.0)
  assert outcomes(verdicts) == ["time_limit"]
  assert elapsed < 5


def test_busy_threads(engine, host):
  source = (
    "import threading\ndef spin():\n    while True:\n        pass\n"
    "for _ in range(4):\n    threading.Thread(target=spin).start()\n"
  )
  verdicts, elapsed = judge_one(engine, source, time_limit_s=1.0)
  assert outcomes(verdicts) == ["time_limit"]
  assert elapsed < 5


def test_sleeping_past_the_limit(engine, host):
  verdicts, elapsed = judge_one(engine, "import time\ntime.sleep(60)\n", time_limit_s=0.5)
  assert outcomes(verdicts) == ["time_limit"]
  assert elapsed < 5


def test_huge_output(engine, host):
  source = "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n"
  verdicts, _ = judge_one(engine, source)
  assert outcomes(verdicts) == ["output_limit"]


def test_reads_of_host_files_fail(engine, host):
  probe = (
    "import os\nfor path in {paths!r}:\n    try:\n        open(path).read()\n"
    "        print('READ', path)\n    except OSError:\n        print('denied')\n"
    "print('env' if {env!r} in os.environ else 'no-env')\n"
  )
  paths = [
    "/etc/shadow",
    "/root/.bashrc",
    host["secret"],
    "/work/main/pyproject.toml",
    os.path.expanduser("~/.profile"),
  ]
  os.environ["XCODER_JUDGE_HOST_SECRET"] = "1"
  try:
    source = probe.format(paths=paths, env="XCODER_JUDGE_HOST_SECRET")
    verdicts, _ = judge_one(engine, source, [judge.TestCase("", "denied\n" * 5 + "no-env")])
  finally:
    del os.environ["XCODER_JUDGE_HOST_SECRET"]
  assert outcomes(verdicts) == ["accepted"], verdicts[0].stdout


def test_writes_outside_the_private_dir_fail(engine, host):
  targets = [
    host["canary"],
    host["dir"] + "/new.txt",
    "/usr/bin/python3",
    "/bin/sh",
    "/etc/passwd",
    "/new.txt",
    "/dev/shm/x",
    "/work/main/new.txt",
  ]
  source = (
    "for path in {targets!r}:\n    try:\n        open(path, 'w').write('owned')\n"
    "        print('WROTE', path)\n    except OSError:\n        print('denied')\n"
    "open('mine.txt', 'w').write('ok')\nprint(open('mine.txt').read())\n"
  )
  verdicts, _ = judge_one(
    engine, source.format(targets=targets), [judge.TestCase("", "denied\n" * len(targets) + "ok")]
  )
  assert outcomes(verdicts) == ["accepted"], verdicts[0].stdout


def test_network_is_unreachable_even_on_loopback(engine, host):
  listener = socket.socket()
  listener.bind(("127.0.0.1", 0))
  listener.listen()
  listener.settimeout(0.2)
  port = listener.getsockname()[1]
  source = (
    "import socket\nfor address in [('127.0.0.1', {port}), ('8.8.8.8', 53)]:\n"
    "    try:\n        socket.create_connection(address, timeout=1)\n"
    "        print('CONNECTED', address)\n    except OSError:\n        print('blocked')\n"
  )
  try:
    verdicts, _ = judge_one(
      engine, source.format(port=port), [judge.TestCase("", "blocked\nblocked")]
    )
    with pytest.raises(socket.timeout):
      listener.accept()
  finally:
    listener.close()
  assert outcomes(verdicts) == ["accepted"], verdicts[0].stdout


def test_background_processes_do_not_outlive_the_run(engine, host):
  source = (
    "import os, subprocess\n"
    f"subprocess.Popen(['/bin/sleep', '1000', '{MARKER}'], start_new_session=True)\n"
    "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
    f"        os.execv('/bin/sleep', ['/bin/sleep', '999', '{MARKER}'])\n"
    "    os._exit(0)\nprint('started')\n"
  )
  verdicts, _ = judge_one(engine, source, [judge.TestCase("", "started")] * 2)
  assert outcomes(verdicts) == ["accepted", "accepted"]


def test_killing_the_parent(engine, host):
  # The server is the PID namespace's init: the kernel drops SIGKILL/SIGSTOP sent to it from
  # inside, so the attack does nothing and the run goes on.
  source = (
    "import os, signal\nfor sig in (signal.SIGSTOP, signal.SIGKILL):\n"
    "    os.kill(os.getppid(), sig)\nprint(os.getppid())\n"
  )
  verdicts, _ = judge_one(engine, source, [judge.TestCase("", "1")] * 2)
  assert outcomes(verdicts) == ["accepted", "accepted"]


def test_killing_every_process_in_reach(engine, host):
  # kill(-1) spares init (the server) and the caller: nothing else is there to kill.
  source = (
    "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\n"
    "except ProcessLookupError:\n    print(1)\n"
  )
  verdicts, _ = judge_one(engine, source, [judge.TestCase("", "1")])
  assert outcomes(verdicts) == ["accepted"]


def test_filling_the_disk(engine, host):
  source = (
    "index = 0\nwhile True:\n    with open(f'fill{index}', 'wb') as f:\n"
    "        f.write(b'x' * (8 << 20))\n    index += 1\n"
  )
  verdicts, _ = judge_one(engine, source)
  assert outcomes(verdicts)[0] in ("runtime_error", "output_limit")


def test_one_file_past_the_size_cap(engine, host):
  # Python ignores SIGXFSZ (as a fresh interpreter does), so the write fails with EFBIG.
  verdicts, _ = judge_one(engine, "open('big', 'wb').write(b'x' * (64 << 20))\n")
  assert outcomes(verdicts) == ["runtime_error"]
  assert "File too large" in verdicts[0].stderr


def test_state_does_not_carry_over_between_tests(engine, host):
  source = (
    "import glob, os\nprint(len(glob.glob('/tmp/**', recursive=True)))\n"
    "open('/tmp/leftover', 'w').write('x')\nos.makedirs('/tmp/d/e', exist_ok=True)\n"
    "os.chmod('/tmp/d', 0)\n"
  )
  verdicts, _ = judge_one(engine, source, [judge.TestCase("", "2")] * 3)
  assert outcomes(verdicts) == ["accepted"] * 3, [v.stdout for v in verdicts]


@pytest.mark.parametrize("ending", ["import os\nos._exit(0)\n", "import sys\nsys.exit(0)\n"])
def test_exiting_before_the_checks_is_not_a_pass(engine, host, ending):
  check = "def check(candidate):\n    assert candidate(1) == 2\n"
  verdicts, _ = judge_one(
    engine,
    "def f(x):\n    return 0\n" + ending,
    [judge.TestCase(check_source=check)],
    kind="check",
    fn_name="f",
  )
  assert outcomes(verdicts) == ["runtime_error"]
  verdicts, _ = judge_one(
    engine,
    "def f(x):\n    return 2\n" + ending,
    [judge.TestCase(args=[1], expected=2)],
    kind="function",
    fn_name="f",
  )
  assert outcomes(verdicts) == ["runtime_error"]


def test_exiting_inside_the_call_is_not_a_pass(engine, host):
  source = "class Solution:\n    def f(self, x):\n        import os\n        os._exit(0)\n"
  verdicts, _ = judge_one(
    engine, source, [judge.TestCase(args=[1], expected=None)], kind="leetcode", fn_name="f"
  )
  assert outcomes(verdicts) == ["runtime_error"]


def test_process_count_limit_is_enforced(engine, host):
  source = (
    "import os, time\ncount = 0\nfor _ in range(100):\n    try:\n"
    "        if os.fork() == 0:\n            time.sleep(30)\n            os._exit(0)\n"
    "        count += 1\n    except OSError:\n        break\nprint(count)\n"
  )
  verdicts, _ = judge_one(engine, source, [judge.TestCase("", "")])
  assert 0 < int(verdicts[0].stdout) < judge.RunLimits().max_processes


@pytest.mark.slow
def test_orphans_are_reaped_during_the_run(engine, host):
  # The server is the sandbox's init, so it inherits every orphan ("cmd &" in a shell);
  # those that exit must not pile up as zombies against the process limit. 60 orphans, more
  # than the limit of 32, paced so that the server's reaping (every 20 ms) is not outrun by a
  # loaded machine's scheduling.
  source = (
    "import os, time\n"
    "print(sum(os.system('true &') == 0 and not time.sleep(0.05) for _ in range(60)))\n"
  )
  verdicts, _ = judge_one(engine, source, [judge.TestCase("", "60")])
  assert outcomes(verdicts) == ["accepted"], verdicts[0].stdout + verdicts[0].stderr


@pytest.mark.slow
def test_every_language_is_contained(engine, host):
  """The matrix language x attack (tests/judge/language_programs.py): reading a host file,
  writing a world-writable host file, connecting to the host's loopback, and a spawn bomb of
  detached processes, in each language; nothing survives any run (judge_one checks)."""
  listener = socket.socket()
  listener.bind(("127.0.0.1", 0))
  listener.listen()
  listener.settimeout(0.2)
  attack_input = f"{host['secret']} {host['canary']} {listener.getsockname()[1]}\n"
  test = judge.TestCase(attack_input, ATTACK_OUTPUT)
  got = {}
  try:
    for language, source in ATTACK_PROGRAMS.items():
      verdicts, _ = judge_one(engine, source, [test], lang=language, memory_mb=1024, time_limit_s=5)
      got[language] = (verdicts[0].verdict.value, verdicts[0].stdout)
    with pytest.raises(socket.timeout):
      listener.accept()
  finally:
    listener.close()
  assert got == {language: ("accepted", ATTACK_OUTPUT) for language in ATTACK_PROGRAMS}
  assert set(ATTACK_PROGRAMS) == set(languages.names()) - {"typescript"}  # runs as JavaScript
