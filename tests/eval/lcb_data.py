"""LiveCodeBench records in the real ``code_generation_lite`` release format, built here."""

import base64
import json
import pickle
import zlib


def compress(tests: list[dict]) -> str:
  """The release's compressed private tests: base64(zlib(pickle(JSON string)))."""
  return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode("utf-8")


def record(
  question_id: str,
  contest_date: str,
  public: list[tuple[str, str]],
  private: list[tuple[str, str]],
  func_name: str | None = None,
  compressed: bool = True,
  difficulty: str = "easy",
  platform: str | None = None,
  starter_code: str = "",
) -> dict:
  testtype = "functional" if func_name else "stdin"
  tests = lambda pairs: [{"input": i, "output": o, "testtype": testtype} for i, o in pairs]
  private_tests = tests(private)
  return {
    "question_title": f"title {question_id}",
    "question_content": f"Statement of {question_id}.",
    "platform": platform or ("leetcode" if func_name else "atcoder"),
    "question_id": question_id,
    "contest_id": "contest",
    "contest_date": contest_date,
    "starter_code": starter_code,
    "difficulty": difficulty,
    "public_test_cases": json.dumps(tests(public)),
    "private_test_cases": compress(private_tests) if compressed else json.dumps(private_tests),
    "metadata": json.dumps({"func_name": func_name} if func_name else {}),
  }


def write(path, records: list[dict]) -> str:
  with open(path, "w") as f:
    for item in records:
      f.write(json.dumps(item) + "\n")
  return str(path)


# a + b on stdin; public test "1 2", private tests that a hard-coded answer fails.
SUM_STDIN = record(
  "abc001_a",
  "2024-08-01T00:00:00",
  public=[("1 2\n", "3\n")],
  private=[("10 20\n", "30\n"), ("-5 5\n", "0\n")],
)
# Solution().pairUp(n) -> [[i, i + 1] for i < n], plain (uncompressed) private tests.
PAIRS_FUNCTIONAL = record(
  "lc_pairs",
  "2025-02-01T00:00:00",
  public=[("2", "[[0, 1], [1, 2]]")],
  private=[("1", "[[0, 1]]")],
  func_name="pairUp",
  compressed=False,
  difficulty="medium",
  starter_code="class Solution:\n    def pairUp(self, n: int) -> List[List[int]]:\n        ",
)
# Solution().minMax(nums, k) -> [min, max * k]: two arguments, one JSON value per line.
MINMAX_FUNCTIONAL = record(
  "lc_minmax",
  "2025-03-15T00:00:00",
  public=[("[3, 1, 2]\n2", "[1, 6]")],
  private=[("[5]\n1", "[5, 5]")],
  func_name="minMax",
  difficulty="hard",
)
