"""Judge soak: many runs of well-behaved, failing and hostile programs through ONE Judge.

Every round submits the same mix (accepted, wrong, crashing, timing-out and attacking
programs: fork bomb, memory hog, writes outside the sandbox, sockets, ptrace of the fork
server, leaked fds, a daemon that outlives its run, an output flood) until ``--runs`` runs
are judged. After every batch it samples what a long-lived judge could leak: processes of
the sandbox uids and of this process's tree (zombies too), this process's open file
descriptors, threads, entries in the judge's temp directory, and resident memory. At the
end it prints a table of verdicts per program and the leak figures (all must be zero,
memory flat), then ONE JSON line.

    .venv/bin/python benchmarks/judge_soak.py [--runs 10000] [--batch 64]
"""

import collections
import ctypes
import gc
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from xcoder_jax import judge  # noqa: E402
from xcoder_jax.judge.sandbox import descendants, wait_for_no_processes  # noqa: E402

_RUNS = flags.DEFINE_integer("runs", 10000, "Runs (tests) to judge in all; 500 for a short soak.")
_BATCH = flags.DEFINE_integer("batch", 64, "Submissions per Judge.run call.")
_WORKERS = flags.DEFINE_integer("workers", None, "Judge workers (default: the Judge's own).")
_UID_BASE = flags.DEFINE_integer(
  "uid_base", 61000, "First sandbox uid: apart from other judges here, so only ours are counted."
)

T = judge.TestCase
_BLOCKED = [T("", "blocked")] * 2
_CPP_PREFIX = "#include <bits/stdc++.h>\n"

# name -> (source, tests, submission options); expected verdicts in _EXPECTED (else accepted)
_PROGRAMS = {
  "accepted": ("print(sum(map(int, input().split())))", [T("1 2", "3"), T("5 5", "10")] * 2, {}),
  "wrong_answer": ("print(int(input().split()[0]) - 1)", [T("1 2", "3"), T("5 5", "10")] * 2, {}),
  "raises": ("raise ValueError('boom')", [T("", "")] * 2, {}),
  "exit_code": ("import sys\nsys.exit(3)", [T("", "")] * 2, {}),
  "syntax_error": ("print(", [T("", "")] * 2, {}),
  "cpp_accepted": (
    _CPP_PREFIX + "int main(){long long a,b;std::cin>>a>>b;std::cout<<a+b<<'\\n';}",
    [T("1 2", "3"), T("5 5", "10")] * 2,
    {"lang": "cpp"},
  ),
  "cpp_segfault": (
    _CPP_PREFIX + "int main(){volatile int*p=nullptr;*p=1;}",
    [T("", "")] * 2,
    {"lang": "cpp"},
  ),
  "busy_loop": ("while True:\n    pass", [T("", "")], {"time_limit_s": 0.25}),
  "sleeps": ("import time\ntime.sleep(60)", [T("", "")], {"time_limit_s": 0.25}),
  "memory_hog": (
    "chunks = []\nwhile True:\n    chunks.append(bytearray(8 << 20))",
    [T("", "")],
    {"memory_mb": 64},
  ),
  "output_flood": ("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", [T("", "")], {}),
  "writes_outside": (
    "blocked = True\n"
    "for path in ('/etc/passwd', '/usr/bin/python3', '/judge/x', '/work/x', '/root/x'):\n"
    "    try:\n"
    "        open(path, 'a').write('pwned')\n"
    "        blocked = False\n"
    "    except OSError:\n"
    "        pass\n"
    "print('blocked' if blocked else 'wrote')",
    _BLOCKED,
    {},
  ),
  "sockets": (
    "import socket\n"
    "server = socket.socket()\n"
    "server.bind(('127.0.0.1', 0))\n"
    "server.listen()\n"  # left open on purpose
    "try:\n"
    "    socket.create_connection(('1.1.1.1', 53), timeout=0.5)\n"
    "    print('connected')\n"
    "except OSError:\n"
    "    print('blocked')",
    _BLOCKED,
    {},
  ),
  "ptrace_parent": (
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "parent = os.getppid()\n"
    "if libc.ptrace(16, parent, 0, 0) == 0:\n"  # PTRACE_ATTACH, then let it go again
    "    os.waitpid(parent, 0x40000000)\n"  # __WALL
    "    libc.ptrace(17, parent, 0, 0)\n"  # PTRACE_DETACH
    "    print('attached')\n"
    "else:\n"
    "    print('blocked')",
    _BLOCKED,
    {},
  ),
  "fd_leak": (
    "import os\nheld = [os.pipe() for _ in range(60)] + [open('/dev/null') for _ in range(100)]\n"
    "print('blocked')",
    _BLOCKED,
    {},
  ),
  "daemon": (
    "import os, time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        time.sleep(3600)\n"
    "    os._exit(0)\n"
    "print('blocked')",
    _BLOCKED,
    {},
  ),
}
_EXPECTED = {
  "accepted": "accepted",
  "wrong_answer": "wrong_answer",
  "raises": "runtime_error",
  "exit_code": "runtime_error",
  "syntax_error": "compile_error",
  "cpp_accepted": "accepted",
  "cpp_segfault": "runtime_error",
  "busy_loop": "time_limit",
  "sleeps": "time_limit",
  "fork_bomb": "time_limit",
  "memory_hog": "memory_limit",
  "output_flood": "output_limit",
}
_FORK_BOMB = (
  "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
  [T("", "")],
  {"time_limit_s": 0.25},
)


