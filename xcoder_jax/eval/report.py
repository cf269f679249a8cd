"""The evaluation report: metrics overall and by group, every sample's verdicts, a table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xcoder_jax import judge
from xcoder_jax.eval import metrics
from xcoder_jax.eval.grading import SampleResult
from xcoder_jax.eval.types import Benchmark, Problem


def _groups(problems: Sequence[Problem], benchmark: Benchmark) -> dict[str, dict[str, list[str]]]:
  """Question ids by difficulty, platform, contest month and named date window."""
  groups: dict[str, dict[str, list[str]]] = {
    "difficulty": {},
    "platform": {},
    "contest_month": {},
    "window": {},
  }
  for problem in problems:
    keys = {"difficulty": problem.difficulty, "platform": problem.platform}
    if problem.contest_date is not None:
      keys["contest_month"] = problem.contest_date.strftime("%Y-%m")
      for name, (start, end) in benchmark.date_windows.items():
        if start <= problem.contest_date <= end:
          groups["window"].setdefault(name, []).append(problem.question_id)
    for group, key in keys.items():
      if key is not None:
        groups[group].setdefault(key, []).append(problem.question_id)
  return {name: dict(sorted(members.items())) for name, members in groups.items() if members}


# A program that ran to its end on a test: it read the input and printed an answer.
_RAN = (judge.Outcome.ACCEPTED, judge.Outcome.WRONG_ANSWER)


def sample_rates(results: Mapping[str, Sequence[SampleResult]]) -> dict[str, float]:
  """Shares of all samples at each step towards a pass, so that a model that passes nothing
  still shows what changed: code extracted, ran to its end on a test, passed a test, passed
  all; and the mean share of tests passed (of the tests that ran: a lower bound where the
  grader stops at the first failure)."""
  samples = [sample for group in results.values() for sample in group]
  if not samples:
    return {}
  n = len(samples)
  return {
    "answered": sum(s.outcome != "no_code" for s in samples) / n,
    "runs": sum(any(v.verdict in _RAN for v in s.verdicts) for s in samples) / n,
    "passes_a_test": sum(any(v.accepted for v in s.verdicts) for s in samples) / n,
    "passes_all": sum(s.passed for s in samples) / n,
    "test_pass_fraction": sum(
      sum(v.accepted for v in s.verdicts) / max(s.num_tests, 1) for s in samples
    )
    / n,
  }


def build(
  benchmark: Benchmark,
  results: Mapping[str, Sequence[SampleResult]],
  k: int,
  extraction: str,
  **extra: Any,
) -> dict[str, Any]:
  """OUT.json: avg_at_k, pass_at_k (k -> value), num_problems, breakdowns, problems."""
  correct = {qid: [sample.passed for sample in samples] for qid, samples in results.items()}
  problems = [p for p in benchmark.problems if p.question_id in results]
  breakdowns = {
    group: {key: metrics.summary([correct[qid] for qid in qids]) for key, qids in members.items()}
    for group, members in _groups(problems, benchmark).items()
  }
  per_problem = {}
  for problem in problems:
    samples = results[problem.question_id]
    per_problem[problem.question_id] = {
      "difficulty": problem.difficulty,
      "platform": problem.platform,
      "contest_date": problem.contest_date.isoformat() if problem.contest_date else None,
      "num_correct": sum(correct[problem.question_id]),
      "pass_at_1": sum(correct[problem.question_id]) / len(samples),
      "verdicts": [sample.outcome for sample in samples],
      "samples": [sample.to_json() for sample in samples],
    }
  return {
    "benchmark": benchmark.name,
    "k": k,
    **metrics.summary(list(correct.values())),
    "rates": sample_rates(results),
    "extraction_rule": extraction,
    "grading_rule": benchmark.grading,
    # Samples failed by the judge's fault (sandbox trouble), not the program's: should be 0.
    "judge_errors": sum(
      sample.outcome == "judge_error" for samples in results.values() for sample in samples
    ),
    "settings": benchmark.settings,
    **extra,
    "breakdowns": breakdowns,
    "problems": per_problem,
  }


def table(report: Mapping[str, Any]) -> str:
  """A readable table: one row overall and one per group member."""
  ks = list(report["pass_at_k"])
  header = ["", "problems", f"avg@{report['k']}", *(f"pass@{k}" for k in ks)]
  rows = [["overall", report["num_problems"], report["avg_at_k"], *report["pass_at_k"].values()]]
  for group, members in report["breakdowns"].items():
    for key, summary in members.items():
      values = [summary["pass_at_k"].get(k, float("nan")) for k in ks]
      rows.append([f"{group}={key}", summary["num_problems"], summary["avg_at_k"], *values])
  cells = [header] + [
    [row[0], str(row[1]), *(f"{100 * value:.1f}" for value in row[2:])] for row in rows
  ]
  widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
  lines = [
    "  ".join(
      cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths))
    )
    for r in cells
  ]
  title = (
    f"{report['benchmark']}: {report['num_problems']} problems, k={report['k']}, "
    f"extraction={report['extraction_rule']} (scores in %)"
  )
  if report.get("judge_errors"):
    lines.append(f"WARNING: {report['judge_errors']} samples failed by judge errors; see problems")
  return "\n".join([title, *lines])
