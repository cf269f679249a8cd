"""LiveCodeBench's grading rules, enforced through the sandboxed judge.

lcb_runner (lcb_runner/evaluation/testing_util.py) execs answers in its own process; here
the same program text runs in the judge's sandbox and every comparison happens outside it:

- stdin problems: the code is rewritten as ``grade_stdio`` does (``clean_if_name``: a final
  ``if __name__ == '__main__':`` block is unwrapped; ``make_function``: top-level imports stay,
  everything else becomes the body of ``wrapped_function``, after LiveCodeBench's import
  prelude), then ``wrapped_function()`` runs once per test in the stdin/stdout environment
  ``call_method`` and ``Capturing`` give it (``_STDIO_CALL``). A stdin program that defines
  ``class Solution`` fails, as lcb_runner's ``compile_code`` makes it. Output is compared by the ``livecodebench`` checker: both texts
  stripped, split on "\\n", each line stripped; equal line counts; each line equal as text or,
  failing that, as a list of ``Decimal`` tokens (so ``3.0`` matches ``3``, ``1e2`` matches
  ``100``, and ``0.30000001`` does not match ``0.3``).
- functional problems (``metadata.func_name``): the prelude + code, then
  ``Solution().<func_name>`` when the code contains ``class Solution``, else the module-level
  function, called with the test's newline-separated JSON-decoded arguments. The return
  value comes back as tagged plain data (tuples, sets, dicts with any keys survive), a
  top-level tuple becomes a list, and it must ``==`` the JSON-decoded expected output
  (Python equality: ``True == 1`` and ``3 == 3.0`` hold, nested tuples do not equal lists).
- A sample passes only when every public and private test passes; grading stops at the first
  test that does not (wrong answer, crash, or time limit: each fails the sample).
- The answer runs in lcb_runner's process state: ``reliability_guard()`` (``quit``,
  ``os.getcwd`` and other functions set to None, ``import resource`` refused), the module
  name ``tmp_sol`` (``__main__`` guards other than a final one do not run), and
  ``sys.set_int_max_str_digits(50000)``.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from decimal import Decimal
from typing import Any

from xcoder_jax import judge
from xcoder_jax.eval.types import Grader
from xcoder_jax.judge.extract import parse_python

TIME_LIMIT_S = 6.0  # lcb_runner's --timeout default (seconds per test)
# lcb_runner imposes no memory limit (reliability_guard() is called without one); a sandbox
# needs some, so a generous one that only runaway programs reach.
MEMORY_MB = 4096
CHECKER = "livecodebench"
ENTRY = "_xcoder_lcb_entry"

# lcb_runner's import prelude (testing_util.import_string), verbatim: answers rely on it.
IMPORT_PRELUDE = (
  "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
  "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\n"
  "from random import *\nfrom statistics import *\nfrom itertools import *\n"
  "from functools import *\nfrom operator import *\nfrom io import *\nfrom sys import *\n"
  "from json import *\nfrom builtins import *\nfrom typing import *\nimport string\nimport re\n"
  "import datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\nimport math\n"
  "import random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
  "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n"
)
# The process lcb_runner runs answers in: its reliability_guard() (functions set to None, a
# few modules made unimportable: `import resource` fails there), the int-to-str digit limit
# its evaluator raises, and the module name its answers are exec'd under.
_DISABLED_OS = (
  "kill system putenv remove removedirs rmdir fchdir setuid fork forkpty killpg rename renames "
  "truncate replace unlink fchmod fchown chmod chown chroot lchflags lchmod lchown getcwd chdir"
).split()
_RUNTIME = f"""import builtins as _lcb_builtins, faulthandler as _lcb_faulthandler
import os as _lcb_os, shutil as _lcb_shutil, subprocess as _lcb_subprocess, sys as _lcb_sys
_lcb_faulthandler.disable()
_lcb_builtins.quit = None
_lcb_os.environ["OMP_NUM_THREADS"] = "1"
for _lcb_name in {_DISABLED_OS!r}:
    setattr(_lcb_os, _lcb_name, None)
_lcb_shutil.rmtree = _lcb_shutil.move = _lcb_shutil.chown = None
_lcb_subprocess.Popen = None
_lcb_builtins.help = None
for _lcb_name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
    _lcb_sys.modules[_lcb_name] = None
_lcb_sys.set_int_max_str_digits(50000)
__name__ = "tmp_sol"
"""
# How lcb_runner's call_method/Capturing present stdin and stdout to wrapped_function (seen
# by probing it): stdin.read() is always the whole input; readline() (and input()) walk a
# text buffer; readlines() is the input split on "\n"; stdin.buffer has read() (all bytes) and
# readline() (always the first line); stdin is not iterable; open(0) and os.read(0) see an
# empty stdin, builtins.open(...) the input; stdout is a text buffer without .buffer whose
# close() raises; os-level writes to fd 1 are not captured; SystemExit ends the run normally.
_STDIO_CALL = """

