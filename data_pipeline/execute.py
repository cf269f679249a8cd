"""Running programs in the judge in capture mode (full outputs, nothing compared)."""

from __future__ import annotations

import json

from xcoder_jax import judge


def submission(
  code: str,
  inputs: list[str],
  kind: str = "stdio",
  fn_name: str | None = None,
  time_limit_s: float = 5.0,
  memory_mb: int = 256,
) -> judge.Submission:
  """Call-style (leetcode, function) inputs are JSON argument lists; stdio ones stdin text."""
  if kind in ("leetcode", "function"):
    tests = [judge.TestCase(args=json.loads(text)) for text in inputs]
  else:
    tests = [judge.TestCase(input=text) for text in inputs]
  return judge.Submission(
    code,
    tests=tests,
    kind=kind,
    fn_name=fn_name,
    time_limit_s=time_limit_s,
    memory_mb=memory_mb,
    capture_output=True,
  )


def outputs(result: judge.SubmissionResult) -> list[str | None]:
  """Each run's output, or None when it did not complete (crash, limit, compile error)."""
  found = [v.output if v.accepted else None for v in result.verdicts]
  return found + [None] * (result.num_tests - len(found))
