"""LiveCodeBench: the release-format loader, date windows, and lcb_runner's grading rules.

The hand-made answers separate lcb_runner's rules from naive grading; what each must get was
checked against lcb_runner itself (testing_util.run_test on the same answers).
"""

import json

import lcb_data
import pytest

from xcoder_jax import judge
from xcoder_jax.eval import grading, load_benchmark
from xcoder_jax.eval.benchmarks import livecodebench
from xcoder_jax.eval.types import EvalInputError, LoadOptions

FENCE = "```python\n{}\n```"
READ = "a, b = map(int, input().split())\n"
SUM = READ + "print(a + b)"
PAIRS = "class Solution:\n    def pairUp(self, n):\n        return {}"
# (problem, answer, outcome): each line one rule.
CASES = [
  ("abc001_a", FENCE.format(SUM), "accepted"),
  ("abc001_a", FENCE.format("print(3)"), "wrong_answer"),  # public passes, private fails
  # a trailing non-code block after the solution: LiveCodeBench runs the last block ("3")
  ("abc001_a", FENCE.format(SUM) + "\nFor input 1 2:\n```\n3\n```", "wrong_answer"),
  ("abc001_a", FENCE.format(SUM) + "\nFor input 1 2:\n```\n1 2 -> 3\n```", "compile_error"),
  ("abc001_a", FENCE.format(READ + "print(f'{a + b}.0')"), "accepted"),  # 3.0 == 3 (Decimal)
  ("abc001_a", FENCE.format(READ + "print(a + b + 1e-9)"), "wrong_answer"),  # no tolerance
  ("abc001_a", FENCE.format(READ + "print(a + b, ' ')\nprint()"), "accepted"),  # stripped
  ("abc001_a", FENCE.format(READ + "print(a + b)\nprint(0)"), "wrong_answer"),  # extra line
  ("abc001_a", FENCE.format("raise ValueError('crash')"), "runtime_error"),
  ("abc001_a", FENCE.format("while True:\n    pass"), "time_limit"),
  ("abc001_a", "The answer is a + b.", "no_code"),
  ("abc001_a", FENCE.format(READ + "print(math.floor(a + b))"), "accepted"),  # the prelude
  ("abc001_a", FENCE.format(READ + "print(a + b)\nexit(1)"), "accepted"),  # SystemExit ends
  # lcb_runner's process: quit is None, `import resource` is refused, stdin is no file
  ("abc001_a", FENCE.format(READ + "print(a + b)\nquit()"), "runtime_error"),
  ("abc001_a", FENCE.format("import resource\n" + SUM), "runtime_error"),
  (
    "abc001_a",
    FENCE.format("import sys\nfor l in sys.stdin:\n    print(sum(map(int, l.split())))"),
    "runtime_error",
  ),
  ("abc001_a", FENCE.format("print(sum(map(int, open(0).read().split())))"), "wrong_answer"),
  (
    "abc001_a",
    FENCE.format("import sys\nprint(sum(map(int, sys.stdin.read().split())))"),
    "accepted",
  ),
  # make_function: module-level names become locals, so `global` misses them
  (
    "abc001_a",
    FENCE.format("t = 0\ndef f():\n    global t\n    t += 1\nf()\n" + SUM),
    "runtime_error",
  ),
  (
    "abc001_a",
    FENCE.format(
      "def main():\n    " + SUM.replace("\n", "\n    ") + "\nif __name__ == '__main__':\n    main()"
    ),
    "accepted",
  ),
  ("abc001_a", FENCE.format("class Solution:\n    pass\n" + SUM), "runtime_error"),
  ("lc_pairs", FENCE.format(PAIRS.format("[[i, i + 1] for i in range(n)]")), "accepted"),
  ("lc_pairs", FENCE.format(PAIRS.format("tuple([i, i + 1] for i in range(n))")), "accepted"),
  ("lc_pairs", FENCE.format(PAIRS.format("[(i, i + 1) for i in range(n)]")), "wrong_answer"),
  ("lc_pairs", FENCE.format(PAIRS.format("[[i, i + 1.0] for i in range(n)]")), "accepted"),
  (
    "lc_pairs",
    FENCE.format("def pairUp(n):\n    return [[i, i + 1] for i in range(n)]"),
    "accepted",
  ),
  (
    "lc_pairs",
    FENCE.format(
      PAIRS.format("[[i, i + 1] for i in range(n)]") + "\nif __name__ == '__main__':\n    input()"
    ),
    "accepted",
  ),
  ("lc_pairs", FENCE.format(PAIRS.format("[[0, 1]]")), "wrong_answer"),  # public only
  ("lc_pairs", FENCE.format(PAIRS.format("1 // 0")), "runtime_error"),
  (
    "lc_minmax",
    FENCE.format(
      "class Solution:\n    def minMax(self, nums, k):\n        return (min(nums), max(nums) * k)"
    ),
    "accepted",
  ),
]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
  records = [lcb_data.SUM_STDIN, lcb_data.PAIRS_FUNCTIONAL, lcb_data.MINMAX_FUNCTIONAL]
  return lcb_data.write(tmp_path_factory.mktemp("lcb") / "test.jsonl", records)


