"""Dual verification: majority-vote test labels, then a golden solution chosen by weighted
tests passed and confirmed on held-out tests.

Pure functions (``vote``, ``select_golden``, ``verify_outputs``) take an output matrix
``outputs[candidate][test]`` (a string, or None when that run did not complete), so they are
tested without a judge; ``verify_task`` runs the judge to fill the matrix.

Every candidate's result on each final (verified) test is kept with the task: ``accepted`` or
the failure kind (``FAILURES``), the material of the DPO pairs (``data_pipeline/pairs.py``).
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Sequence

from data_pipeline.records import Candidate, Task, TestInputs, VerifiedTask
from data_pipeline.stage import Dropped
from xcoder_jax.judge import tasks
from xcoder_jax.judge.types import Outcome, SubmissionResult, Verdict


def judge_from_config(config, workers: int | None = None):
  """The judge a SynthSmith config asks for: local (`judge_workers`, or ``workers`` when
  given) or remote (`judge_urls` of `launch.judge_serve` instances); verdicts are the same
  either way."""
  from xcoder_jax.judge.remote import make_judge  # lazily: it starts nothing on import either

  return make_judge(
    config.judge_backend,
    config.judge_urls,
    workers or config.judge_workers or None,
    token=config.judge_token or None,
  )


Outputs = Sequence[Sequence[str | None]]
ACCEPTED = "accepted"
JUDGE_ERROR = "judge_error"  # the judge's fault: says nothing about the candidate
# A judge verdict as the reason a candidate fails a verified test; a program that does not
# compile is no code at all, an output flood is a crash of the program.
FAILURES = {
  Outcome.WRONG_ANSWER: "wrong_answer",
  Outcome.RUNTIME_ERROR: "runtime_error",
  Outcome.OUTPUT_LIMIT: "runtime_error",
  Outcome.TIME_LIMIT: "time_limit",
  Outcome.MEMORY_LIMIT: "memory_limit",
  Outcome.COMPILE_ERROR: "no_code",
  Outcome.JUDGE_ERROR: JUDGE_ERROR,
}


@dataclasses.dataclass(frozen=True)
class Label:
  output: str
  votes: int  # candidates whose output is this one
  agreement: float  # votes / number of candidates


def normalize_output(text: str) -> str:
  """What the judge's exact checker (the RL reward's rule) compares: the text with surrounding
  whitespace stripped, nothing else; votes and labels use it so the golden solution passes
  every stored test under that checker."""
  return text.strip()


def vote(
  outputs: Outputs, min_votes: int = 2, min_agreement: float = 0.5
) -> tuple[list[Label | None], collections.Counter]:
  """Labels each test by its most frequent successful output.

  Ties go to the output of the lowest-index candidate among the tied ones (deterministic).
  A test is unlabeled (None) when nobody ran it, or when the winner has fewer than
  ``min_votes`` votes or less than ``min_agreement`` of the successful runs.
  """
  num_candidates = len(outputs)
  num_tests = len(outputs[0]) if outputs else 0
  labels, drops = [], collections.Counter()
  for test in range(num_tests):
    column = [row[test] for row in outputs]
    counts = collections.Counter(o for o in column if o is not None)
    if not counts:
      labels.append(None)
      drops["test:nobody_ran"] += 1
      continue
    first_seen = {o: column.index(o) for o in counts}
    winner = min(counts, key=lambda o: (-counts[o], first_seen[o]))
    votes = counts[winner]
    if votes < min_votes or votes / sum(counts.values()) < min_agreement:
      labels.append(None)
      drops["test:low_agreement"] += 1
      continue
    labels.append(Label(winner, votes, votes / num_candidates))
  return labels, drops


def test_weights(labels: Sequence[Label | None]) -> list[float]:
  """Harder tests (fewer candidates agree) weigh more: weight = 1 / agreement."""
  return [1.0 / label.agreement if label else 0.0 for label in labels]


def select_golden(outputs: Outputs, labels: Sequence[Label | None], tests: Sequence[int]) -> int:
  """The candidate with the most weight of passed ``tests``; ties go to the lowest index."""
  weights = test_weights(labels)
  scores = [
    sum(weights[t] for t in tests if labels[t] and row[t] == labels[t].output) for row in outputs
  ]
  return max(range(len(outputs)), key=lambda c: (scores[c], -c))


def language_goldens(
  outputs: Outputs,
  labels: Sequence[Label | None],
  selection: Sequence[int],
  final_tests: Sequence[int],
  candidate_languages: Sequence[str],
) -> dict[str, int]:
  """Language -> the index of its golden candidate: chosen among that language's candidates
  as ``select_golden`` chooses among all, kept only when it passes every final test."""
  goldens = {}
  for language in dict.fromkeys(candidate_languages):  # first-seen order
    members = [c for c, name in enumerate(candidate_languages) if name == language]
    best = members[select_golden([outputs[c] for c in members], labels, selection)]
    if all(outputs[best][t] == labels[t].output for t in final_tests):
      goldens[language] = best
  return goldens


def held_out_split(labeled: Sequence[int], every: int) -> tuple[list[int], list[int]]:
  """Every ``every``-th labeled test (at least one) is held out from golden selection."""
  held = [t for i, t in enumerate(labeled) if i % every == every - 1] or list(labeled[-1:])
  return [t for t in labeled if t not in held], held


@dataclasses.dataclass
class Verification:
  labels: list[Label | None]
  golden: int
  final_tests: list[int]  # labeled tests the golden solution passes
  held_out: list[int]
  drops: collections.Counter
  goldens: dict[str, int]  # language -> its golden (language_goldens)


def verify_outputs(
  outputs: Outputs, config, candidate_languages: Sequence[str] | None = None
) -> Verification:
  """Votes (every language together), selects the golden solution, confirms it on the
  held-out tests, and picks each language's golden (all Python when no languages given)."""
  labels, drops = vote(outputs, config.min_votes, config.min_agreement)
  labeled = [t for t, label in enumerate(labels) if label]
  if len(labeled) < 2:
    raise Dropped("too_few_labeled_tests")
  selection, held_out = held_out_split(labeled, config.held_out_every)
  golden = select_golden(outputs, labels, selection)
  if any(outputs[golden][t] != labels[t].output for t in held_out):
    raise Dropped("golden_failed_held_out")
  final = [t for t in labeled if outputs[golden][t] == labels[t].output]
  drops["test:golden_disagrees"] += len(labeled) - len(final)
  if len(final) < config.min_tests:
    raise Dropped("too_few_tests")
  candidate_languages = candidate_languages or ["python"] * len(outputs)
  goldens = language_goldens(outputs, labels, selection, final, candidate_languages)
  return Verification(labels, golden, final, held_out, drops, goldens)


