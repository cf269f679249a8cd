"""Every language in the judge's table gives every verdict, in the sandbox, with its real
toolchain (installed by `make install`). One compile per language covers the run verdicts
(tests/judge/language_programs.py)."""

import dataclasses

import pytest

from tests.judge.language_programs import BROKEN_PROGRAMS, VERDICT_PROGRAMS
from xcoder_jax import judge
from xcoder_jax.judge import languages

T = judge.TestCase
pytestmark = pytest.mark.slow

RUN_TESTS = [T("double 21\n", "42\n"), T("double 4\n", "9\n"), T("crash\n", ""), T("hog\n", "")]
RUN_OUTCOMES = ["accepted", "wrong_answer", "runtime_error", "memory_limit"]


@pytest.fixture(scope="module")
def engine():
  with judge.Judge(workers=2) as engine:
    yield engine


def outcomes(result):
  return [verdict.verdict.value for verdict in result.verdicts]


def test_the_table_covers_multipl_e_and_go_and_rust():
  assert languages.names() == [
    "python",
    "cpp",
    "java",
    "javascript",
    "typescript",
    "php",
    "csharp",
    "bash",
    "go",
    "rust",
  ]
  assert set(VERDICT_PROGRAMS) == set(BROKEN_PROGRAMS) == set(languages.names())
  # SandboxFusion's names are aliases
  for name in ("nodejs", "go", "rust", "csharp", "typescript", "php", "bash", "java", "cpp"):
    languages.get(name)


def test_every_language_gives_every_verdict(engine):
  names = languages.names()
  batch = []
  for name in names:
    batch.append(judge.Submission(VERDICT_PROGRAMS[name], RUN_TESTS, lang=name, time_limit_s=5))
    batch.append(
      judge.Submission(VERDICT_PROGRAMS[name], [T("spin\n", "")], lang=name, time_limit_s=0.5)
    )
    if BROKEN_PROGRAMS[name] is not None:
      batch.append(judge.Submission(BROKEN_PROGRAMS[name], [T("", "")], lang=name))
  results = iter(engine.run(batch))
  got, want = {}, {}
  for name in names:
    runs, spin = next(results), next(results)
    got[name] = outcomes(runs) + outcomes(spin)
    want[name] = RUN_OUTCOMES + ["time_limit"]
    if BROKEN_PROGRAMS[name] is not None:
      got[name] += outcomes(next(results))
      want[name] += ["compile_error"]
  assert got == want


def test_sources_in_the_wrong_language_and_java_class_names(engine):
  python_double = "print(2 * int(input().split()[1]))\n"
  non_public_main = VERDICT_PROGRAMS["java"].replace("public class Main", "class Problem")
  renamed = VERDICT_PROGRAMS["java"].replace("public class Main", "public class Solution")
  doubles = [T("double 5\n", "10\n")]
  results = engine.run(
    [
      judge.Submission(python_double, doubles, lang="java"),
      judge.Submission(python_double, doubles, lang="cpp"),
      judge.Submission(python_double, doubles, lang="javascript"),
      judge.Submission(non_public_main, doubles, lang="java"),
      judge.Submission(renamed, doubles, lang="java"),
    ]
  )
  assert [outcomes(r) for r in results] == [
    ["compile_error"],
    ["compile_error"],
    ["runtime_error"],  # no compile step: a syntax error shows when it runs
    ["accepted"],
    ["accepted"],
  ]


def test_a_missing_toolchain_names_the_package_that_provides_it():
  go = dataclasses.replace(languages.get("go"), toolchain=("/nonexistent/go",))
  with pytest.raises(
    judge.ToolchainMissing, match="^go: /nonexistent/go not found; install Debian's golang-go"
  ):
    languages.check_toolchain(go)
  typescript = dataclasses.replace(languages.get("typescript"), pinned_paths=("/nonexistent/t",))
  with pytest.raises(
    judge.ToolchainMissing, match="^typescript: /nonexistent/t not found; run npm ci"
  ):
    languages.check_toolchain(typescript)


def test_the_exit_status_decides_and_failed_csharp_asserts_count(engine):
  csharp_assert = (
    "using System.Diagnostics;\nclass P {{ static void Main() {{ Debug.Assert({} == 2);"
    ' System.Console.WriteLine("printed"); }} }}\n'
  )
  bash = "echo {}; exit {}\n"
  results = engine.run(
    [
      judge.Submission(csharp_assert.format(2), [T("", "")], lang="csharp", checker="exit_status"),
      judge.Submission(csharp_assert.format(1), [T("", "")], lang="csharp", checker="exit_status"),
      judge.Submission(bash.format("anything", 0), [T("", "")], lang="bash", checker="exit_status"),
      judge.Submission(bash.format("anything", 1), [T("", "")], lang="bash", checker="exit_status"),
    ]
  )
  assert [outcomes(r) for r in results] == [
    ["accepted"],
    ["runtime_error"],  # mono printed the failed assert and exited 0
    ["accepted"],
    ["runtime_error"],
  ]
