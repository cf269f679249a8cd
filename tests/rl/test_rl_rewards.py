"""X-Coder's reward: code extraction, test sampling, and one real judge batch per step."""

import json

import pytest

from xcoder_jax import judge, rl
from xcoder_jax.judge import extract, tasks

ADD = "a, b = map(int, input().split())\nprint(a + b)\n"
# Right only when a < 10: half of STDIO_TESTS.
HALF = "a, b = map(int, input().split())\nprint(a + b if a < 10 else 0)\n"
STDIO_TESTS = [
  {"input": "1 2\n", "output": "3\n"},
  {"input": "20 5\n", "output": "25"},
  {"input": "4 4\n", "output": " 8 "},
  {"input": "30 1\n", "output": "31\n"},
]
LEETCODE = "class Solution:\n    def twoSum(self, nums, target):\n        return [0, 1]\n"
LEETCODE_TESTS = [
  {"input": json.dumps([[2, 7], 9]), "output": json.dumps([0, 1])},
  {"input": json.dumps([[3, 3, 5], 6]), "output": json.dumps([0, 1])},
]
FUNCTION = "def square(x):\n    return x * x\n"
FUNCTION_TESTS = [{"input": "[3]", "output": "9"}, {"input": "[-2]", "output": "4"}]


def answer(code: str, reasoning: str = "") -> str:
  return f"<think>{reasoning}</think>\nHere it is:\n```python\n{code}```\n"


class CountingJudge:
  """The real judge, counting how many batches a reward sends."""

  def __init__(self):
    self.judge, self.batches = judge.Judge(workers=2), []

  def run(self, batch):
    self.batches.append(list(batch))
    return self.judge.run(batch)


class AcceptingJudge:
  """No sandbox: accepts every test and records the submissions (for sampling checks)."""

  def __init__(self):
    self.batches = []

  def run(self, batch):
    self.batches.append(list(batch))
    verdicts = lambda s: [judge.Verdict(judge.Outcome.ACCEPTED)] * len(s.tests)
    return [judge.SubmissionResult(verdicts(s), len(s.tests)) for s in batch]


def test_extraction_takes_the_last_block_after_the_reasoning():
  draft = "```python\nprint('draft')\n```"
  text = answer("print(2)\n", reasoning=draft) + "\nor\n```python\nprint(3)\n```\n```\n4\n```"
  assert extract.extract_last_python_block(text) == "print(3)\n"  # untagged fences are output
  for text, reason in [
    (f"<think>{draft}</think>\nno code", "no_code_block"),
    (f"<think>{draft}", "unfinished_reasoning"),
    (answer("def f(:\n"), "syntax_error"),
    (answer("print('\x00')\n"), "syntax_error"),
  ]:
    with pytest.raises(extract.ParseError) as error:
      extract.extract_last_python_block(text)
    assert error.value.reason == reason


def test_test_sampling_is_deterministic_and_bounded():
  chosen = rl.sample_tests(40, 10, seed=0, step=3, rollout=5)
  assert len(chosen) == len(set(chosen)) == 10 and chosen == sorted(chosen)
  assert chosen == rl.sample_tests(40, 10, seed=0, step=3, rollout=5)
  others = {
    tuple(rl.sample_tests(40, 10, seed=0, step=s, rollout=r)) for s in (3, 4) for r in (5, 6)
  }
  assert len(others) == 4
  assert rl.sample_tests(7, 10, seed=0, step=3, rollout=5) == list(range(7))

  task = {"tests": [{"input": f"{i}\n", "output": f"{i}\n"} for i in range(25)], "kind": "stdio"}
  fake = AcceptingJudge()
  reward = lambda **extra: rl.xcoder_reward([task] * 3, completions, judge=fake, step=7, **extra)
  completions = [answer("print(input())\n")] * 3
  assert reward() == [5.0] * 3
  assert len(fake.batches) == 1 and all(len(s.tests) == 10 for s in fake.batches[0])
  assert fake.batches[0][0].time_limit_s == 10.0 and fake.batches[0][0].memory_mb == 256
  first = [[t.input for t in s.tests] for s in fake.batches[0]]
  assert len({tuple(inputs) for inputs in first}) == 3  # each rollout its own sample
  reward()  # a resumed step
  assert [[t.input for t in s.tests] for s in fake.batches[1]] == first
  reward(rollout_index=[2, 1, 0])
  assert [[t.input for t in s.tests] for s in fake.batches[2]] == first[::-1]
  reward(options=rl.RewardOptions(max_tests=4, time_limit_s=2.0, memory_mb=64, seed=1))
  assert all(
    len(s.tests) == 4 and (s.time_limit_s, s.memory_mb) == (2.0, 64) for s in fake.batches[3]
  )


def test_xcoder_reward_with_the_real_judge_in_one_batch():
  rows = [
    (answer(ADD, reasoning="```python\nprint(0)\n```"), STDIO_TESTS, "stdio", None, 5.0),
    (answer(HALF), STDIO_TESTS, "stdio", None, 2.5),
    (answer(LEETCODE), LEETCODE_TESTS, "leetcode", "twoSum", 5.0),
    (answer(FUNCTION), FUNCTION_TESTS, "function", "square", 5.0),
    (answer(FUNCTION.replace("x * x", "x * abs(x)")), FUNCTION_TESTS, "function", "square", 2.5),
    ("The answer is 3.", STDIO_TESTS, "stdio", None, -2.0),
    (answer("print(int(input()) +)\n"), STDIO_TESTS, "stdio", None, -2.0),
    (answer(ADD) + "```python\nimport sys\nsys.exit(1)\n```", STDIO_TESTS, "stdio", None, 0.0),
  ]
  counting = CountingJudge()
  scores = rl.xcoder_reward(
    [{"tests": r[1], "kind": r[2], "fn_name": r[3]} for r in rows],
    [r[0] for r in rows],
    judge=counting,
    step=0,
  )
  assert [s.reward for s in scores] == [r[4] for r in rows]
  assert [s.status for s in scores][5:7] == ["no_code_block", "syntax_error"]
  assert scores[1].pass_fraction == 0.5 and all(s.judge_errors == 0 for s in scores)
  assert len(counting.batches) == 1 and len(counting.batches[0]) == 6  # no code: not judged


def test_task_tests_become_judge_test_cases():
  stdio = tasks.graded_submission("x", STDIO_TESTS[:1], time_limit_s=3.0)
  assert stdio.tests[0] == judge.TestCase(input="1 2\n", output="3\n") and stdio.memory_mb == 256
  call = tasks.graded_submission("x", LEETCODE_TESTS[:1], "leetcode", "twoSum")
  assert call.tests[0] == judge.TestCase(args=[[2, 7], 9], expected=[0, 1])
  with pytest.raises(ValueError, match="fn_name"):
    tasks.graded_submission("x", FUNCTION_TESTS, "function")
  with pytest.raises(ValueError, match="task kind"):
    tasks.graded_submission("x", FUNCTION_TESTS, "check", "f")
  with pytest.raises(ValueError, match="JSON list"):
    tasks.graded_submission("x", [{"input": "3", "output": "9"}], "function", "square")
  with pytest.raises(ValueError, match="no tests"):
    rl.xcoder_reward([{"tests": [], "kind": "stdio"}], ["a"], judge=AcceptingJudge(), step=0)