@pytest.fixture(scope="module")
def graded(data_file):
  """Every case in one judge batch (1 s per test, so the infinite loop ends quickly)."""
  bench = load_benchmark("livecodebench", data_file, LoadOptions(time_limit_s=1))
  responses = {problem.question_id: [] for problem in bench.problems}
  for question_id, answer, _ in CASES:
    responses[question_id].append(answer)
  results = grading.grade(bench.problems, responses, judge.Judge(), progress=False)
  counters = {question_id: iter(samples) for question_id, samples in results.items()}
  return [next(counters[question_id]) for question_id, _, _ in CASES]


def test_loader_reads_the_release_format(data_file):
  bench = load_benchmark("livecodebench", data_file)
  problems = {problem.question_id: problem for problem in bench.problems}
  assert list(problems) == ["abc001_a", "lc_minmax", "lc_pairs"]  # lcb_runner's order
  stdin = problems["abc001_a"].grader  # compressed private tests
  assert [(t.input, t.output) for t in stdin.tests] == [
    ("1 2\n", "3\n"),
    ("10 20\n", "30\n"),
    ("-5 5\n", "0\n"),
  ]
  assert stdin.time_limit_s == 6.0  # lcb_runner's default timeout
  pairs = problems["lc_pairs"].grader  # plain private tests, functional
  assert pairs.fn_name == "pairUp" and pairs.expected == [[[0, 1], [1, 2]], [[0, 1]]]
  minmax = problems["lc_minmax"].grader  # one JSON argument per input line
  assert [t.args for t in minmax.tests] == [[[3, 1, 2], 2], [[5], 1]]
  system, user = problems["lc_pairs"].messages
  assert system["role"] == "system" and system["content"].startswith("You are an expert Python")
  assert "### Format: You will use the following starter code" in user["content"]
  assert "```python\nclass Solution:\n    def pairUp" in user["content"]
  assert "Read the inputs from stdin" in problems["abc001_a"].messages[1]["content"]
  assert problems["lc_pairs"].difficulty == "medium" and problems["lc_pairs"].platform == "leetcode"


def test_date_windows_keep_both_edges_as_lcb_runner_does(tmp_path):
  dates = {
    "before_v5": "2024-07-31T23:59:59",
    "v5_first": "2024-08-01T00:00:00",
    "edge": "2025-02-01T00:00:00",  # in v5 and in v6: both edges are inclusive
    "edge_noon": "2025-02-01T12:00:00",  # after v5's end (midnight), inside v6
    "v6_last": "2025-05-01T00:00:00",
    "after_v6": "2025-05-01T00:00:01",
  }
  records = [lcb_data.record(qid, date, [("1", "1")], []) for qid, date in dates.items()]
  path = lcb_data.write(tmp_path / "dates.jsonl", records)
  ids = lambda **options: [
    p.question_id for p in load_benchmark("livecodebench", path, LoadOptions(**options)).problems
  ]
  assert ids(window="v5") == ["edge", "v5_first"]
  assert ids(window="v6") == ["edge", "edge_noon", "v6_last"]
  assert ids(start_date="2025-02-01") == ["after_v6", "edge", "edge_noon", "v6_last"]
  assert ids(end_date="2024-08-01") == ["before_v5", "v5_first"]
  with pytest.raises(EvalInputError, match="choose one of \\['v5', 'v6'\\]"):
    ids(window="v7")
  with pytest.raises(EvalInputError, match="YYYY-MM-DD"):
    ids(start_date="2024/08/01")
  with pytest.raises(EvalInputError, match="either --window or"):
    ids(window="v5", end_date="2025-01-01")


