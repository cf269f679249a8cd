"""The judge's data: what is submitted, what comes back."""

import base64
import dataclasses
import enum
import json
from typing import Any


class Outcome(str, enum.Enum):
  """A competitive-programming verdict; JUDGE_ERROR is the judge's fault, never the program's."""

  ACCEPTED = "accepted"
  WRONG_ANSWER = "wrong_answer"
  TIME_LIMIT = "time_limit"
  MEMORY_LIMIT = "memory_limit"
  RUNTIME_ERROR = "runtime_error"
  COMPILE_ERROR = "compile_error"
  OUTPUT_LIMIT = "output_limit"
  JUDGE_ERROR = "judge_error"


class TestKind(str, enum.Enum):
  """How a program is exercised."""

  STDIO = "stdio"  # stdin -> stdout
  LEETCODE = "leetcode"  # Solution().fn_name(*args)
  FUNCTION = "function"  # fn_name(*args) (LiveCodeBench functional)
  CHECK = "check"  # HumanEval: a check(candidate) program run on fn_name


class _Unset(enum.Enum):
  """A sentinel that survives copying and pickling (an Enum member is a singleton)."""

  MISSING = "missing"


MISSING = _Unset.MISSING  # TestCase.expected when none was given (None is JSON null)
# TESTS.jsonl fields of each kind: name -> (required, type); object = any JSON value.
_RECORD_FIELDS = {
  TestKind.STDIO: {
    "input": (False, str),
    "output": (True, str),
    "files": (False, dict),
    "fetch_files": (False, list),
  },
  TestKind.LEETCODE: {"args": (True, list), "expected": (True, object), "fn_name": (False, str)},
  TestKind.FUNCTION: {"args": (True, list), "expected": (True, object), "fn_name": (False, str)},
  TestKind.CHECK: {"check": (True, str), "fn_name": (False, str)},
}


def _json_name(value: Any) -> str:
  names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
  names.update({int: "a number", float: "a number", type(None): "null"})
  return names.get(type(value), type(value).__name__)


@dataclasses.dataclass(frozen=True)
class TestCase:
  """One test. STDIO uses input/output; LEETCODE and FUNCTION use args/expected;
  CHECK uses check_source (a program defining ``check(candidate)``). Only capture mode
  runs tests without an expected output."""

  input: str = ""
  output: str | None = None
  args: tuple[Any, ...] | list[Any] = ()
  expected: Any = MISSING
  check_source: str | None = None
  # stdio only: files placed in the run's directory first (relative path -> base64 content,
  # SandboxFusion's form), and files read back after the run into ``Verdict.files``.
  files: dict[str, str] = dataclasses.field(default_factory=dict)
  fetch_files: tuple[str, ...] = ()

  @staticmethod
  def record_kind(record: Any) -> TestKind:
    """The kind a TESTS.jsonl record implies: check, function (args) or stdio."""
    if isinstance(record, dict) and "check" in record:
      return TestKind.CHECK
    return TestKind.FUNCTION if isinstance(record, dict) and "args" in record else TestKind.STDIO

  @classmethod
  def from_json(
    cls, record: Any, kind: TestKind | str, where: str = "test", capture_output: bool = False
  ) -> "TestCase":
    """Reads a TESTS.jsonl record of ``kind``; a ValueError names ``where`` and the field.
    In capture mode the expected output may be left out."""
    kind = TestKind(kind)
    fields = _RECORD_FIELDS[kind]
    if not isinstance(record, dict):
      raise ValueError(f"{where}: a test must be a JSON object, got {_json_name(record)}")
    for name in record:
      if name not in fields:
        raise ValueError(
          f"{where}: field {name!r} does not belong in a {kind.value} test "
          f"(its fields: {', '.join(fields)})"
        )
    for name, (required, kind_of) in fields.items():
      if name not in record:
        if required and not (capture_output and name in ("output", "expected")):
          raise ValueError(f"{where}: field {name!r} is missing ({kind.value} tests need it)")
      elif kind_of is not object and not isinstance(record[name], kind_of):
        raise ValueError(
          f"{where}: field {name!r} must be {_json_name(kind_of())}, got {_json_name(record[name])}"
        )
    if kind == TestKind.CHECK:
      return cls(check_source=record["check"])
    if kind == TestKind.STDIO:
      return cls(
        input=record.get("input", ""),
        output=record.get("output"),
        files=record.get("files", {}),
        fetch_files=tuple(record.get("fetch_files", ())),
      )
    return cls(args=record["args"], expected=record.get("expected", MISSING))

  def to_json(self, kind: TestKind | str) -> dict[str, Any]:
    """The TESTS.jsonl record of this test (``from_json``'s inverse)."""
    kind = TestKind(kind)
    if kind == TestKind.CHECK:
      return {"check": self.check_source}
    if kind == TestKind.STDIO:
      record = {"input": self.input} | ({} if self.output is None else {"output": self.output})
      if self.files:
        record["files"] = dict(self.files)
      if self.fetch_files:
        record["fetch_files"] = list(self.fetch_files)
      return record
    return {"args": list(self.args)} | (
      {} if self.expected is MISSING else {"expected": self.expected}
    )


