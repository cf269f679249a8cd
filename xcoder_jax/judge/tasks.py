"""From a task's tests to judge submissions: one rule shared by SynthSmith and RL.

A task test is the record SynthSmith writes into its RL shards (``data_pipeline/outputs.py``
``rl_record``): ``{"input": str, "output": str}``, read according to the task's ``kind``:

- ``stdio``: ``input`` is the program's stdin, ``output`` its expected stdout (compared
  after stripping surrounding whitespace, the ``exact`` checker).
- ``leetcode`` (``Solution().fn_name(*args)``) and ``function`` (``fn_name(*args)``):
  ``input`` is a JSON list of arguments, ``output`` the JSON of the return value (the
  canonical JSON capture mode produces), compared as values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from xcoder_jax.judge.types import Submission, SubmissionResult, TestCase, TestKind

TASK_KINDS = (TestKind.STDIO.value, TestKind.LEETCODE.value, TestKind.FUNCTION.value)


def _check_kind(kind: str, fn_name: str | None) -> bool:
  """Whether ``kind`` is a call kind; refuses unknown kinds and call kinds without a name."""
  if kind not in TASK_KINDS:
    raise ValueError(f"task kind must be one of {', '.join(TASK_KINDS)}, got {kind!r}")
  is_call = kind != TestKind.STDIO.value
  if is_call and not fn_name:
    raise ValueError(f"{kind} tasks need fn_name (the entry point to call)")
  return is_call


def _arguments(text: Any, where: str) -> list:
  if not isinstance(text, str):
    raise ValueError(f"{where}: must be a string holding a JSON list, got {type(text).__name__}")
  try:
    args = json.loads(text)
  except json.JSONDecodeError as error:
    raise ValueError(f"{where}: not JSON ({error}): {text[:80]!r}") from None
  if not isinstance(args, list):
    raise ValueError(f"{where}: call-style input must be a JSON list of arguments: {text[:80]!r}")
  return args


def test_case(test: Any, kind: str = "stdio", where: str = "task test") -> TestCase:
  """One task test record as a judge TestCase (expected values stay on the judge's side);
  a ValueError names ``where`` and the field that is missing or malformed."""
  if not isinstance(test, Mapping):
    raise ValueError(f"{where}: expected an object with 'input' and 'output', got {test!r:.80}")
  for field in ("input", "output"):
    if field not in test:
      raise ValueError(f"{where}: field {field!r} is missing")
    if not isinstance(test[field], str):
      raise ValueError(
        f"{where}: field {field!r} must be a string, not {type(test[field]).__name__}"
      )
  if kind == TestKind.STDIO.value:
    return TestCase(input=test["input"], output=test["output"])
  try:
    expected = json.loads(test["output"])
  except json.JSONDecodeError as error:
    raise ValueError(f"{where}: field 'output' is not JSON ({error})") from None
  return TestCase(args=_arguments(test["input"], f"{where}: field 'input'"), expected=expected)


def graded_submission(
  code: str,
  tests: Sequence[Mapping[str, str]],
  kind: str = "stdio",
  fn_name: str | None = None,
  time_limit_s: float = 10.0,
  memory_mb: int = 256,
  lang: str = "python",
) -> Submission:
  """``code`` judged on task tests (every test runs: the pass fraction is the RL reward)."""
  _check_kind(kind, fn_name)
  if not tests:
    raise ValueError("a task needs at least one test to grade against")
  return Submission(
    code,
    tests=[test_case(test, kind, f"test {number}") for number, test in enumerate(tests, 1)],
    kind=kind,
    fn_name=fn_name,
    time_limit_s=time_limit_s,
    memory_mb=memory_mb,
    lang=lang,
  )


def capture_submission(
  code: str,
  inputs: Sequence[str],
  kind: str = "stdio",
  fn_name: str | None = None,
  time_limit_s: float = 5.0,
  memory_mb: int = 256,
  lang: str = "python",
) -> Submission:
  """``code`` run on test inputs in capture mode (full outputs, nothing compared): how
  SynthSmith labels tests by voting. Call-style inputs are JSON argument lists."""
  if _check_kind(kind, fn_name):
    tests = [TestCase(args=_arguments(text, f"input {n}")) for n, text in enumerate(inputs, 1)]
  else:
    tests = [TestCase(input=text) for text in inputs]  # checked by the judge (check_tests)
  return Submission(
    code,
    tests=tests,
    kind=kind,
    fn_name=fn_name,
    time_limit_s=time_limit_s,
    memory_mb=memory_mb,
    capture_output=True,
    lang=lang,
  )


def outputs(result: SubmissionResult) -> list[str | None]:
  """Each captured run's output, or None when it did not complete (crash, limit, compile
  error)."""
  found = [v.output if v.accepted else None for v in result.verdicts]
  return found + [None] * (result.num_tests - len(found))
