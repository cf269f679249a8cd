"""Judge throughput per language: runs per second, ours vs a naive same-cores baseline, and
the judge's overhead per run over running the compiled program directly.

For every language in the judge's table (xcoder_jax/judge/languages.py), the corpus is
``--programs`` distinct A+B programs (a comment tells them apart), each submitted
``--copies`` times with 20 tests:
  naive   a process pool (as many processes as the judge has workers) that, per submission,
          compiles with the table's own command in a temp directory, then `subprocess.run`s
          the table's run command per test: no sandbox, no limits, no cache;
  ours    the judge's default pool (sandboxes, limits, the compile cache, started before the
          clock as the naive pool's processes are).
Overhead per run (negative: the judge starts the program faster than a fresh process does,
as for Python, forked from a warm interpreter): the judge's per-test wall time (a verdict's ``time_s``: request sent to
answer read, outside the sandbox) minus the same program's direct `subprocess.run` wall time,
medians over one submission's tests run three times each way, alternating, after both
have run it once. Also the compile cache's
hit rate over the corpus. Last, the judge's I/O path: a C++ sort of 200,000 integers (2 MB in,
2 MB out), judged vs run directly.

    .venv/bin/python benchmarks/judge_languages.py [--programs 4] [--copies 3] [--languages=cpp,java]

Prints a table, then ONE JSON line.
"""

import concurrent.futures
import json
import os
import random
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
from xcoder_jax.judge import languages  # noqa: E402
from xcoder_jax.judge.compile_cache import CompileCache  # noqa: E402
from xcoder_jax.judge.pool import default_workers  # noqa: E402

_PROGRAMS = flags.DEFINE_integer("programs", 4, "Distinct programs per language.")
_COPIES = flags.DEFINE_integer("copies", 3, "Submissions of each program.")
_LANGUAGES = flags.DEFINE_list("languages", languages.names(), "Languages to measure.")
_TESTS = 20

A_PLUS_B = {
  "python": "# {n}\na, b = map(int, input().split())\nprint(a + b)\n",
  "cpp": '// {n}\n#include <cstdio>\nint main() {{ long long a, b; scanf("%lld %lld", &a, &b);'
  ' printf("%lld\\n", a + b); }}\n',
  "java": "// {n}\nimport java.util.*;\npublic class Main {{ public static void main(String[] x) {{"
  " Scanner s = new Scanner(System.in); System.out.println(s.nextLong() + s.nextLong()); }} }}\n",
  "javascript": "// {n}\nconst [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/)"
  ".map(BigInt);\nconsole.log(String(a + b));\n",
  "typescript": "// {n}\nimport * as fs from 'fs';\nconst [a, b]: bigint[] = fs.readFileSync(0, 'utf8')"
  ".trim().split(/\\s+/).map(BigInt);\nconsole.log(String(a + b));\n",
  "php": "<?php // {n}\n[$a, $b] = array_map('intval', explode(' ', trim(fgets(STDIN))));\n"
  'echo $a + $b, "\\n";\n',
  "csharp": "// {n}\nusing System;\nclass P {{ static void Main() {{ var w = Console.ReadLine()"
  ".Split(' '); Console.WriteLine(long.Parse(w[0]) + long.Parse(w[1])); }} }}\n",
  "bash": "# {n}\nread a b\necho $((a + b))\n",
  "go": '// {n}\npackage main\nimport "fmt"\nfunc main() {{ var a, b int64; fmt.Scan(&a, &b);'
  " fmt.Println(a + b) }}\n",
  "rust": "// {n}\nuse std::io::Read;\nfn main() {{ let mut s = String::new();"
  " std::io::stdin().read_to_string(&mut s).unwrap(); let v: Vec<i64> = s.split_whitespace()"
  '.map(|x| x.parse().unwrap()).collect(); println!("{{}}", v[0] + v[1]); }}\n',
}


def corpus(language: str) -> list[judge.Submission]:
  tests = [judge.TestCase(f"{i} {3 * i + 1}\n", f"{4 * i + 1}\n") for i in range(_TESTS)]
  return [
    judge.Submission(A_PLUS_B[language].format(n=n), tests, lang=language, time_limit_s=5)
    for n in range(_PROGRAMS.value)
    for _ in range(_COPIES.value)
  ]


def _direct(submission: judge.Submission) -> list[float]:
  """The naive job: compile in a temp dir with the table's command, run each test directly;
  returns each run's wall seconds."""
  row = languages.get(submission.lang)

  def fill(template):  # the table's command, with host paths for what the sandbox binds
    parts = row.fill(template, submission.source, submission.memory_mb)
    for host, inside in row.sandbox_paths:
      parts = [part.replace(inside, host) for part in parts]
    return parts

  with tempfile.TemporaryDirectory() as workdir:
    with open(os.path.join(workdir, row.file_name(submission.source)), "w") as source_file:
      source_file.write(submission.source)
    env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "LANG": "C.UTF-8", "TMPDIR": workdir}
    env.update(row.environment(submission.source, submission.memory_mb))
    if row.in_harness:
      command = [judge.SandboxConfig().python, row.source_name]
    else:
      if row.compile:
        subprocess.run(fill(row.compile), check=True, cwd=workdir, env=env, capture_output=True)
      command = fill(row.run) if row.run else [os.path.join(workdir, "solution")]
    walls = []
    for test in submission.tests:
      started = time.perf_counter()
      done = subprocess.run(
        command, input=test.input, capture_output=True, text=True, cwd=workdir, env=env
      )
      walls.append(time.perf_counter() - started)
      assert done.returncode == 0 and done.stdout.strip() == test.output.strip(), done
  return walls


