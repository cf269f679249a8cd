"""pass@k, avg@k, extraction rules and the report, on hand-built values (no judge)."""

import itertools
import math
from datetime import datetime

import pytest

from xcoder_jax import judge
from xcoder_jax.eval import extraction, metrics, report
from xcoder_jax.eval.grading import SampleResult
from xcoder_jax.eval.types import Benchmark, Grader, Problem


def test_pass_at_k_is_the_closed_form_and_the_subset_probability():
  for n in range(1, 9):
    for c in range(n + 1):
      for k in range(1, n + 1):
        # Brute force: the fraction of k-subsets of the samples holding a correct one.
        subsets = list(itertools.combinations([True] * c + [False] * (n - c), k))
        brute = sum(any(s) for s in subsets) / len(subsets)
        closed = 1.0 - math.comb(n - c, k) / math.comb(n, k)
        assert metrics.pass_at_k(n, c, k) == pytest.approx(brute, abs=1e-12)
        assert metrics.pass_at_k(n, c, k) == pytest.approx(closed, abs=1e-12)
  assert metrics.pass_at_k(8, 1, 1) == 1 / 8
  with pytest.raises(ValueError, match="k <= 4"):
    metrics.pass_at_k(4, 1, 5)


def test_k_values_and_avg_at_k_on_hand_built_verdicts():
  assert metrics.k_values(1) == [1]
  assert metrics.k_values(8) == [1, 2, 4, 8]
  assert metrics.k_values(10) == [1, 2, 4, 8, 10]
  verdicts = [[True, False, False, False], [True, True, True, True], [False] * 4]
  assert metrics.avg_at_k(verdicts) == pytest.approx((0.25 + 1 + 0) / 3)
  summary = metrics.summary(verdicts)
  assert summary["num_problems"] == 3
  assert summary["avg_at_k"] == summary["pass_at_k"]["1"]  # avg@k is pass@1 over k samples
  assert summary["pass_at_k"]["4"] == pytest.approx(2 / 3)  # one of the first problem's 4
  assert summary["pass_at_k"]["2"] == pytest.approx((0.5 + 1 + 0) / 3)
  with pytest.raises(ValueError, match="same number of samples"):
    metrics.summary([[True], [True, False]])


def test_extraction_rules_differ_where_x_coder_and_livecodebench_differ():
  solution = "print(int(input()) * 2)"
  trailing = f"Plan.\n```python\n{solution}\n```\nExample:\n```\n3\n6\n```\n"
  assert extraction.extract_lcb(trailing) == "3\n6"  # the last two fence lines
  assert extraction.extract_xcoder(trailing) == solution + "\n"  # the last python block
  reasoning = f"<think>draft:\n```python\nprint(0)\n```\n</think>\n```python\n{solution}\n```"
  assert extraction.extract_xcoder(reasoning) == solution + "\n"
  assert extraction.extract_lcb(reasoning) == solution
  assert extraction.extract_xcoder("<think>```python\nprint(0)\n```") == ""  # unfinished
  assert extraction.extract_lcb("no fences at all") == ""
  assert extraction.extract_lcb("one ``` only") == ""
  # a fence line is any line containing three backticks, even mid-sentence
  assert extraction.extract_lcb("```python\nx = 1\n```\nsee ``` here\ny = 2\n```") == "y = 2"
  with pytest.raises(KeyError, match="choose one of lcb, xcoder"):
    extraction.extract("first-block", "")


class _NoGrader(Grader):
  num_tests = 1

  def submission(self, code):
    raise AssertionError("not judged here")


def _sample(index, passed):
  verdict = judge.Verdict(judge.Outcome.ACCEPTED if passed else judge.Outcome.WRONG_ANSWER)
  return SampleResult(index, "code", 1, [verdict], verdict.verdict.value)


def test_report_breaks_down_by_difficulty_platform_month_and_window():
  day = lambda text: datetime.fromisoformat(text)
  problems = [
    Problem("a", (), _NoGrader(), "easy", "atcoder", day("2024-08-01T00:00:00")),
    Problem("b", (), _NoGrader(), "hard", "leetcode", day("2025-02-01T00:00:00")),
    Problem("c", (), _NoGrader(), "hard", "leetcode", day("2025-03-02T00:00:00")),
  ]
  windows = {
    "v5": (day("2024-08-01"), day("2025-02-01")),
    "v6": (day("2025-02-01"), day("2025-05-01")),
  }
  bench = Benchmark("toy", problems, "lcb", "toy rules", {"time_limit_s": 6}, windows)
  results = {
    "a": [_sample(0, True), _sample(1, True)],
    "b": [_sample(0, True), _sample(1, False)],
    "c": [_sample(0, False), _sample(1, False)],
  }
  out = report.build(bench, results, 2, "lcb", model="m")
  assert out["num_problems"] == 3 and out["k"] == 2 and out["model"] == "m"
  assert out["avg_at_k"] == pytest.approx(0.5)
  assert out["pass_at_k"] == {"1": pytest.approx(0.5), "2": pytest.approx(2 / 3)}
  assert out["extraction_rule"] == "lcb" and out["judge_errors"] == 0
  groups = out["breakdowns"]
  assert groups["difficulty"]["hard"]["avg_at_k"] == pytest.approx(0.25)
  assert groups["platform"]["atcoder"]["num_problems"] == 1
  assert set(groups["contest_month"]) == {"2024-08", "2025-02", "2025-03"}
  assert groups["window"]["v5"]["num_problems"] == 2  # b sits on both edges
  assert groups["window"]["v6"]["num_problems"] == 2
  assert out["problems"]["b"]["verdicts"] == ["accepted", "wrong_answer"]
  assert out["problems"]["b"]["samples"][1]["failure"]["verdict"] == "wrong_answer"
  text = report.table(out)
  assert "avg@2" in text and "pass@2" in text and "window=v5" in text
  assert "difficulty=hard" in text and " 25.0 " in text