def round_of_programs(index: int) -> list[tuple[str, judge.Submission]]:
  """One round of the mix; every 10th round a C++ program never seen before (a compile),
  every 5th a fork bomb (the costliest attack)."""
  programs = dict(_PROGRAMS)
  if index % 5 == 0:
    programs["fork_bomb"] = _FORK_BOMB
  if index % 10 == 0:
    source, tests, options = programs["cpp_accepted"]
    programs["cpp_accepted"] = (f"// round {index}\n{source}", tests, options)
  return [
    (name, judge.Submission(source, list(tests), **options))
    for name, (source, tests, options) in programs.items()
  ]


def _rss_kb() -> int:
  """Resident memory after a collection and glibc's malloc_trim: what the judge still holds,
  not the free heap glibc keeps after a batch's 16 MB outputs (the raw figure swings by
  ~100 MB from batch to batch and would hide a slow leak)."""
  gc.collect()
  ctypes.CDLL(None).malloc_trim(0)
  for line in Path("/proc/self/status").read_text().splitlines():
    if line.startswith("VmRSS:"):
      return int(line.split()[1])
  raise RuntimeError("no VmRSS in /proc/self/status")


def _uid_processes(uids: list[int]) -> list[int]:
  """Every process of the sandbox uids, zombies included (a sandbox's pid 1 is reparented
  to the host's init when bwrap exits, and stays a zombie until that init reaps it)."""
  pids = []
  for entry in Path("/proc").iterdir():
    if entry.name.isdigit():
      try:
        if entry.stat().st_uid in uids:
          pids.append(int(entry.name))
      except OSError:
        continue
  return pids


def sample(engine: judge.Judge, temp_dir: str, runs: int) -> dict:
  """Leak counters; the workers' idle zygotes (bubblewrap and an interpreter each, kept for
  the Judge's lifetime) are not leftovers while the Judge is open."""
  uids = [uid for uid in engine.worker_uids() if uid is not None]
  zygotes = set(engine.zygote_pids())
  return {
    "runs": runs,
    "rss_kb": _rss_kb(),
    "fds": len(os.listdir("/proc/self/fd")),
    "threads": threading.active_count(),
    "temp_entries": len(os.listdir(temp_dir)),
    "sandbox_uid_processes": sum(
      len(wait_for_no_processes(uid, 1.0, ignore=zygotes)) for uid in uids
    ),
    "descendants": len(set(descendants(os.getpid())) - zygotes),
  }


