"""Tests enter the judge only when they can be judged: a schema for TESTS.jsonl records,
judge.TestCase lists and task records, with errors naming the line (or test) and field."""

import subprocess
import sys

import pytest

from xcoder_jax import judge
from xcoder_jax.judge import tasks

T = judge.TestCase


@pytest.mark.parametrize(
  "lines, message",
  [
    ('{"input": "1 2"}', ":1: field 'output' is missing"),  # used to accept any program
    ("", ": no tests"),
    ('[{"input": "1", "output": "1"}]', ":1: a test must be a JSON object, got a list"),
  ],
)
def test_cli_refuses_bad_tests_files_with_exit_2(tmp_path, lines, message):
  source, tests = tmp_path / "sol.py", tmp_path / "tests.jsonl"
  source.write_text("pass\n")
  tests.write_text(lines + "\n")
  command = [sys.executable, "-m", "xcoder_jax.judge", "--source", source, "--tests", tests]
  done = subprocess.run(command, capture_output=True, text=True, timeout=60)
  assert (done.returncode, done.stdout) == (2, ""), done.stderr
  assert f"{tests}{message}" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
  "record, kind, message",
  [
    ({"input": [1, 2], "output": "3"}, "stdio", "field 'input' must be a string, got a list"),
    ({"input": 5, "output": "3"}, "stdio", "field 'input' must be a string, got a number"),
    ({"input": "1", "output": 3}, "stdio", "field 'output' must be a string, got a number"),
    ({"input": "1", "outptu": "3"}, "stdio", "field 'outptu' does not belong"),
    ({"args": [1]}, "function", "field 'expected' is missing"),
    ({"args": "1", "expected": 1}, "leetcode", "field 'args' must be a list, got a string"),
    ({"input": "1", "output": "1"}, "leetcode", "field 'input' does not belong"),
    ({"check": 1}, "check", "field 'check' must be a string"),
    ("1 2", "stdio", "a test must be a JSON object, got a string"),
  ],
)
def test_records_are_checked_against_their_kind(record, kind, message):
  with pytest.raises(ValueError, match=f"^tests.jsonl:7: {message}"):
    T.from_json(record, kind, "tests.jsonl:7")


def test_from_json_keeps_null_as_an_expected_value():
  assert T.from_json({"args": [], "expected": None}, "function").expected is None
  assert T.from_json({"output": "3"}, "stdio") == T("", "3")


def test_programmatic_tests_and_checkers_are_checked_before_running():
  engine = judge.Judge(workers=1)
  refused = [
    (judge.Submission("pass", [T("1 2")]), "test 1: field 'output' is missing"),
    (judge.Submission("pass", []), "at least one test"),
    (judge.Submission("pass", [T("1", "1"), T(["1"], "1")]), "test 2: field 'input'"),
    (judge.Submission("pass", [T(args=[1])], kind="function", fn_name="f"), "'expected'"),
    (judge.Submission("pass", [T(args=[set()], expected=1)], kind="function", fn_name="f"), "JSON"),
    (judge.Submission("pass", [T(args=[], expected=1)], kind="function", fn_name="f",
                      checker="lines"), "returned values"),
    (judge.Submission("pass", [T(check_source="def check(c): pass")], kind="check", fn_name="f",
                      checker="float"), "own asserts"),
    (judge.Submission("pass", [T(args=[], expected=1)], kind="leetcode", fn_name="f",
                      checker=judge.SpecialJudge("pass")), "stdio tests only"),
  ]  # fmt: skip
  for submission, message in refused:
    with pytest.raises(ValueError, match=message):
      engine.run([submission])
  # Capture mode compares nothing, so it needs no expected outputs.
  judge.runner.validate(judge.Submission("pass", [T("1")], capture_output=True))
  assert not judge.SubmissionResult(verdicts=[], num_tests=0).accepted


def test_task_records_name_the_test_and_field():
  good = {"input": "1", "output": "1"}
  cases = [
    ([good, {"input": "1"}], "stdio", "test 2: field 'output' is missing"),
    ([{"input": 1, "output": "1"}], "stdio", "test 1: field 'input' must be a string, not int"),
    ([{"input": "[1]", "output": "{"}], "function", "test 1: field 'output' is not JSON"),
    ([{"input": "1", "output": "1"}], "function", "test 1: field 'input': call-style input"),
    (["1 2"], "stdio", "test 1: expected an object"),
    ([], "stdio", "at least one test"),
  ]
  for records, kind, message in cases:
    with pytest.raises(ValueError, match=message):
      tasks.graded_submission("pass", records, kind, "f" if kind != "stdio" else None)
  with pytest.raises(ValueError, match="input 2: not JSON"):
    tasks.capture_submission("pass", ["[1]", "x"], "function", "f")