def _lcb_run_stdio():
    import builtins, io, os, sys, types
    text = sys.stdin.read()
    data = text.encode("utf-8")
    empty = os.open(os.devnull, os.O_RDWR)
    os.dup2(empty, 0)
    real_stdout = os.dup(1)
    lines = io.StringIO(text)

    class LcbStdin:
        buffer = types.SimpleNamespace(
            read=lambda *args: data, readline=lambda *args: data.split(b"\\n")[0] + b"\\n"
        )

        def read(self, *args):
            return text

        def readline(self, *args):
            return lines.readline(*args)

        def readlines(self, *args):
            return text.split("\\n")

        def __getattr__(self, name):
            return getattr(lines, name)

    captured = io.StringIO()
    captured.close = lambda unused: 1
    saved = sys.stdin, sys.stdout, builtins.open
    sys.stdin, sys.stdout = LcbStdin(), captured
    builtins.open = lambda *args, **kwargs: io.StringIO(text)
    os.dup2(empty, 1)
    try:
        wrapped_function()
    except SystemExit:
        pass
    finally:
        saved[1].flush()
        os.dup2(real_stdout, 1)
        sys.stdin, sys.stdout, builtins.open = saved
    sys.stdout.write(captured.getvalue())


_lcb_run_stdio()
"""
# Return values as tagged plain data, built with builtins the answer cannot have shadowed.
_CALL_SUFFIX = """

import builtins as _xcoder_builtins


def _xcoder_lcb_plain(value, b=_xcoder_builtins):
    if value is None or b.isinstance(value, b.bool):
        return value
    for kind in (b.int, b.float, b.str):
        if b.isinstance(value, kind):
            return kind(value)
    if b.isinstance(value, b.list):
        return [_xcoder_lcb_plain(item) for item in value]
    if b.isinstance(value, b.tuple):
        return {"t": [_xcoder_lcb_plain(item) for item in value]}
    if b.isinstance(value, b.dict):
        return {"d": [[_xcoder_lcb_plain(k), _xcoder_lcb_plain(v)] for k, v in value.items()]}
    if b.isinstance(value, (b.set, b.frozenset)):
        tag = "f" if b.isinstance(value, b.frozenset) else "s"
        return {tag: [_xcoder_lcb_plain(item) for item in value]}
    return {"o": b.type(value).__name__}


def %s(*args):
    method = %s
    return _xcoder_lcb_plain(method(*args))
"""


def _stripped_lines(text: str) -> list[str]:
  return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
  try:
    return [Decimal(token) for token in line.split()]
  except ArithmeticError:
    return None


@judge.register_checker(CHECKER)
def lines_match(output: str, expected: str) -> bool:
  """lcb_runner's stdin rule: stripped lines equal as text or as Decimal token lists."""
  got, want = _stripped_lines(output), _stripped_lines(expected)
  if len(got) != len(want):
    return False
  for got_line, want_line in zip(got, want):
    if got_line == want_line:
      continue
    got_numbers, want_numbers = _decimals(got_line), _decimals(want_line)
    try:
      if got_numbers is None or want_numbers is None or got_numbers != want_numbers:
        return False
    except ArithmeticError:  # signalling NaN: lcb_runner's comparison raises, the test fails
      return False
  return True


def _without_main_guard(code: str) -> str:
  """clean_if_name: unwraps a final ``if __name__ == '__main__':`` block."""
  try:
    body = parse_python(code).body
    last = body[-1]
    if isinstance(last, ast.If) and ast.unparse(last.test).strip() == "__name__ == '__main__'":
      return ast.unparse(body[:-1]) + "\n" + ast.unparse(last.body)
  except Exception:  # lcb_runner keeps the code as it was on any failure
    pass
  return code


def stdio_program(code: str) -> str | None:
  """The program lcb_runner runs for a stdin answer; None when the code does not parse
  (lcb_runner then fails the sample)."""
  code = _without_main_guard(code)
  try:
    body = parse_python(code).body
    imports = [stmt for stmt in body if isinstance(stmt, (ast.Import, ast.ImportFrom))]
    wrapped = ast.FunctionDef(
      name="wrapped_function",
      args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
      body=[stmt for stmt in body if not isinstance(stmt, (ast.Import, ast.ImportFrom))],
      decorator_list=[],
      lineno=-1,
    )
    program = IMPORT_PRELUDE + "\n" + ast.unparse(imports) + "\n" + ast.unparse(wrapped)
  except Exception:  # lcb_runner would exec the unparseable code and fail the sample
    return None
  return _RUNTIME + program + _STDIO_CALL