@pytest.mark.parametrize(
  "change, message",
  [
    ({"private_test_cases": "eJzLSM3JyVcozy/KSQEAGgQEXQ=="}, "field 'private_test_cases'"),
    ({"public_test_cases": "[{"}, "field 'public_test_cases'"),
    ({"platform": "hackerrank"}, "field 'platform'"),
    ({"contest_date": "yesterday"}, "field 'contest_date'"),
    ({"metadata": "[]"}, "field 'metadata'"),
    ({"question_content": None, "question_id": None}, "missing field"),
  ],
)
def test_malformed_release_lines_name_the_line_and_field(tmp_path, change, message):
  bad = {**lcb_data.SUM_STDIN, **change}
  bad = {key: value for key, value in bad.items() if value is not None}
  path = lcb_data.write(tmp_path / "bad.jsonl", [lcb_data.PAIRS_FUNCTIONAL, bad])
  with pytest.raises(EvalInputError, match=f"bad.jsonl:2: malformed .*{message}"):
    load_benchmark("livecodebench", path)


def test_private_tests_never_unpickle_objects():
  payload = lcb_data.compress([{"input": "1", "output": "1"}])
  assert livecodebench.decode_private_tests(payload) == [{"input": "1", "output": "1"}]
  import base64
  import os
  import pickle
  import zlib

  # os.system, not print: a Ray driver in the same process replaces builtins.print
  evil = base64.b64encode(zlib.compress(pickle.dumps(os.system))).decode()
  with pytest.raises(ValueError, match="refusing to load posix.system"):
    livecodebench.decode_private_tests(evil)


def test_bad_files_and_duplicates_stop_with_the_fix(tmp_path):
  with pytest.raises(EvalInputError, match="code_generation_lite"):
    load_benchmark("livecodebench", str(tmp_path / "missing.jsonl"))
  path = lcb_data.write(tmp_path / "dup.jsonl", [lcb_data.SUM_STDIN] * 2)
  with pytest.raises(EvalInputError, match="dup.jsonl:2: question_id 'abc001_a' already at"):
    load_benchmark("livecodebench", path)
  (tmp_path / "junk.jsonl").write_text("{not json\n")
  with pytest.raises(EvalInputError, match="junk.jsonl:1: not JSON"):
    load_benchmark("livecodebench", str(tmp_path / "junk.jsonl"))
  with pytest.raises(EvalInputError, match="choose one of humaneval, livecodebench, synthsmith"):
    load_benchmark("lcb")


@pytest.mark.parametrize("index", range(len(CASES)), ids=lambda i: f"case{i}")
def test_grading_follows_lcb_runner(graded, index):
  question_id, answer, outcome = CASES[index]
  sample = graded[index]
  assert sample.outcome == outcome, (answer, [v.to_json() for v in sample.verdicts])
  assert sample.passed == (outcome == "accepted")
  if outcome == "wrong_answer" and question_id == "abc001_a" and "print(3)" in answer:
    assert [v.verdict.value for v in sample.verdicts] == ["accepted", "wrong_answer"]


def test_grading_keeps_the_details(graded):
  tuple_pairs = graded[23].to_json()
  assert "returned [(0, 1), (1, 2)], expected [[0, 1], [1, 2]]" in tuple_pairs["failure"]["message"]
  crash = graded[8].to_json()
  assert "ValueError: crash" in crash["failure"]["stderr"] and crash["tests"] == ["runtime_error"]
  assert json.dumps(graded[0].to_json())  # plain JSON