def check_tests(tests: Any, kind: TestKind | str, capture_output: bool = False) -> None:
  """Refuses tests a submission of ``kind`` cannot be judged on, naming the test and field:
  wrong types, and (outside capture mode) a missing expected output or no tests at all."""
  kind = TestKind(kind)
  if not capture_output and not tests:
    raise ValueError("a submission needs at least one test (no tests would judge nothing)")
  for number, test in enumerate(tests, 1):
    where = f"test {number}"
    if not isinstance(test, TestCase):
      raise ValueError(f"{where}: expected a TestCase, got {type(test).__name__}")
    if kind == TestKind.CHECK:
      if not isinstance(test.check_source, str) or not test.check_source.strip():
        raise ValueError(f"{where}: field 'check_source' must hold a check(candidate) program")
    elif kind == TestKind.STDIO:
      if not isinstance(test.input, str):
        raise ValueError(f"{where}: field 'input' must be a string, got {_json_name(test.input)}")
      if test.output is None and not capture_output:
        raise ValueError(f"{where}: field 'output' is missing: nothing to compare the run with")
      if test.output is not None and not isinstance(test.output, str):
        raise ValueError(f"{where}: field 'output' must be a string, got {_json_name(test.output)}")
      check_files(test.files, test.fetch_files, where)
    else:
      if test.files or test.fetch_files:
        raise ValueError(f"{where}: files and fetch_files work with stdio tests only")
      if not isinstance(test.args, (list, tuple)):
        raise ValueError(f"{where}: field 'args' must be a list, got {_json_name(test.args)}")
      if test.expected is MISSING and not capture_output:
        raise ValueError(f"{where}: field 'expected' is missing: nothing to compare the run with")
      for name in ("args", "expected"):
        try:
          json.dumps(None if getattr(test, name) is MISSING else getattr(test, name))
        except (TypeError, ValueError):
          raise ValueError(f"{where}: field {name!r} must be JSON data") from None


def check_path(path: Any, where: str) -> None:
  """A file path a test may name: relative, inside the run's directory, no '..' part."""
  parts = path.split("/") if isinstance(path, str) else []
  if not parts or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
    raise ValueError(
      f"{where}: file path {path!r} must be relative to the run's directory, without '..', "
      "'.' or empty parts (e.g. 'data/input.txt')"
    )


def check_files(files: Any, fetch_files: Any, where: str) -> None:
  """``files`` maps paths to base64 text; ``fetch_files`` lists paths (``check_path``)."""
  if not isinstance(files, dict):
    raise ValueError(f"{where}: field 'files' must be an object, got {_json_name(files)}")
  for path, content in files.items():
    check_path(path, where)
    try:
      base64.b64decode(content, validate=True)
    except (TypeError, ValueError):
      raise ValueError(f"{where}: file {path!r} must be base64 text") from None
  if not isinstance(fetch_files, (list, tuple)):
    raise ValueError(f"{where}: field 'fetch_files' must be a list, got {_json_name(fetch_files)}")
  for path in fetch_files:
    check_path(path, where)


@dataclasses.dataclass(frozen=True)
class SpecialJudge:
  """A task-supplied checker program, run sandboxed like the solution.

  It is called testlib-style as ``checker input.txt output.txt answer.txt`` in its private
  directory; exit 0 accepts, exit 1 (or 2) rejects, anything else is a judge_error.
  """

  source: str
  lang: str = "python"


@dataclasses.dataclass(frozen=True)
class Submission:
  """A program and the tests to run it on."""

  source: str
  tests: tuple[TestCase, ...] | list[TestCase]
  lang: str = "python"  # a language of the judge's table (languages.py), or an alias
  kind: TestKind | str = TestKind.STDIO
  fn_name: str | None = None
  time_limit_s: float = 10.0
  memory_mb: int = 256
  checker: str | SpecialJudge = "exact"
  early_exit: bool = False  # stop at the first test that is not accepted
  # Capture mode (output voting): nothing is compared; a run that completes is ACCEPTED and
  # its full stdout (stdio) or canonical JSON return value (leetcode/function) is returned
  # in Verdict.output, up to the judge's output cap.
  capture_output: bool = False
  # CPU seconds the compile step may take (wall: twice that plus 1 s); None: the judge's
  # RunLimits.compile_time_s. Languages without a compile step ignore it.
  compile_time_s: float | None = None


@dataclasses.dataclass
class Verdict:
  """The result of one test."""

  verdict: Outcome
  time_s: float = 0.0
  cpu_s: float = 0.0
  stdout: str = ""  # excerpt
  stderr: str = ""  # excerpt
  exit_code: int | None = None
  signal: int | None = None
  message: str = ""  # why, in words
  output: str | None = None  # full output, only with Submission.capture_output
  files: dict[str, str] = dataclasses.field(default_factory=dict)  # fetched: path -> base64

  @property
  def accepted(self) -> bool:
    return self.verdict == Outcome.ACCEPTED

  def to_json(self) -> dict:
    record = dataclasses.asdict(self)
    record["verdict"] = self.verdict.value
    return record

  @classmethod
  def from_json(cls, record: dict) -> "Verdict":
    return cls(**{**record, "verdict": Outcome(record["verdict"])})


@dataclasses.dataclass
class SubmissionResult:
  """All verdicts of one submission (fewer than its tests when it stopped early)."""

  verdicts: list[Verdict]
  num_tests: int

  @property
  def accepted(self) -> bool:
    return 0 < len(self.verdicts) == self.num_tests and all(v.accepted for v in self.verdicts)

  @property
  def pass_fraction(self) -> float:
    passed = sum(v.accepted for v in self.verdicts)
    return passed / self.num_tests if self.num_tests else 0.0
