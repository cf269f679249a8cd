"""The evaluation's vocabulary: problems, how each is graded, benchmarks and their loaders."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from xcoder_jax import judge
from xcoder_jax.registry import Registry


class EvalInputError(ValueError):
  """Bad input from the user (file, flag, record): the message names the problem and the fix."""


class Grader(abc.ABC):
  """One problem's tests and rules: code in, a judge submission out, verdicts back.

  Untrusted code only ever reaches the judge's sandbox through ``submission``; whatever a
  grader compares itself (``verdicts``) are plain values the judge brought back.
  """

  num_tests: int

  @abc.abstractmethod
  def submission(self, code: str) -> judge.Submission | judge.Verdict:
    """The submission to judge, or the verdict of code that fails without running."""

  def verdicts(self, result: judge.SubmissionResult) -> list[judge.Verdict]:
    """The verdicts of the tests that ran (a grader comparing captured outputs does it here)."""
    return result.verdicts


@dataclasses.dataclass(frozen=True)
class Problem:
  """One benchmark problem: its prompt (chat messages), grader, and what reports group by."""

  question_id: str
  messages: tuple[dict[str, str], ...]
  grader: Grader
  difficulty: str | None = None
  platform: str | None = None
  contest_date: datetime | None = None


@dataclasses.dataclass(frozen=True)
class LoadOptions:
  """What a user may ask of any loader; a loader refuses what it cannot honour."""

  time_limit_s: float | None = None  # None: the benchmark's own default
  memory_mb: int | None = None
  start_date: str | None = None  # YYYY-MM-DD, inclusive (benchmarks with contest dates)
  end_date: str | None = None
  window: str | None = None  # a named date window, e.g. LiveCodeBench "v5"


@dataclasses.dataclass
class Benchmark:
  """A loaded benchmark: its problems and the rules it is graded by (named in reports)."""

  name: str
  problems: list[Problem]
  extraction: str  # the default extraction rule (xcoder_jax.eval.extraction.EXTRACTORS)
  grading: str  # the grading rules, in words
  settings: dict[str, Any] = dataclasses.field(default_factory=dict)  # limits, window, source
  # Named contest-date windows reported separately, (start, end) both inclusive.
  date_windows: dict[str, tuple[datetime, datetime]] = dataclasses.field(default_factory=dict)


Loader = Callable[[str | None, LoadOptions], Benchmark]
BENCHMARKS: Registry[Loader] = Registry("benchmark")


def refuse_dates(name: str, options: LoadOptions) -> None:
  """For loaders whose problems have no contest dates."""
  if options.start_date or options.end_date or options.window:
    raise EvalInputError(
      f"{name} problems have no contest dates; drop --window/--start_date/--end_date"
    )