def capture_runs(
  judge, task: Task, candidates: list[Candidate], inputs: list[str], config
) -> list[SubmissionResult]:
  """All candidates on all inputs: one judge batch, one sandbox per candidate."""
  batch = [
    tasks.capture_submission(
      c.code, inputs, task.kind, task.fn_name, config.time_limit_s, config.memory_mb, c.language
    )
    for c in candidates
  ]
  return judge.run(batch)


def captured_outputs(result: SubmissionResult) -> list[str | None]:
  return [None if o is None else normalize_output(o) for o in tasks.outputs(result)]


def run_candidates(
  judge, task: Task, candidates: list[Candidate], inputs: list[str], config
) -> list[list[str | None]]:
  return [captured_outputs(r) for r in capture_runs(judge, task, candidates, inputs, config)]


def verdict_result(verdict: Verdict | None) -> str:
  """``accepted`` or the failure kind of one judged run (a run never made is a crash)."""
  if verdict is None:
    return FAILURES[Outcome.RUNTIME_ERROR]
  return ACCEPTED if verdict.accepted else FAILURES[verdict.verdict]


def candidate_outcome(index: int, results: list[str], language: str = "python") -> dict:
  """What verification learnt about one candidate: its result on each final test, in order."""
  passed = sum(r == ACCEPTED for r in results)
  return {
    "index": index,
    "language": language,
    "pass_fraction": round(passed / len(results), 4) if results else 0.0,
    "results": results,
  }


