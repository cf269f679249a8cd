"""Judge throughput: runs per second on a fixed corpus of small accepted programs.

Compares, in the same process and on the same corpus (programs with 20 tests each, the same
time limits), with the same number of workers on the same cores:
  naive      a process pool of plain `subprocess.run` of a fresh interpreter (or the binary,
             compiled once per submission) per test, no isolation, no limits;
  no-prefork the judge with full isolation but a fresh sandbox per test (forked by the
             worker's zygote: a fresh copy of the warm interpreter, fresh namespaces);
  ours       the judge with full isolation: a sandbox per solution forked by the worker's
             zygote (started before the clock, as the naive pool's workers are), a warm
             interpreter per solution, a fork per test,
             C++ binaries cached by source, its default pool (two workers per core), and for
             reference a single worker and (C++) the same without the compile cache;
  service    the same judge behind `launch.judge_serve`, sent over HTTP by the remote judge.
Per core: runs/s divided by the cores, and runs per CPU-second actually used (this process and
every process below it, sandboxes included: the benchmark adopts the sandboxes' orphaned pid 1s
as a child subreaper and reaps them), which other jobs on a shared machine barely disturb.
``--profile`` breaks one run's CPU time down (a worker's start: bubblewrap, Python start-up,
the zygote; per solution: the forked sandbox; per run: the forked run, the fork server, the
judge process).
Prints side-by-side tables, then ONE JSON line (Python numbers at top level, C++ under "cpp").

    .venv/bin/python benchmarks/judge_throughput.py [--copies 3] [--repeats 2] [--profile]
"""

import concurrent.futures
import ctypes
import json
import marshal
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _ROOT)

from absl import app, flags  # noqa: E402

from benchmarks.machine import cpu_model, worker_pid  # noqa: E402
from xcoder_jax import judge  # noqa: E402
from xcoder_jax.judge import checkers, languages, sandbox  # noqa: E402
from xcoder_jax.judge.compile_cache import CompileCache  # noqa: E402
from xcoder_jax.judge.harness import protocol  # noqa: E402
from xcoder_jax.judge.harness.supervise import read_proc  # noqa: E402
from xcoder_jax.judge.remote import RemoteJudge  # noqa: E402
from xcoder_jax.judge.runner import RunLimits, SubmissionRunner  # noqa: E402
from xcoder_jax.judge.zygote import Zygote  # noqa: E402

_COPIES = flags.DEFINE_integer("copies", 3, "How many times each corpus program is submitted.")
_REPEATS = flags.DEFINE_integer("repeats", 2, "Alternating naive/ours measurements; best kept.")
_PROFILE = flags.DEFINE_bool("profile", False, "Also print where one run's CPU time goes.")
_TESTS_PER_PROGRAM = 20
_PR_SET_CHILD_SUBREAPER = 36

