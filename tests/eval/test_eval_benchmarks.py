"""HumanEval (packaged data) and SynthSmith's held-out RL tasks, graded in the judge."""

import pytest

from xcoder_jax import judge
from xcoder_jax.data import shards
from xcoder_jax.eval import grading, load_benchmark
from xcoder_jax.eval.benchmarks import synthsmith
from xcoder_jax.eval.types import EvalInputError, LoadOptions


@pytest.fixture(scope="module")
def judge_pool():
  return judge.Judge()


def test_humaneval_whole_functions_and_continuations(judge_pool):
  bench = load_benchmark("humaneval")
  assert len(bench.problems) == 164 and bench.extraction == "lcb"
  problem = next(p for p in bench.problems if p.question_id == "HumanEval/0")
  assert "def has_close_elements" in problem.messages[0]["content"]
  body = "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"
  whole = "from typing import List\n\ndef has_close_elements(numbers, threshold):\n" + body
  responses = {
    "HumanEval/0": [
      f"```python\n{whole}```",  # the whole function
      f"```python\n{body}```",  # a continuation of the prompt
      "```python\ndef has_close_elements(numbers, threshold):\n    return False\n```",
    ]
  }
  results = grading.grade([problem], responses, judge_pool, progress=False)["HumanEval/0"]
  assert [r.outcome for r in results] == ["accepted", "accepted", "wrong_answer"]
  with pytest.raises(EvalInputError, match="no contest dates"):
    load_benchmark("humaneval", options=LoadOptions(window="v5"))


def _task(task_id, kind="stdio", difficulty=0.5, split="heldout"):
  if kind == "leetcode":
    tests = [{"input": "[2, 3]", "output": "5"}, {"input": "[0, 0]", "output": "0"}]
  else:
    tests = [{"input": "2 3\n", "output": "5"}, {"input": "0 0\n", "output": "0"}]
  return {
    "id": task_id,
    "prompt": f"Add two numbers ({task_id}).",
    "kind": kind,
    "fn_name": "add" if kind == "leetcode" else None,
    "style": "leetcode" if kind == "leetcode" else "codeforces",
    "tests": tests,
    "golden_solution": "print(sum(map(int, input().split())))",
    "features": {},
    "difficulty": difficulty,
    "num_candidates": 4,
    "source": "synthsmith",
    "split": split,
  }


def test_synthsmith_held_out_tasks_graded_by_x_coder_rules(tmp_path, judge_pool):
  run_dir = tmp_path / "run"
  train = [_task(f"train-{i}", split="train") for i in range(3)]
  shards.write_shards(train, str(run_dir / "rl"), 2, prefix="rl", sft_schema=False)
  held = "stdio-0"
  shards.write_shards([_task(held)], str(run_dir / "heldout" / "rl"), prefix="rl", sft_schema=False)
  shards.write_shards(
    [_task("call-0", "leetcode", 0.1)], str(tmp_path / "call"), prefix="rl", sft_schema=False
  )
  bench = load_benchmark("synthsmith", str(run_dir))
  assert [p.question_id for p in bench.problems] == [held]  # the held-out side only
  assert bench.settings["split"] == "heldout" and bench.settings["split_rule"]
  assert bench.extraction == "xcoder" and bench.problems[0].platform == "codeforces"
  call = load_benchmark("synthsmith", str(tmp_path / "call")).problems[0]
  assert call.difficulty == "easy"
  assert synthsmith.difficulty_label(0.9) == "hard"
  read = "a, b = map(int, input().split())\n"
  answer = "<think>plan</think>\n```python\n{}\n```"
  responses = {
    held: [
      answer.format(read + "print(a + b)"),
      answer.format(read + "print(float(a + b))"),  # 5.0 is not 5 under exact matching
    ],
    "call-0": [
      answer.format("class Solution:\n    def add(self, a, b):\n        return a + b"),
      answer.format("class Solution:\n    def add(self, a, b):\n        return str(a + b)"),
    ],
  }
  results = grading.grade(
    [bench.problems[0], call], responses, judge_pool, extraction="xcoder", progress=False
  )
  assert [r.outcome for r in results[held]] == ["accepted", "wrong_answer"]
  assert [r.outcome for r in results["call-0"]] == ["accepted", "wrong_answer"]


def test_synthsmith_output_without_the_split_or_without_held_out_tasks_is_refused(tmp_path):
  old = {k: v for k, v in _task("old-0").items() if k not in ("split", "source")}
  shards.write_shards([old], str(tmp_path / "old" / "rl"), prefix="rl", sft_schema=False)
  with pytest.raises(EvalInputError, match="no held-out split .*rerun python -m launch.synthsmith"):
    load_benchmark("synthsmith", str(tmp_path / "old"))
  with pytest.raises(EvalInputError, match="before the train/held-out split existed"):
    load_benchmark("synthsmith", str(tmp_path / "old" / "rl"))
  train = [_task("t-0", split="train")]
  shards.write_shards(train, str(tmp_path / "train"), prefix="rl", sft_schema=False)
  with pytest.raises(EvalInputError, match="holds no held-out tasks"):
    load_benchmark("synthsmith", str(tmp_path / "train"))


def test_synthsmith_bad_shards_stop_with_the_fix(tmp_path):
  with pytest.raises(EvalInputError, match="launch.synthsmith"):
    load_benchmark("synthsmith", str(tmp_path / "nowhere"))
  bad = {**_task("x"), "kind": "interactive"}
  shards.write_shards([bad], str(tmp_path / "bad"), prefix="rl", sft_schema=False)
  with pytest.raises(EvalInputError, match="record 0: not a SynthSmith RL task .*interactive"):
    load_benchmark("synthsmith", str(tmp_path / "bad"))