def captured_outcomes(
  candidates: list[Candidate],
  runs: list[SubmissionResult],
  labels: Sequence[Label | None],
  final_tests: Sequence[int],
) -> list[dict]:
  """Each candidate against the voted labels of the final tests: a completed run with
  another output is a wrong answer, an incomplete one keeps the judge's verdict."""
  outcomes = []
  for candidate, run in zip(candidates, runs):
    outputs = captured_outputs(run)
    results = []
    for t in final_tests:
      verdict = run.verdicts[t] if t < len(run.verdicts) else None
      if outputs[t] == labels[t].output:
        results.append(ACCEPTED)
      elif verdict is not None and verdict.accepted:
        results.append(FAILURES[Outcome.WRONG_ANSWER])
      else:
        results.append(verdict_result(verdict))
    outcomes.append(candidate_outcome(candidate.index, results, candidate.language))
  return outcomes


def grade_candidates(
  judge, task: Task, candidates: list[Candidate], tests: list[dict], config
) -> list[dict]:
  """The outcomes of candidates graded again on verified tests (for outputs written before
  verification kept them): the judge compares, nothing is voted again."""
  batch = [
    tasks.graded_submission(
      c.code, tests, task.kind, task.fn_name, config.time_limit_s, config.memory_mb, c.language
    )
    for c in candidates
  ]
  outcomes = []
  for candidate, run in zip(candidates, judge.run(batch)):
    verdicts = run.verdicts + [None] * (run.num_tests - len(run.verdicts))
    results = [verdict_result(v) for v in verdicts]
    outcomes.append(candidate_outcome(candidate.index, results, candidate.language))
  return outcomes


def verify_task(
  judge, config, task: Task, candidates: list[Candidate], test_inputs: TestInputs
) -> tuple[list[dict], dict]:
  """Runs, votes and picks the golden; the drops carry ``run:judge_error``, the runs the
  judge itself failed (counted whether or not the task survives, for the run's report)."""
  if len(candidates) < config.min_candidates:
    raise Dropped("too_few_candidates")
  runs = capture_runs(judge, task, candidates, test_inputs.inputs, config)
  failed = sum(v.verdict == Outcome.JUDGE_ERROR for r in runs for v in r.verdicts)
  judge_errors = {"run:judge_error": failed} if failed else {}
  try:
    result = verify_outputs(
      [captured_outputs(r) for r in runs], config, [c.language for c in candidates]
    )
  except Dropped as drop:
    return [], {drop.reason: 1, **judge_errors}
  labels = result.labels
  tests = [
    {
      "input": test_inputs.inputs[t],
      "output": labels[t].output,
      "votes": labels[t].votes,
      "held_out": t in result.held_out,
    }
    for t in result.final_tests
  ]
  difficulty = 1.0 - sum(labels[t].agreement for t in result.final_tests) / len(tests)
  verified = VerifiedTask(
    task.to_json(),
    tests,
    candidates[result.golden].to_json(),
    len(candidates),
    round(difficulty, 4),
    captured_outcomes(candidates, runs, labels, result.final_tests),
    {language: candidates[c].to_json() for language, c in result.goldens.items()},
  )
  return [verified.to_json()], {**result.drops, **judge_errors}


@dataclasses.dataclass
class GroundTruthScore:
  """Against real expected outputs: how many labels are right, whether the golden passes."""

  labels_correct: int
  labels_total: int
  golden_full_pass: bool


def score_against_truth(outputs: Outputs, truths: Sequence[str], config) -> GroundTruthScore:
  labels, _ = vote(outputs, config.min_votes, config.min_agreement)
  truths = [normalize_output(t) for t in truths]
  labeled = [t for t, label in enumerate(labels) if label]
  correct = sum(labels[t].output == truths[t] for t in labeled)
  if not labeled:
    return GroundTruthScore(0, 0, False)
  selection, _ = held_out_split(labeled, config.held_out_every)
  golden = select_golden(outputs, labels, selection)
  return GroundTruthScore(correct, len(labeled), list(outputs[golden]) == truths)
