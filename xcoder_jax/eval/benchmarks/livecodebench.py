"""LiveCodeBench code generation: the ``code_generation_lite`` release JSONL a user downloads.

One JSON object per line with ``question_title, question_content, platform, question_id,
contest_id, contest_date`` (ISO), ``starter_code, difficulty``, ``public_test_cases`` (a JSON
string), ``private_test_cases`` (a JSON string, or base64 of zlib of a pickled JSON string),
and ``metadata`` (a JSON string; ``func_name`` marks a functional problem). Read as
lcb_runner's ``CodeGenerationProblem`` reads it; graded by ``xcoder_jax.eval.lcb_grading``.

Date windows follow lcb_runner's ``load_code_generation_dataset``: ``start_date`` and
``end_date`` (YYYY-MM-DD) become midnight datetimes and a problem is kept when
``start <= contest_date <= end`` (both edges inclusive).
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from datetime import datetime
from typing import Any

from xcoder_jax.eval import jsonl, lcb_grading
from xcoder_jax.eval.types import BENCHMARKS, Benchmark, EvalInputError, LoadOptions, Problem

WINDOWS = {"v5": ("2024-08-01", "2025-02-01"), "v6": ("2025-02-01", "2025-05-01")}
PLATFORMS = ("leetcode", "codeforces", "atcoder")
DIFFICULTIES = ("easy", "medium", "hard")
_FIELDS = (
  "question_title",
  "question_content",
  "platform",
  "question_id",
  "contest_id",
  "contest_date",
  "starter_code",
  "difficulty",
  "public_test_cases",
  "private_test_cases",
  "metadata",
)
DOWNLOAD_HINT = (
  "download the release files (test.jsonl ... test6.jsonl) of the Hugging Face dataset "
  "livecodebench/code_generation_lite and pass them as --data=FILE[,FILE...]"
)

# lcb_runner's prompt for chat models (prompts/code_generation.py, generic template), verbatim.
SYSTEM_MESSAGE = (
  "You are an expert Python programmer. You will be given a question (problem specification) "
  "and will generate a correct Python program that matches the specification and passes all "
  "tests."
)
FORMAT_WITH_STARTER_CODE = (
  "You will use the following starter code to write the solution to the problem and enclose "
  "your code within delimiters."
)
FORMAT_STDIN = (
  "Read the inputs from stdin solve the problem and write the answer to stdout (do not "
  "directly test on the sample inputs). Enclose your code within delimiters as follows. Ensure "
  "that when the python program runs, it reads the inputs, runs the algorithm and writes output "
  "to STDOUT."
)


def prompt_messages(question_content: str, starter_code: str) -> tuple[dict[str, str], ...]:
  """System message + question + format instructions, as lcb_runner asks chat models."""
  prompt = f"### Question:\n{question_content}\n\n"
  if starter_code:
    prompt += f"### Format: {FORMAT_WITH_STARTER_CODE}\n```python\n{starter_code}\n```\n\n"
  else:
    prompt += f"### Format: {FORMAT_STDIN}\n```python\n# YOUR CODE HERE\n```\n\n"
  prompt += "### Answer: (use the provided format with backticks)\n\n"
  return ({"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": prompt})


def parse_day(text: str, flag: str) -> datetime:
  try:
    return datetime.strptime(text, "%Y-%m-%d")
  except ValueError:
    raise EvalInputError(f"--{flag}={text!r} is not a date; write it as YYYY-MM-DD") from None


def date_range(options: LoadOptions) -> tuple[datetime | None, datetime | None]:
  """(start, end) from a named window or explicit dates (not both)."""
  if options.window:
    if options.start_date or options.end_date:
      raise EvalInputError("give either --window or --start_date/--end_date, not both")
    if options.window not in WINDOWS:
      raise EvalInputError(f"unknown --window={options.window!r}; choose one of {list(WINDOWS)}")
    start, end = WINDOWS[options.window]
    return parse_day(start, "window"), parse_day(end, "window")
  start = parse_day(options.start_date, "start_date") if options.start_date else None
  end = parse_day(options.end_date, "end_date") if options.end_date else None
  return start, end


def in_range(contest_date: datetime, start: datetime | None, end: datetime | None) -> bool:
  return (start is None or start <= contest_date) and (end is None or contest_date <= end)


class _StringsOnly(pickle.Unpickler):
  """The private tests are a pickled str: refuse anything that would import or call."""

  def find_class(self, module, name):
    raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the test data")


def decode_private_tests(text: str) -> Any:
  """JSON, else lcb_runner's compressed form base64(zlib(pickle(JSON string)))."""
  try:
    return json.loads(text)
  except json.JSONDecodeError:
    pass
  try:
    raw = zlib.decompress(base64.b64decode(text.encode("utf-8")))
    payload = _StringsOnly(io.BytesIO(raw)).load()
  except Exception as error:  # any malformed byte string: say what was expected
    raise ValueError(f"neither JSON nor base64(zlib(pickle(JSON))): {error}") from None
  if not isinstance(payload, (str, bytes)):
    raise ValueError(f"the compressed payload is a {type(payload).__name__}, not a JSON string")
  return json.loads(payload)