def _slope_per_1k_runs(samples: list[dict], key: str) -> float:
  """Least-squares growth of ``key`` per 1000 runs over the samples' second half."""
  points = samples[len(samples) // 2 :]
  if len(points) < 2:
    return 0.0
  xs, ys = [p["runs"] for p in points], [p[key] for p in points]
  mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
  var = sum((x - mean_x) ** 2 for x in xs)
  return 1000 * sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / var if var else 0.0


def main(argv: list[str]) -> None:
  del argv
  # The judge's temp files (harness, compile cache, server logs) go to a private directory,
  # so that counting its entries counts ours only.
  temp_dir = tempfile.mkdtemp(prefix="judge-soak-")
  os.chmod(temp_dir, 0o755)  # the sandbox uids bind the compiled harness from here
  tempfile.tempdir = temp_dir
  try:
    soak(temp_dir)
  finally:
    shutil.rmtree(temp_dir, ignore_errors=True)


def soak(temp_dir: str) -> None:
  config = judge.SandboxConfig(uid_base=_UID_BASE.value)
  engine = judge.Judge(config, workers=_WORKERS.value)
  verdicts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
  pending = [entry for index in range(1000) for entry in round_of_programs(index)]
  runs, samples, started = 0, [], time.monotonic()
  warmup = None
  while runs < _RUNS.value:
    batch, pending = pending[: _BATCH.value], pending[_BATCH.value :]
    if not pending:
      pending = [entry for index in range(1000) for entry in round_of_programs(index)]
    results = engine.run([submission for _, submission in batch])
    for (name, _), result in zip(batch, results):
      for verdict in result.verdicts:
        verdicts[name][verdict.verdict.value] += 1
      runs += len(result.verdicts)
    samples.append(sample(engine, temp_dir, runs))
    if warmup is None:
      warmup = samples[-1]  # the first batch creates the harness dir and the compile cache
    print(
      f"{runs:6d} runs {time.monotonic() - started:7.1f}s  rss {samples[-1]['rss_kb'] / 1024:.1f}"
      f" MB  fds {samples[-1]['fds']}  temp {samples[-1]['temp_entries']}"
      f"  leftover processes {samples[-1]['sandbox_uid_processes'] + samples[-1]['descendants']}",
      flush=True,
    )
  elapsed = time.monotonic() - started
  engine.close()  # the zygotes go too: from here on every process of the uids is a leak
  time.sleep(2.0)  # the host's init reaps the sandboxes' last pid 1s
  uids = [uid for uid in engine.worker_uids() if uid is not None]
  final = sample(engine, temp_dir, runs)
  leftovers = set(_uid_processes(uids)) | set(descendants(os.getpid()))

  print(f"\n{'program':<16}{'expected':<16}verdicts")
  unexpected = 0
  for name in list(_PROGRAMS) + ["fork_bomb"]:
    expected = _EXPECTED.get(name, "accepted")
    counts = verdicts[name]
    unexpected += sum(n for outcome, n in counts.items() if outcome != expected)
    print(f"{name:<16}{expected:<16}{dict(counts)}")
  rss = [s["rss_kb"] for s in samples]
  report = {
    "benchmark": "judge_soak",
    "runs": runs,
    "seconds": round(elapsed, 1),
    "runs_per_s": round(runs / elapsed, 1),
    "workers": engine.workers,
    "unexpected_verdicts": unexpected,
    "leaked_processes": len(leftovers),
    "fd_growth": final["fds"] - warmup["fds"],
    "thread_growth": final["threads"] - warmup["threads"],
    "temp_entry_growth": final["temp_entries"] - warmup["temp_entries"],
    "max_leftover_processes_after_a_batch": max(
      s["sandbox_uid_processes"] + s["descendants"] for s in samples
    ),
    "rss_mb_after_first_batch": round(warmup["rss_kb"] / 1024, 1),
    "rss_mb_max": round(max(rss) / 1024, 1),
    "rss_mb_end": round(final["rss_kb"] / 1024, 1),
    "rss_kb_per_1k_runs_second_half": round(_slope_per_1k_runs(samples, "rss_kb"), 1),
    # The floor (lowest sample) of the first and last quarter: a leak lifts the floor, while
    # single samples swing with the large outputs a batch happened to hold.
    "rss_mb_floor_first_quarter": round(min(rss[: max(1, len(rss) // 4)]) / 1024, 1),
    "rss_mb_floor_last_quarter": round(min(rss[-max(1, len(rss) // 4) :]) / 1024, 1),
    "compiles": engine.compile_cache.misses,
    "compile_cache_hits": engine.compile_cache.hits,
    "load_average": os.getloadavg(),
  }
  print("\n" + "\n".join(f"{key:<40}{value}" for key, value in report.items()))
  print(json.dumps(report))


if __name__ == "__main__":
  app.run(main)