_PYTHON_PROGRAMS = {
  "sum": (
    "n = int(input())\nprint(sum(map(int, input().split())))\n",
    lambda n: (f"{n}\n{' '.join(map(str, range(n)))}\n", str(n * (n - 1) // 2)),
  ),
  "sort": (
    "input()\nprint(*sorted(map(int, input().split())))\n",
    lambda n: (
      f"{n}\n{' '.join(str((i * 7919) % 101) for i in range(n))}\n",
      " ".join(map(str, sorted((i * 7919) % 101 for i in range(n)))),
    ),
  ),
  "fib": (
    "n = int(input())\na, b = 0, 1\nfor _ in range(n):\n    a, b = b, a + b\nprint(a)\n",
    lambda n: (f"{n}\n", str(_fib(n))),
  ),
  "reverse": ("print(input()[::-1])\n", lambda n: ("ab" * n + "\n", ("ab" * n)[::-1])),
}
_CPP_PROGRAMS = {
  "sum": (
    '#include <cstdio>\nint main(){long long n,x,s=0;scanf("%lld",&n);'
    'for(long long i=0;i<n;i++){scanf("%lld",&x);s+=x;}printf("%lld\\n",s);}\n'
  ),
  "sort": (
    "#include <bits/stdc++.h>\nint main(){int n;std::cin>>n;std::vector<int> v(n);"
    "for(auto&x:v)std::cin>>x;std::sort(v.begin(),v.end());"
    "for(int i=0;i<n;i++)std::cout<<v[i]<<(i+1<n?' ':'\\n');}\n"
  ),
  "fib": (
    '#include <cstdio>\nint main(){int n;scanf("%d",&n);unsigned long long a=0,b=1;'
    'for(int i=0;i<n;i++){unsigned long long t=a+b;a=b;b=t;}printf("%llu\\n",a);}\n'
  ),
  "reverse": (
    "#include <bits/stdc++.h>\nint main(){std::string s;std::cin>>s;"
    'std::reverse(s.begin(),s.end());std::cout<<s<<"\\n";}\n'
  ),
}


def _fib(n: int) -> int:
  a, b = 0, 1
  for _ in range(n):
    a, b = b, a + b
  return a


def corpus(lang: str) -> list[judge.Submission]:
  """Every program with its 20 tests, ``--copies`` times (fib stays within 64 bits)."""
  submissions = []
  for name, (python_source, make_test) in _PYTHON_PROGRAMS.items():
    tests = [judge.TestCase(*make_test(n + 1)) for n in range(_TESTS_PER_PROGRAM)]
    source = python_source if lang == "python" else _CPP_PROGRAMS[name]
    submissions += [
      judge.Submission(source, tests, lang=lang, time_limit_s=5) for _ in range(_COPIES.value)
    ]
  return submissions


def _reap_orphans() -> None:
  """Reaps the sandboxes' pid 1s this process adopted (call only when no subprocess runs)."""
  while True:
    try:
      if os.waitpid(-1, os.WNOHANG)[0] == 0:
        return
    except ChildProcessError:
      return


def _cpu_s() -> float:
  """CPU seconds of this process and of every process below it, reaped or alive (pool
  workers, the judge's zygotes and their sandboxes).

  Reaped processes count to the nanosecond (getrusage); a live one's own time too
  (/proc/PID/task/*/schedstat), but what it reaped only in whole clock ticks: read this
  when the processes alive are idle workers that have reaped nothing yet (after warm-up),
  or when none is (after the pool or the Judge is closed).
  """
  _reap_orphans()
  own, children = (
    resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
  )
  alive = sum(_own_cpu_s(pid) + _reaped_cpu_s(pid) for pid in sandbox.descendants(os.getpid()))
  return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + alive


def _own_cpu_s(pid: int) -> float:
  total = 0
  try:
    for task in os.listdir(f"/proc/{pid}/task"):
      total += int(read_proc(f"/proc/{pid}/task/{task}/schedstat").split()[0])
  except OSError:
    pass
  return total / 1e9


def _reaped_cpu_s(pid: int) -> float:
  try:
    fields = read_proc(f"/proc/{pid}/stat").rsplit(b")", 1)[1].split()
  except OSError:
    return 0.0
  return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def _naive_submission(submission: judge.Submission) -> int:
  """One naive worker's job: a fresh process per test, no isolation; returns its runs."""
  exact = checkers.get("exact")
  with tempfile.TemporaryDirectory() as workdir:
    if submission.lang == "python":
      path = os.path.join(workdir, "solution.py")
      with open(path, "w") as source_file:
        source_file.write(submission.source)
      command = [judge.SandboxConfig().python, path]
    else:  # compiled once per submission, with the judge's compile command
      cpp = languages.get("cpp")
      with open(os.path.join(workdir, cpp.source_name), "w") as source_file:
        source_file.write(submission.source)
      subprocess.run(cpp.compile, check=True, cwd=workdir)
      command = [os.path.join(workdir, "solution")]
    for test in submission.tests:
      done = subprocess.run(
        command,
        input=test.input,
        capture_output=True,
        text=True,
        timeout=submission.time_limit_s,
      )
      assert done.returncode == 0 and exact(done.stdout, test.output), (command, done)
  return len(submission.tests)


def naive(submissions: list[judge.Submission], workers: int) -> dict:
  """The naive judge with ``workers`` processes (started before the clock starts)."""
  with concurrent.futures.ProcessPoolExecutor(workers) as pool:
    list(pool.map(worker_pid, range(workers)))  # every worker up
    cpu, started = _cpu_s(), time.perf_counter()
    runs = sum(pool.map(_naive_submission, submissions))
    elapsed = time.perf_counter() - started
  return {"runs_per_s": runs / elapsed, "cpu_ms_per_run": 1e3 * (_cpu_s() - cpu) / runs}


def judged(submissions: list[judge.Submission], cache_bytes: int = 256 << 20, **options) -> dict:
  """Runs through the judge, starting with an empty compile cache (``cache_bytes=0``: none);
  every run must be accepted."""
  engine = judge.Judge(compile_cache=CompileCache(max_bytes=cache_bytes), **options)
  engine.warm_up()  # every worker up, as the naive pool's are
  cpu, started = _cpu_s(), time.perf_counter()
  results = engine.run(submissions)
  elapsed = time.perf_counter() - started
  engine.close()
  rejected = [v for r in results for v in r.verdicts if not v.accepted]
  assert not rejected, rejected[:3]
  runs = sum(len(r.verdicts) for r in results)
  return {"runs_per_s": runs / elapsed, "cpu_ms_per_run": 1e3 * (_cpu_s() - cpu) / runs}


def served(submissions: list[judge.Submission], workers: int) -> dict:
  """Runs through a `launch.judge_serve` process with the same workers, sent over HTTP by
  the remote judge (`judge.backend=remote`): what the service's hop costs. Its CPU is not
  counted (the server is reaped after the clock stops), so only runs/s compare."""
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
  command = [sys.executable, "-m", "launch.judge_serve", f"--port={port}", f"--workers={workers}"]
  server = subprocess.Popen(
    command, cwd=_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
  )
  try:
    deadline = time.monotonic() + 60
    while True:  # up once it answers (its workers are warmed before it listens)
      try:
        remote = RemoteJudge([f"http://127.0.0.1:{port}"], attempts=1)
        break
      except ValueError:
        if time.monotonic() > deadline:
          raise
        time.sleep(0.2)
    started = time.perf_counter()
    results = remote.run(submissions)
    elapsed = time.perf_counter() - started
  finally:
    server.terminate()
    server.wait(timeout=30)
  assert all(r.accepted for r in results)
  return {"runs_per_s": sum(len(r.verdicts) for r in results) / elapsed}


def _best(measurements: list[dict]) -> dict:
  """The fastest repeat's throughput and the median CPU cost per run."""
  return {
    "runs_per_s": max(m["runs_per_s"] for m in measurements),
    "cpu_ms_per_run": statistics.median(m["cpu_ms_per_run"] for m in measurements),
  }


def measure(lang: str) -> dict:
  submissions = corpus(lang)
  workers, cores = judge.Judge().workers, os.cpu_count() or 1
  naive_runs, ours_runs = [], []
  for _ in range(_REPEATS.value):  # alternating, so that both see the same load
    naive_runs.append(naive(submissions, workers))
    ours_runs.append(judged(submissions))
  numbers = {}
  for name, measurement in (("naive", _best(naive_runs)), ("ours", _best(ours_runs))):
    numbers[f"{name}_runs_per_s"] = measurement["runs_per_s"]
    numbers[f"{name}_runs_per_s_per_core"] = measurement["runs_per_s"] / cores
    numbers[f"{name}_cpu_ms_per_run"] = measurement["cpu_ms_per_run"]
    numbers[f"{name}_runs_per_cpu_s"] = 1e3 / measurement["cpu_ms_per_run"]
  numbers["ours_1_worker_runs_per_s"] = judged(submissions, workers=1)["runs_per_s"]
  numbers["service_runs_per_s"] = served(submissions, workers)["runs_per_s"]
  if lang == "python":
    numbers["no_prefork_runs_per_s"] = judged(submissions, prefork=False)["runs_per_s"]
  else:  # every copy compiled again, as the naive judge does
    uncached = judged(submissions, cache_bytes=0)
    numbers["ours_no_cache_runs_per_s"] = uncached["runs_per_s"]
    numbers["ours_no_cache_cpu_ms_per_run"] = uncached["cpu_ms_per_run"]
  numbers = {key: round(value, 2) for key, value in numbers.items()}
  numbers["ratio"] = round(numbers["ours_runs_per_s"] / numbers["naive_runs_per_s"], 2)
  numbers["service_ratio"] = round(numbers["service_runs_per_s"] / numbers["ours_runs_per_s"], 2)
  numbers["cpu_ratio"] = round(numbers["naive_cpu_ms_per_run"] / numbers["ours_cpu_ms_per_run"], 2)
  numbers.update(runs=len(submissions) * _TESTS_PER_PROGRAM, workers=workers, cores=cores)
  return numbers


# Run inside a sandbox: CPU ms of one fork + exit of an idle interpreter (both sides), and of
# making and closing the stdin memfd and three pipes the fork server makes per run.
_IN_SANDBOX_FORK_AND_PIPES = """
import os, resource, time
n = 200
own = time.process_time()
for _ in range(n):
  pid = os.fork()
  if pid == 0:
    os._exit(0)
  os.waitpid(pid, 0)
own = time.process_time() - own
child = resource.getrusage(resource.RUSAGE_CHILDREN)
started = time.process_time()
for _ in range(n):
  fds = [os.memfd_create("stdin")] + [fd for _ in range(3) for fd in os.pipe()]
  for fd in fds:
    os.close(fd)
pipes = time.process_time() - started
print(1e3 * (own + child.ru_utime + child.ru_stime) / n, 1e3 * pipes / n)
"""


def _cpu_ms_each(function, count: int) -> float:
  cpu = _cpu_s()
  for _ in range(count):
    function()
  return 1e3 * (_cpu_s() - cpu) / count


def profile() -> dict:
  """Where one run's CPU time goes: one worker, one at a time, CPU ms per step."""
  config, limits = judge.SandboxConfig(), RunLimits()
  uid = judge.Judge(config, workers=1).worker_uids()[0]
  bwrap = sandbox.bwrap_command(config, sandbox.compiled_harness_dir(config.python))
  [submission] = [s for s in corpus("python") if s.source == _PYTHON_PROGRAMS["reverse"][0]][:1]
  test = submission.tests[0]
  with tempfile.NamedTemporaryFile("w", suffix=".py") as source_file:
    source_file.write(submission.source)
    source_file.flush()
    naive_ms = _cpu_ms_each(
      lambda: subprocess.run(
        [config.python, source_file.name], input=test.input, capture_output=True, text=True
      ),
      40,
    )
  bwrap_ms = _cpu_ms_each(lambda: subprocess.run(bwrap + ["/bin/true"]), 40)
  python_ms = _cpu_ms_each(
    lambda: subprocess.run(bwrap + [config.python, *sandbox.INTERPRETER_FLAGS, "-c", ""]), 40
  )

  def zygote_up_and_down():
    zygote = Zygote(config, uid)
    zygote.start()
    zygote.close()

  zygote_ms = _cpu_ms_each(zygote_up_and_down, 20)
  warm = Zygote(config, uid)
  warm.start()

  def spawn_setup_close():
    with warm.spawn() as box:
      box.request({"op": "setup", "lang": "python", "source": submission.source}, 30.0)

  spawn_ms = _cpu_ms_each(spawn_setup_close, 40)
  runner = SubmissionRunner(warm, limits)
  many = judge.Submission(submission.source, [test] * 200)
  cpu, own, started = _cpu_s(), time.process_time(), time.perf_counter()
  result = runner.judge(many)
  wall_ms = 1e3 * (time.perf_counter() - started) / 200
  judge_ms = 1e3 * (time.process_time() - own) / 200
  run_ms = 1e3 * (_cpu_s() - cpu) / 200 - spawn_ms / 200
  warm.close()
  child_ms = 1e3 * statistics.mean(v.cpu_s for v in result.verdicts)
  own_wall_ms = 1e3 * statistics.mean(v.time_s for v in result.verdicts)
  request = {"op": "run", "mode": "stdio", "limits": limits.for_run(5, 256), "input": b"x" * 64}
  answer = protocol._to_json({"stdout": b"x" * 64, "stderr": b"", "wall_s": 0.001}).encode()
  started = time.perf_counter()
  for _ in range(1000):
    marshal.dumps(request)
    json.loads(answer)
  codec_ms = time.perf_counter() - started  # per 1000 -> ms per run
  done = subprocess.run(
    bwrap + [config.python, *sandbox.INTERPRETER_FLAGS, "-c", _IN_SANDBOX_FORK_AND_PIPES],
    capture_output=True,
    text=True,
    check=True,
  )
  fork_ms, pipes_ms = map(float, done.stdout.split())
  # (label, CPU ms, what it is paid for: "start" once per sandbox, "run" once per test)
  rows = [
    ("naive: python3 solution.py, fresh process", naive_ms, None),
    ("worker start: bubblewrap (namespaces, mounts)", bwrap_ms, None),
    ("worker start: Python start-up inside", python_ms - bwrap_ms, None),
    ("worker start: harness import, zygote up and down", zygote_ms - python_ms, None),
    ("per solution: sandbox forked, namespaces, mounts, setup", spawn_ms, "start"),
    ("per run: fork server + forked run (the sandbox's tree, from the host)", child_ms, "run"),
    ("per run: the rest (other processes, e.g. the zygote)", run_ms - judge_ms - child_ms, "run"),
    ("per run: judge process (request, decode, compare)", judge_ms, "run"),
    ("  of which fork + exit of an idle interpreter (in sandbox)", fork_ms, None),
    ("  of which memfd + 3 pipes, made and closed (in sandbox)", pipes_ms, None),
    ("  of which request/answer encoding (judge)", codec_ms, None),
  ]
  per_run = {
    label: ms / (_TESTS_PER_PROGRAM if paid == "start" else 1) for label, ms, paid in rows if paid
  }
  total = sum(per_run.values())
  print(
    f"\nWhere a run's CPU goes (ms; submissions of {_TESTS_PER_PROGRAM} tests, 1 worker; a"
    " worker starts once per Judge, so its start is not in the total)"
  )
  for label, ms, _ in rows:
    share = f"{per_run[label] / total:8.1%}" if label in per_run else ""
    print(f"{label:<60}{ms:8.2f}{share}")
  print(f"{'total per run (sandbox start spread over its tests)':<60}{total:8.2f}")
  print(f"per run wall: {wall_ms:.2f} ms round trip, {own_wall_ms:.2f} ms of it the run itself")
  return {
    "profile_cpu_ms": {
      "naive_run": round(naive_ms, 2),
      "worker_bwrap_start": round(bwrap_ms, 2),
      "worker_python_startup": round(python_ms - bwrap_ms, 2),
      "worker_zygote_start": round(zygote_ms - python_ms, 2),
      "sandbox_per_solution": round(spawn_ms, 2),
      "sandbox_per_run": round(child_ms, 2),
      "rest_per_run": round(run_ms - judge_ms - child_ms, 2),
      "judge_process": round(judge_ms, 2),
      "encoding": round(codec_ms, 3),
      "bare_fork_and_exit": round(fork_ms, 3),
      "pipes": round(pipes_ms, 3),
      "total_per_run": round(total, 2),
    }
  }


def main(argv: list[str]) -> None:
  del argv
  # Orphaned sandbox pid 1s come here (not to the host's init), so their CPU time is counted.
  ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
  print(f"load average before: {os.getloadavg()}")
  python, cpp = measure("python"), measure("cpp")
  rows = [
    (f"naive: pool of {python['workers']} processes, subprocess.run per test", "naive_runs_per_s"),
    ("judge, a fresh sandbox per test (no prefork)", "no_prefork_runs_per_s"),
    ("judge, prefork, 1 worker", "ours_1_worker_runs_per_s"),
    (f"judge, prefork, {python['workers']} workers (ours)", "ours_runs_per_s"),
    ("judge, prefork, without the compile cache", "ours_no_cache_runs_per_s"),
    ("the same judge as a service (launch.judge_serve, over HTTP)", "service_runs_per_s"),
    ("ratio ours / naive (runs/s)", "ratio"),
    ("ratio service / in-process (runs/s)", "service_ratio"),
    (f"naive runs/s per core ({python['cores']} cores)", "naive_runs_per_s_per_core"),
    ("ours runs/s per core", "ours_runs_per_s_per_core"),
    ("naive CPU ms per run (all processes)", "naive_cpu_ms_per_run"),
    ("ours CPU ms per run (all processes)", "ours_cpu_ms_per_run"),
    ("ours without the compile cache, CPU ms per run", "ours_no_cache_cpu_ms_per_run"),
    ("naive runs per CPU-second", "naive_runs_per_cpu_s"),
    ("ours runs per CPU-second", "ours_runs_per_cpu_s"),
    ("ratio ours / naive (runs per CPU-second)", "cpu_ratio"),
  ]
  print(f"{'':<60}{'python':>10}{'c++':>10}")
  for label, key in rows:
    print(f"{label:<60}{python.get(key, '-'):>10}{cpp.get(key, '-'):>10}")
  extra = profile() if _PROFILE.value else {}
  load = [round(x, 1) for x in os.getloadavg()]
  # JAX and torch only now: a bigger judge process would make every sandbox start dearer.
  from benchmarks.common import matmul_peak_flops

  peak_gflops = round(matmul_peak_flops()["peak"] / 1e9, 1)
  print(f"load average after: {load}; {cpu_model()}, fp32 GEMM peak {peak_gflops} GFLOP/s")
  print(
    json.dumps(
      {
        "benchmark": "judge_throughput",
        **python,
        "cpp": cpp,
        **extra,
        "load": load,
        "cpu": cpu_model(),
        "peak_gflops": peak_gflops,
      }
    )
  )


if __name__ == "__main__":
  app.run(main)