def naive(submissions: list[judge.Submission], workers: int) -> float:
  with concurrent.futures.ProcessPoolExecutor(workers) as pool:
    list(pool.map(worker_pid, range(workers)))  # every worker up before the clock
    started = time.perf_counter()
    runs = sum(len(walls) for walls in pool.map(_direct, submissions))
    return runs / (time.perf_counter() - started)


def ours(submissions: list[judge.Submission]) -> tuple[float, float | None]:
  """(runs/s, compile cache hit rate or None without a compile step) through the judge's
  default pool."""
  cache = CompileCache()
  with judge.Judge(compile_cache=cache) as engine:
    engine.warm_up()
    started = time.perf_counter()
    results = engine.run(submissions)
    elapsed = time.perf_counter() - started
  rejected = [v for r in results for v in r.verdicts if not v.accepted]
  assert not rejected, rejected[:2]
  lookups = cache.hits + cache.misses
  return sum(len(r.verdicts) for r in results) / elapsed, cache.hits / lookups if lookups else None


def overhead_ms(submission: judge.Submission, rounds: int = 3) -> tuple[float, float]:
  """(median direct run ms, median judge overhead ms per run) on one submission, both warm,
  measured in alternating rounds so that the machine's drift hits both alike."""
  judged, direct = [], []
  with judge.Judge(workers=1) as engine:
    engine.run([submission])  # compiled and cached; the sandbox machinery warm
    _direct(submission)
    for _ in range(rounds):
      judged += [v.time_s for v in engine.run([submission])[0].verdicts]
      direct += _direct(submission)
  direct_ms = 1e3 * statistics.median(direct)
  return direct_ms, 1e3 * statistics.median(judged) - direct_ms


SORT_CPP = """#include <bits/stdc++.h>
int main() { int n; if (scanf("%d", &n) != 1) return 1; std::vector<int> a(n);
  for (auto& x : a) scanf("%d", &x);
  std::sort(a.begin(), a.end()); std::string out; char buf[16];
  for (int x : a) out.append(buf, snprintf(buf, 16, "%d\\n", x));
  fwrite(out.data(), 1, out.size(), stdout); }
"""


def io_heavy(count: int = 200_000) -> dict:
  """A C++ sort of ``count`` integers (about 2 MB in and 2 MB out: the judge's own I/O
  path, which a tiny A+B never exercises): direct and judged ms per run, medians."""
  rng = random.Random(0)
  numbers = [rng.randint(-(10**9), 10**9) for _ in range(count)]
  expected = "\n".join(map(str, sorted(numbers)))
  test = judge.TestCase(f"{count}\n{' '.join(map(str, numbers))}\n", expected)
  submission = judge.Submission(SORT_CPP, [test] * 3, lang="cpp", time_limit_s=10)
  direct_ms, extra_ms = overhead_ms(submission)
  return {
    "direct_ms_per_run": round(direct_ms, 1),
    "judged_ms_per_run": round(direct_ms + extra_ms, 1),
  }


def main(argv: list[str]) -> None:
  del argv
  workers = default_workers(os.cpu_count() or 1)
  print(f"load average before: {os.getloadavg()}; {cpu_model()}; {workers} workers each side")
  header = f"{'language':<11}{'naive runs/s':>14}{'ours runs/s':>13}{'ratio':>8}"
  header += f"{'direct ms/run':>15}{'overhead ms/run':>17}{'cache hits':>12}"
  print(header)
  rows = {}
  for language in _LANGUAGES.value:
    submissions = corpus(language)
    naive_rate = naive(submissions, workers)
    ours_rate, hit_rate = ours(submissions)
    direct_ms, extra_ms = overhead_ms(submissions[0])
    rows[language] = {
      "naive_runs_per_s": round(naive_rate, 1),
      "ours_runs_per_s": round(ours_rate, 1),
      "ratio": round(ours_rate / naive_rate, 2),
      "direct_ms_per_run": round(direct_ms, 2),
      "overhead_ms_per_run": round(extra_ms, 2),
      "cache_hit_rate": None if hit_rate is None else round(hit_rate, 3),
    }
    row = rows[language]
    print(
      f"{language:<11}{row['naive_runs_per_s']:>14}{row['ours_runs_per_s']:>13}{row['ratio']:>8}"
      f"{row['direct_ms_per_run']:>15}{row['overhead_ms_per_run']:>17}"
      f"{'-' if hit_rate is None else row['cache_hit_rate']:>12}"
    )
  io = io_heavy()
  print(
    f"2 MB in, 2 MB out (C++ sort of 200,000 integers): {io['direct_ms_per_run']} ms directly, "
    f"{io['judged_ms_per_run']} ms through the judge"
  )
  load = [round(x, 1) for x in os.getloadavg()]
  print(f"load average after: {load}")
  print(
    json.dumps(
      {
        "benchmark": "judge_languages",
        "languages": rows,
        "io": io,
        "load": load,
        "cpu": cpu_model(),
      }
    )
  )


if __name__ == "__main__":
  app.run(main)
