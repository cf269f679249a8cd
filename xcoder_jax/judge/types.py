"""The judge's data: what is submitted, what comes back."""

import dataclasses
import enum
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


@dataclasses.dataclass(frozen=True)
class TestCase:
  """One test. STDIO uses input/output; LEETCODE and FUNCTION use args/expected;
  CHECK uses check_source (a program defining ``check(candidate)``)."""

  input: str = ""
  output: str | None = None
  args: tuple[Any, ...] | list[Any] = ()
  expected: Any = None
  check_source: str | None = None

  @classmethod
  def from_json(cls, record: dict) -> "TestCase":
    """Reads a TESTS.jsonl record: {"input","output"} or {"args","expected"} or {"check"}."""
    if "check" in record:
      return cls(check_source=record["check"])
    if "args" in record:
      return cls(args=list(record["args"]), expected=record.get("expected"))
    return cls(input=record.get("input", ""), output=record.get("output"))


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
  lang: str = "python"  # "python" or "cpp"
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

  @property
  def accepted(self) -> bool:
    return self.verdict == Outcome.ACCEPTED

  def to_json(self) -> dict:
    record = dataclasses.asdict(self)
    record["verdict"] = self.verdict.value
    return record


@dataclasses.dataclass
class SubmissionResult:
  """All verdicts of one submission (fewer than its tests when it stopped early)."""

  verdicts: list[Verdict]
  num_tests: int

  @property
  def accepted(self) -> bool:
    return len(self.verdicts) == self.num_tests and all(v.accepted for v in self.verdicts)

  @property
  def pass_fraction(self) -> float:
    passed = sum(v.accepted for v in self.verdicts)
    return passed / self.num_tests if self.num_tests else 0.0
