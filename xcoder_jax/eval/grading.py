"""Grading every sample of every problem in judge batches, with a progress bar."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from tqdm.auto import tqdm

from xcoder_jax import judge
from xcoder_jax.eval.extraction import EXTRACTORS
from xcoder_jax.eval.types import Problem


@dataclasses.dataclass
class SampleResult:
  """One sample's fate: its code, the verdicts of the tests that ran, and the outcome."""

  sample_index: int
  code: str
  num_tests: int
  verdicts: list[judge.Verdict] = dataclasses.field(default_factory=list)
  outcome: str = "no_code"  # "accepted", the first failing verdict, or "no_code"

  @property
  def passed(self) -> bool:
    return self.outcome == judge.Outcome.ACCEPTED.value

  def to_json(self) -> dict:
    """Every test's verdict and time; the full details of the test that failed."""
    failed = next((v for v in self.verdicts if not v.accepted), None)
    return {
      "sample_index": self.sample_index,
      "passed": self.passed,
      "outcome": self.outcome,
      "num_tests": self.num_tests,
      "tests": [v.verdict.value for v in self.verdicts],
      "max_time_s": max((v.time_s for v in self.verdicts), default=0.0),
      "failure": failed.to_json() if failed else None,
      "code": self.code,
    }


def _finish(sample: SampleResult, verdicts: list[judge.Verdict]) -> None:
  sample.verdicts = verdicts
  failed = next((v for v in verdicts if not v.accepted), None)
  if failed is not None:
    sample.outcome = failed.verdict.value
  elif len(verdicts) == sample.num_tests:
    sample.outcome = judge.Outcome.ACCEPTED.value
  else:
    sample.outcome = "incomplete"  # the judge stopped short without a failing verdict


def grade(
  problems: Sequence[Problem],
  responses: Mapping[str, Sequence[str]],
  judge_pool: judge.Judge,
  extraction: str = "lcb",
  chunk_size: int | None = None,
  progress: bool = True,
) -> dict[str, list[SampleResult]]:
  """Extracts, judges and scores each response; results by question id, in sample order."""
  extract = EXTRACTORS.get(extraction)
  results: dict[str, list[SampleResult]] = {}
  pending: list[tuple[Problem, SampleResult, judge.Submission]] = []
  for problem in problems:
    results[problem.question_id] = []
    for index, response in enumerate(responses[problem.question_id]):
      code = extract(response)
      sample = SampleResult(index, code, problem.grader.num_tests)
      results[problem.question_id].append(sample)
      if not code.strip():
        continue  # no code: the sample fails without running
      request = problem.grader.submission(code)
      if isinstance(request, judge.Verdict):
        _finish(sample, [request])
      else:
        pending.append((problem, sample, request))
  # Chunks give the progress bar its steps; each ends when its slowest sample does.
  chunk_size = chunk_size or 8 * judge_pool.workers
  with tqdm(total=len(pending), desc="judging", unit="sample", disable=not progress) as bar:
    for start in range(0, len(pending), chunk_size):
      chunk = pending[start : start + chunk_size]
      for (problem, sample, _), result in zip(chunk, judge_pool.run([c[2] for c in chunk])):
        _finish(sample, problem.grader.verdicts(result))
      bar.update(len(chunk))
  return results
