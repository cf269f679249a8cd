"""Judge one program against a TESTS.jsonl file; prints one JSON verdict per test.

    python -m xcoder_jax.judge --lang python --source sol.py --tests tests.jsonl
    python -m xcoder_jax.judge --languages   # the languages and their toolchains

TESTS.jsonl lines (one JSON object each, all of one kind): {"input": str, "output": str}
(stdin/stdout; "output" required), {"fn_name": str, "args": [...], "expected": any}
(function calls; --kind leetcode for class Solution), or {"fn_name": str, "check": "def
check(candidate): ..."} (HumanEval). Exits 0 whenever the judge itself worked, whatever the
verdicts; 2 on bad input (the message names the file, line and field), 3 when the judge
failed.
"""

import json
import sys

from absl import app, flags

from xcoder_jax.judge import checkers, languages
from xcoder_jax.judge.pool import Judge
from xcoder_jax.judge.runner import RunLimits
from xcoder_jax.judge.sandbox import JudgeError, SandboxConfig
from xcoder_jax.judge.types import Outcome, SpecialJudge, Submission, TestCase, TestKind

_LANG = flags.DEFINE_string(
  "lang",
  "python",
  f"Language of --source: {', '.join(languages.names())} (or an alias; the table and "
  "toolchain versions: --languages).",
)
_SOURCE = flags.DEFINE_string("source", None, "Path of the program to judge (required).")
_TESTS = flags.DEFINE_string("tests", None, "Path of the TESTS.jsonl file (required).")
_LANGUAGES = flags.DEFINE_bool(
  "languages", False, "Print the language table with each toolchain's version, then exit."
)
_KIND = flags.DEFINE_enum(
  "kind",
  None,
  [kind.value for kind in TestKind],
  "How tests call the program; default: stdio, or function when the "
  "tests carry args, or check when they carry a check program.",
)
_FN_NAME = flags.DEFINE_string(
  "fn-name", None, "Entry point for call-style tests (default: the tests' fn_name field)."
)
_TIME_LIMIT = flags.DEFINE_float("time-limit", 10.0, "CPU seconds per test (wall: 2x + 1 s).")
_MEMORY_MB = flags.DEFINE_integer(
  "memory-mb",
  256,
  "Memory limit per test, MiB (address space, or resident memory for the "
  "runtimes that reserve more than they use: see xcoder_jax/judge/languages.py).",
)
_CHECKER = flags.DEFINE_string(
  "checker", "exact", f"Output checker: {', '.join(checkers.available())}."
)
_SPECIAL_JUDGE = flags.DEFINE_string(
  "special-judge",
  None,
  "Path of a Python checker program run as `checker input.txt output.txt answer.txt`.",
)
_EARLY_EXIT = flags.DEFINE_bool("early-exit", False, "Stop at the first failed test.")
_PYTHON = flags.DEFINE_string(
  "python", SandboxConfig.python, "Interpreter used inside the sandbox."
)
_TOOLCHAIN = flags.DEFINE_multi_string(
  "toolchain",
  [],
  "LANG=PATH: use PATH as the language's main tool (its compiler or runtime), e.g. "
  "cpp=/usr/bin/g++-13; repeatable.",
)
_UNSAFE = flags.DEFINE_bool(
  "unsafe-no-sandbox", False, "DANGEROUS: run the program with NO isolation (trusted code only)."
)


def _load_tests(path: str, kind: str | None) -> tuple[list[TestCase], str | None, str]:
  """The tests, the entry point they name, and their kind (``kind``, or what the first
  record implies); every record is checked against its kind's fields, naming the line."""
  tests, fn_name = [], None
  with open(path) as lines:
    for number, line in enumerate(lines, 1):
      if not line.strip():
        continue
      where = f"{path}:{number}"
      try:
        record = json.loads(line)
      except json.JSONDecodeError as error:
        raise ValueError(f"{where}: not JSON ({error}); write one JSON object per line") from None
      kind = kind or TestCase.record_kind(record).value
      tests.append(TestCase.from_json(record, kind, where))
      named = record.get("fn_name", fn_name)
      if fn_name is not None and named != fn_name:
        raise ValueError(f"{where}: field 'fn_name' is {named!r}, earlier lines say {fn_name!r}")
      fn_name = named
  if not tests:
    raise ValueError(f"{path}: no tests (one JSON object per line, see --help)")
  return tests, fn_name, kind


def _toolchains(values: list[str]) -> tuple[tuple[str, str], ...]:
  pairs = []
  for value in values:
    name, equals, path = value.partition("=")
    if not equals or not path:
      raise ValueError(f"--toolchain={value}: write LANG=PATH, e.g. cpp=/usr/bin/g++-13")
    pairs.append((languages.get(name).name, path))
  return tuple(pairs)


def main(argv: list[str]) -> int:
  del argv
  if _LANGUAGES.value:
    print(languages.describe())
    return 0
  try:
    if not _SOURCE.value or not _TESTS.value:
      raise ValueError("--source and --tests are required (or --languages)")
    tests, fn_name, kind = _load_tests(_TESTS.value, _KIND.value)
    with open(_SOURCE.value) as source_file:
      source = source_file.read()
    checker = _CHECKER.value
    if _SPECIAL_JUDGE.value:
      with open(_SPECIAL_JUDGE.value) as checker_file:
        checker = SpecialJudge(checker_file.read())
    submission = Submission(
      source=source,
      tests=tests,
      lang=_LANG.value,
      kind=kind,
      fn_name=_FN_NAME.value or fn_name,
      time_limit_s=_TIME_LIMIT.value,
      memory_mb=_MEMORY_MB.value,
      checker=checker,
      early_exit=_EARLY_EXIT.value,
    )
    config = SandboxConfig(
      python=_PYTHON.value,
      toolchains=_toolchains(_TOOLCHAIN.value),
      unsafe_no_sandbox=_UNSAFE.value,
    )
    if _UNSAFE.value:
      print("WARNING: --unsafe-no-sandbox: the program runs WITHOUT isolation", file=sys.stderr)
    with Judge(config, RunLimits(), workers=1) as judge:
      result = judge.run([submission])[0]
  except (OSError, ValueError) as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  except JudgeError as error:
    print(f"judge error: {error}", file=sys.stderr)
    return 3
  for verdict in result.verdicts:
    print(json.dumps(verdict.to_json()))
  return 3 if any(v.verdict == Outcome.JUDGE_ERROR for v in result.verdicts) else 0


if __name__ == "__main__":
  app.run(main)