def _tests(value: Any, field: str) -> list[tuple[str, str]]:
  if not isinstance(value, list):
    raise ValueError(f"{field} must hold a JSON list of tests")
  tests = []
  for index, test in enumerate(value):
    fields = (test.get("input"), test.get("output")) if isinstance(test, dict) else (None,)
    if not all(isinstance(field_value, str) for field_value in fields):
      raise ValueError(f"{field}[{index}] needs string 'input' and 'output'")
    tests.append((test["input"], test["output"]))
  return tests


def _call_tests(tests: list[tuple[str, str]]) -> list[tuple[list[Any], Any]]:
  """Arguments: one JSON value per input line; expected: the JSON output (as lcb_runner)."""
  decoded = []
  for index, (stdin, stdout) in enumerate(tests):
    try:
      args = [json.loads(line) for line in stdin.split("\n")]
      expected = json.loads(stdout)
    except json.JSONDecodeError as error:
      raise ValueError(
        f"functional test {index} (public, then private): not one JSON value per line ({error})"
      ) from None
    decoded.append((args, expected))
  return decoded


def _parse(record: Any, options: dict) -> tuple[Problem, datetime]:
  if not isinstance(record, dict):
    raise ValueError("not a JSON object")
  missing = [field for field in _FIELDS if field not in record]
  if missing:
    raise ValueError(f"missing field(s) {missing}")
  for field in ("platform", "difficulty"):
    allowed = PLATFORMS if field == "platform" else DIFFICULTIES
    if record[field] not in allowed:
      raise ValueError(f"field '{field}': {record[field]!r} is not one of {list(allowed)}")
  try:
    contest_date = datetime.fromisoformat(record["contest_date"])
  except (TypeError, ValueError):
    raise ValueError(f"field 'contest_date': {record['contest_date']!r} is not ISO") from None
  if contest_date.tzinfo is not None:
    raise ValueError("field 'contest_date': give a date without a time zone, as the release does")
  try:
    public = json.loads(record["public_test_cases"])
  except (TypeError, ValueError) as error:
    raise ValueError(f"field 'public_test_cases': not a JSON string ({error})") from None
  try:
    private = decode_private_tests(record["private_test_cases"])
  except (TypeError, AttributeError, ValueError) as error:
    raise ValueError(f"field 'private_test_cases': {error}") from None
  tests = _tests(public, "public_test_cases") + _tests(private, "private_test_cases")
  try:
    metadata = json.loads(record["metadata"])
  except (TypeError, json.JSONDecodeError):
    raise ValueError("field 'metadata': not a JSON string of an object") from None
  if not isinstance(metadata, dict):
    raise ValueError("field 'metadata': not a JSON string of an object")
  if not tests:
    raise ValueError("no public or private tests")
  fn_name = metadata.get("func_name")
  if fn_name is None:
    grader = lcb_grading.StdioGrader(tests, **options)
  else:
    grader = lcb_grading.CallGrader(str(fn_name), _call_tests(tests), **options)
  problem = Problem(
    question_id=str(record["question_id"]),
    messages=prompt_messages(record["question_content"], record["starter_code"] or ""),
    grader=grader,
    difficulty=record["difficulty"],
    platform=record["platform"],
    contest_date=contest_date,
  )
  return problem, contest_date


def read_problems(paths: list[str], options: dict) -> list[tuple[Problem, datetime]]:
  """Every problem in the files; a bad line stops with its file, line and field."""
  found, seen = [], {}
  for path in paths:
    for where, line in jsonl.records(path, "--data file", DOWNLOAD_HINT):
      try:
        problem, date = _parse(line, options)
      except ValueError as error:
        raise EvalInputError(
          f"{where}: malformed LiveCodeBench record: {error}; {DOWNLOAD_HINT}"
        ) from None
      if problem.question_id in seen:
        raise EvalInputError(
          f"{where}: question_id {problem.question_id!r} already at {seen[problem.question_id]}"
          "; pass each release file once"
        )
      seen[problem.question_id] = where
      found.append((problem, date))
  return found


@BENCHMARKS.register("livecodebench")
def load(data: str | None, options: LoadOptions) -> Benchmark:
  if not data:
    raise EvalInputError(f"--benchmark=livecodebench needs --data; {DOWNLOAD_HINT}")
  start, end = date_range(options)
  limits = {
    "time_limit_s": options.time_limit_s or lcb_grading.TIME_LIMIT_S,
    "memory_mb": options.memory_mb or lcb_grading.MEMORY_MB,
  }
  paths = [path for path in data.split(",") if path]
  problems = [p for p, date in read_problems(paths, limits) if in_range(date, start, end)]
  problems.sort(key=lambda problem: problem.question_id)  # lcb_runner's order
  return Benchmark(
    name="livecodebench",
    problems=problems,
    extraction="lcb",
    grading=(
      "livecodebench: lcb_runner testing_util rules (stripped lines with Decimal equality; "
      "Solution().func_name(*json args) with tuple->list and ==; every public and private "
      "test must pass)"
    ),
    settings={
      **limits,
      "data": paths,
      "window": options.window,
      "start_date": start.date().isoformat() if start else None,
      "end_date": end.date().isoformat() if end else None,
    },
    date_windows={
      name: (parse_day(a, "window"), parse_day(b, "window")) for name, (a, b) in WINDOWS.items()
    },
  )
