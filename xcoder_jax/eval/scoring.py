"""Scoring responses end to end: extract, judge, and report (the functions callers use)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xcoder_jax import judge
from xcoder_jax.eval import grading, report
from xcoder_jax.eval.types import Benchmark


def evaluate(
  benchmark: Benchmark,
  responses: Mapping[str, Sequence[str]],
  k: int,
  judge_pool: judge.Judge | None = None,
  extraction: str | None = None,
  progress: bool = True,
  **extra: Any,
) -> dict[str, Any]:
  """The report of k responses per problem (every problem of ``benchmark`` needs them).

  ``extraction`` defaults to the benchmark's rule (LiveCodeBench's for livecodebench);
  ``extra`` entries (sampling settings, model) are stored in the report as given.
  """
  extraction = extraction or benchmark.extraction
  results = grading.grade(
    benchmark.problems,
    responses,
    judge_pool or judge.Judge(),
    extraction=extraction,
    progress=progress,
  )
  return report.build(benchmark, results, k, extraction, **extra)