def call_program(code: str, fn_name: str) -> str:
  """The program for a functional answer; the judge calls ``ENTRY(*args)``."""
  program = IMPORT_PRELUDE + "\n\n" + code
  if "class Solution" in program:
    method = f"_xcoder_builtins.getattr(Solution(), {fn_name!r})"
  else:
    method = f"_xcoder_builtins.globals()[{fn_name!r}]"
  return _RUNTIME + program + _CALL_SUFFIX % (ENTRY, method)


class _Opaque:
  """A returned object that is not plain data: equal to nothing, as in lcb_runner."""

  def __init__(self, type_name: str):
    self.type_name = type_name

  def __repr__(self) -> str:
    return f"<{self.type_name}>"


_TAGS = {
  "t": lambda items: tuple(decode_value(item) for item in items),
  "s": lambda items: {decode_value(item) for item in items},
  "f": lambda items: frozenset(decode_value(item) for item in items),
  "d": lambda pairs: {decode_value(key): decode_value(item) for key, item in pairs},
  "o": _Opaque,
}


def decode_value(data: Any) -> Any:
  """Rebuilds builtin values from the tagged plain data an answer's return value became."""
  if data is None or type(data) in (bool, int, float, str):
    return data
  if type(data) is list:
    return [decode_value(item) for item in data]
  if type(data) is dict and len(data) == 1:
    [(tag, payload)] = data.items()
    if tag in _TAGS:
      return _TAGS[tag](payload)
  raise ValueError("malformed return value")


def returned_value(captured: str | None) -> Any:
  """The value as lcb_runner compares it: decoded, a top-level tuple made a list."""
  value = decode_value(json.loads(captured or "null"))
  return list(value) if isinstance(value, tuple) else value


def _short(value: Any, limit: int = 200) -> str:
  text = repr(value)
  return text if len(text) <= limit else text[: limit // 2] + " ... " + text[-limit // 2 :]


class StdioGrader(Grader):
  """A stdin/stdout problem graded by lcb_runner's ``grade_stdio`` rules."""

  def __init__(self, tests: list[tuple[str, str]], time_limit_s: float, memory_mb: int):
    self.tests = [judge.TestCase(input=stdin, output=stdout) for stdin, stdout in tests]
    self.num_tests = len(self.tests)
    self.time_limit_s, self.memory_mb = time_limit_s, memory_mb

  def submission(self, code: str) -> judge.Submission | judge.Verdict:
    program = stdio_program(code)
    if program is None:
      return judge.Verdict(judge.Outcome.COMPILE_ERROR, message="the code does not parse")
    if "class Solution" in program:  # lcb_runner's compile_code then calls tmp_sol.Solution()
      return judge.Verdict(
        judge.Outcome.RUNTIME_ERROR,
        message="lcb_runner fails stdin programs that define class Solution: it instantiates "
        "a module-level Solution, and the program's is nested in wrapped_function",
      )
    return judge.Submission(
      program,
      self.tests,
      checker=CHECKER,
      early_exit=True,
      time_limit_s=self.time_limit_s,
      memory_mb=self.memory_mb,
    )


class CallGrader(Grader):
  """A functional problem graded by lcb_runner's ``grade_call_based`` rules."""

  def __init__(
    self,
    fn_name: str,
    tests: list[tuple[list[Any], Any]],
    time_limit_s: float,
    memory_mb: int,
  ):
    self.fn_name = fn_name
    self.expected = [expected for _, expected in tests]
    self.tests = [judge.TestCase(args=args) for args, _ in tests]
    self.num_tests = len(self.tests)
    self.time_limit_s, self.memory_mb = time_limit_s, memory_mb

  def submission(self, code: str) -> judge.Submission:
    return judge.Submission(
      call_program(code, self.fn_name),
      self.tests,
      kind="function",
      fn_name=ENTRY,
      capture_output=True,
      early_exit=True,
      time_limit_s=self.time_limit_s,
      memory_mb=self.memory_mb,
    )

  def verdicts(self, result: judge.SubmissionResult) -> list[judge.Verdict]:
    """Compares each captured return value; stops at the first test that fails."""
    verdicts = []
    for verdict, expected in zip(result.verdicts, self.expected):
      if verdict.accepted:
        try:
          value = returned_value(verdict.output)
          right = value == expected
        except (ValueError, TypeError, RecursionError):
          value, right = "<unreadable return value>", False
        outcome = judge.Outcome.ACCEPTED if right else judge.Outcome.WRONG_ANSWER
        message = "" if right else f"returned {_short(value)}, expected {_short(expected)}"
        verdict = dataclasses.replace(verdict, verdict=outcome, message=message)
      verdicts.append(verdict)
      if not verdict.accepted:
        break
    return verdicts
