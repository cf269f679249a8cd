"""Judge throughput: runs per second on a fixed corpus of small accepted programs.

Compares, in the same process and on the same corpus (programs with 20 tests each):
  naive      one `subprocess.run` of a fresh interpreter (or the binary, compiled once per
             submission) per test, sequentially, no isolation, no limits;
  no-prefork the judge with full isolation but a fresh sandbox and interpreter per test;
  ours       the judge with full isolation: a warm interpreter per solution, a fork per test,
             its default pool (two workers per core), and for reference a single worker.
Prints a side-by-side table, then ONE JSON line (Python numbers at top level, C++ under "cpp").

    .venv/bin/python benchmarks/judge_throughput.py [--copies 3]
"""

import json
import os
import subprocess
import tempfile
import time

from absl import app, flags

from xcoder_jax import judge

_COPIES = flags.DEFINE_integer("copies", 3, "How many times each corpus program is submitted.")
_PYTHON = "/usr/bin/python3"
_TESTS_PER_PROGRAM = 20

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


def naive(submissions: list[judge.Submission]) -> float:
  """Runs per second of one fresh process per test, sequentially, without isolation."""
  with tempfile.TemporaryDirectory() as workdir:
    runs, started = 0, time.perf_counter()
    for submission in submissions:
      if submission.lang == "python":
        path = os.path.join(workdir, "solution.py")
        with open(path, "w") as source_file:
          source_file.write(submission.source)
        command = [_PYTHON, path]
      else:  # compiled once per submission, as the judge does
        binary = os.path.join(workdir, "solution")
        with open(binary + ".cpp", "w") as source_file:
          source_file.write(submission.source)
        subprocess.run(
          ["g++", "-O2", "-std=gnu++17", "-pipe", "-o", binary, binary + ".cpp"], check=True
        )
        command = [binary]
      for test in submission.tests:
        done = subprocess.run(command, input=test.input, capture_output=True, text=True, timeout=10)
        assert done.stdout.strip() == test.output.strip(), (command, done)
        runs += 1
    return runs / (time.perf_counter() - started)


def judged(submissions: list[judge.Submission], **options) -> float:
  """Runs per second through the judge; every run must be accepted."""
  engine = judge.Judge(**options)
  started = time.perf_counter()
  results = engine.run(submissions)
  elapsed = time.perf_counter() - started
  rejected = [v for r in results for v in r.verdicts if not v.accepted]
  assert not rejected, rejected[:3]
  return sum(len(r.verdicts) for r in results) / elapsed


def measure(lang: str) -> dict:
  submissions = corpus(lang)
  workers = judge.Judge().workers
  numbers = {
    "naive_runs_per_s": naive(submissions),
    "ours_runs_per_s": judged(submissions),
    "ours_1_worker_runs_per_s": judged(submissions, workers=1),
  }
  if lang == "python":
    numbers["no_prefork_runs_per_s"] = judged(submissions, prefork=False)
  numbers = {key: round(value, 1) for key, value in numbers.items()}
  numbers["ratio"] = round(numbers["ours_runs_per_s"] / numbers["naive_runs_per_s"], 2)
  numbers["runs"] = len(submissions) * _TESTS_PER_PROGRAM
  numbers["workers"] = workers
  return numbers


def main(argv: list[str]) -> None:
  del argv
  python, cpp = measure("python"), measure("cpp")
  rows = [
    ("naive (fresh process per test, no isolation, 1 loop)", "naive_runs_per_s"),
    ("judge, no prefork (fresh sandbox per test)", "no_prefork_runs_per_s"),
    ("judge, prefork, 1 worker", "ours_1_worker_runs_per_s"),
    (f"judge, prefork, {python['workers']} workers (ours)", "ours_runs_per_s"),
  ]
  print(f"{'runs/s':<56}{'python':>10}{'c++':>10}")
  for label, key in rows:
    print(f"{label:<56}{python.get(key, '-'):>10}{cpp.get(key, '-'):>10}")
  print(f"{'ratio ours / naive':<56}{python['ratio']:>10}{cpp['ratio']:>10}")
  print(json.dumps({**python, "cpp": cpp}))


if __name__ == "__main__":
  app.run(main)
