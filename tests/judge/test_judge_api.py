"""The judge's verdicts, limits, checkers, faults and CLI."""

import json
import subprocess
import sys

import pytest

from xcoder_jax import judge
from xcoder_jax.judge import checkers
from xcoder_jax.judge.sandbox import Sandbox

T = judge.TestCase
A_PLUS_B_PY = "a, b = map(int, input().split())\nprint(a + b)\n"
A_PLUS_B_CPP = (
  "#include <iostream>\nint main() { long long a, b; std::cin >> a >> b;"
  " std::cout << a + b << std::endl; }\n"
)
A_PLUS_B_TESTS = [T("1 2", "3"), T("100000000000 1", "100000000001\n"), T("0 0", " 0 ")]


@pytest.fixture(scope="module")
def engine():
  return judge.Judge(workers=2)


def outcomes(result):
  return [v.verdict.value for v in result.verdicts]


def test_stdio_python_and_cpp_batch(engine):
  wrong = A_PLUS_B_PY.replace("a + b", "a - b")
  results = engine.run(
    [
      judge.Submission(A_PLUS_B_PY, A_PLUS_B_TESTS),
      judge.Submission(A_PLUS_B_CPP, A_PLUS_B_TESTS, lang="cpp"),
      judge.Submission(wrong, A_PLUS_B_TESTS),
      judge.Submission(wrong, A_PLUS_B_TESTS, early_exit=True),
      judge.Submission("int main( {", A_PLUS_B_TESTS, lang="cpp"),
      judge.Submission("print(", A_PLUS_B_TESTS),
    ]
  )
  assert outcomes(results[0]) == ["accepted"] * 3 and results[0].accepted
  assert outcomes(results[1]) == ["accepted"] * 3
  assert outcomes(results[2]) == ["wrong_answer", "wrong_answer", "accepted"]
  assert outcomes(results[3]) == ["wrong_answer"] and results[3].num_tests == 3
  assert outcomes(results[4]) == ["compile_error"] * 3
  assert "error" in results[4].verdicts[0].message
  assert outcomes(results[5]) == ["compile_error"] * 3


def test_runtime_errors_carry_exit_code_signal_and_stderr(engine):
  results = engine.run(
    [
      judge.Submission("raise ValueError('boom')", [T("", "")]),
      judge.Submission("import sys\nsys.exit(3)", [T("", "")]),
      judge.Submission("#include <cstdlib>\nint main() { abort(); }", [T("", "")], lang="cpp"),
      judge.Submission("int main() { return 7; }", [T("", "")], lang="cpp"),
    ]
  )
  python_error, python_exit, cpp_abort, cpp_exit = (r.verdicts[0] for r in results)
  assert python_error.verdict == "runtime_error" and "ValueError: boom" in python_error.stderr
  assert (python_exit.verdict, python_exit.exit_code) == ("runtime_error", 3)
  assert (cpp_abort.verdict, cpp_abort.signal) == ("runtime_error", 6)
  assert (cpp_exit.verdict, cpp_exit.exit_code) == ("runtime_error", 7)


def test_call_styles(engine):
  leetcode = (
    "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
    "        seen = {}\n        for i, x in enumerate(nums):\n"
    "            if target - x in seen:\n                return [seen[target - x], i]\n"
    "            seen[x] = i\n"
  )
  function = "def mean(xs):\n    return sum(xs) / len(xs)\n"
  results = engine.run(
    [
      judge.Submission(
        leetcode,
        [T(args=[[2, 7, 11, 15], 9], expected=[0, 1]), T(args=[[3, 3], 6], expected=[1, 0])],
        kind="leetcode",
        fn_name="twoSum",
      ),
      judge.Submission(
        function,
        [T(args=[[1, 2]], expected=1.5), T(args=[[1, 2, 2]], expected=1.6666667)],
        kind="function",
        fn_name="mean",
        checker="float:1e-6",
      ),
      judge.Submission(
        function, [T(args=[[1, 2, 2]], expected=1.6666667)], kind="function", fn_name="mean"
      ),
      judge.Submission(
        "def f():\n    return True\n", [T(args=[], expected=1)], kind="function", fn_name="f"
      ),
      judge.Submission(
        "def f(x):\n    return x\n",
        [T(check_source="def check(candidate):\n    assert candidate(2) == 3\n")],
        kind="check",
        fn_name="f",
      ),
    ]
  )
  assert outcomes(results[0]) == ["accepted", "wrong_answer"]
  assert outcomes(results[1]) == ["accepted", "accepted"]
  assert outcomes(results[2]) == ["wrong_answer"]  # exact by default
  assert outcomes(results[3]) == ["wrong_answer"]  # True is not 1
  assert outcomes(results[4]) == ["wrong_answer"]


def test_memory_limit_is_real(engine):
  touch = "data = bytearray({mb} << 20)\nfor i in range(0, len(data), 4096):\n    data[i] = 1\nprint('ok')\n"
  cpp = (
    "#include <vector>\n#include <cstdio>\nint main() {{ std::vector<char> v({mb}L << 20, 1);"
    ' std::printf("ok %d", (int)v[12345]); }}\n'
  )
  results = engine.run(
    [
      judge.Submission(touch.format(mb=256), [T("", "ok")], memory_mb=128),
      judge.Submission(touch.format(mb=48), [T("", "ok")], memory_mb=128),
      judge.Submission(cpp.format(mb=256), [T("", "ok 1")], memory_mb=128, lang="cpp"),
      judge.Submission(cpp.format(mb=48), [T("", "ok 1")], memory_mb=128, lang="cpp"),
    ]
  )
  assert [outcomes(r) for r in results] == [
    ["memory_limit"],
    ["accepted"],
    ["memory_limit"],
    ["accepted"],
  ]


def test_cpu_bound_code_stops_within_limit_plus_slack(engine):
  cpp = "int main() { volatile unsigned long x = 0; for (;;) x++; }"
  results = engine.run(
    [
      judge.Submission("while True:\n    pass\n", [T("", "")], time_limit_s=1.0),
      judge.Submission(cpp, [T("", "")], time_limit_s=1.0, lang="cpp"),
    ]
  )
  for result in results:
    verdict = result.verdicts[0]
    assert verdict.verdict == "time_limit"
    # The limit is on CPU time, checked every 20 ms; the wall limit (2 x 1 s + 1 s) only
    # stops a run first when other work on the host starves it of CPU.
    assert verdict.cpu_s <= 1.25 and verdict.time_s <= 3.2, verdict
    assert verdict.cpu_s >= 1.0 or verdict.message.startswith("wall"), verdict


def test_missing_compiler_refuses_the_batch_naming_it_not_a_verdict():
  engine = judge.Judge(judge.SandboxConfig(toolchains=(("cpp", "/nonexistent/g++"),)), workers=1)
  with pytest.raises(judge.ToolchainMissing, match="^cpp: /nonexistent/g[+][+] not found; point"):
    engine.run([judge.Submission(A_PLUS_B_CPP, A_PLUS_B_TESTS, lang="cpp")])


def test_missing_bwrap_refuses_to_run_and_says_how_to_install():
  with pytest.raises(judge.JudgeError, match="apt-get install -y bubblewrap"):
    judge.Judge(judge.SandboxConfig(bwrap="/nonexistent/bwrap"))


def test_unsafe_opt_out_runs_without_sandbox():
  engine = judge.Judge(judge.SandboxConfig(unsafe_no_sandbox=True), workers=1)
  [result] = engine.run([judge.Submission(A_PLUS_B_PY, A_PLUS_B_TESTS)])
  assert result.accepted


def test_expected_outputs_never_enter_the_sandbox(engine, monkeypatch):
  secret = "expected-9f3c1b7e"
  sent = []
  original = Sandbox.request

  def spy(self, message, timeout_s):
    sent.append(repr(message))  # bytes fields show their content too
    return original(self, message, timeout_s)

  monkeypatch.setattr(Sandbox, "request", spy)
  engine.run(
    [
      judge.Submission("print(input())", [T("x", secret)]),
      judge.Submission(
        "def f():\n    return 1\n", [T(args=[], expected=secret)], kind="function", fn_name="f"
      ),
    ]
  )
  assert sent and not any(secret in message for message in sent)


def test_files_in_and_out_of_a_run(engine):
  """Files given with a test are in the run's directory (nested paths too); only regular
  files the run leaves inside it come back: not a pipe, not a path through a symlink to
  elsewhere. The test's JSON form carries both fields."""
  import base64

  b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
  code = (
    "import os\nprint(open('in/deep/a.txt').read())\nos.mkfifo('pipe')\n"
    "os.symlink('/usr', 'usr')\nopen('made.txt', 'w').write('made')"
  )
  test = judge.TestCase(
    output="hello\n",
    files={"in/deep/a.txt": b64("hello")},
    fetch_files=("made.txt", "pipe", "usr/lib/os-release", "in/deep/a.txt"),
  )
  assert judge.TestCase.from_json(test.to_json("stdio"), "stdio") == test
  [result] = engine.run([judge.Submission(code, [test])])
  verdict = result.verdicts[0]
  assert verdict.accepted, verdict
  assert verdict.files == {"made.txt": b64("made"), "in/deep/a.txt": b64("hello")}
  for files, fetch, message in [
    ({"../up.txt": b64("x")}, (), "without '..'"),
    ({"a.txt": "%%%"}, (), "must be base64"),
    ({}, ("/etc/passwd",), "must be relative"),
  ]:
    with pytest.raises(ValueError, match=message):
      engine.run(
        [judge.Submission("print(1)", [judge.TestCase("", "1", files=files, fetch_files=fetch)])]
      )
  call = judge.TestCase(args=[1], expected=1, fetch_files=("x",))
  with pytest.raises(ValueError, match="stdio tests only"):
    engine.run([judge.Submission("def f(x): return x", [call], kind="function", fn_name="f")])


def test_special_judge(engine):
  # Any two non-negative integers that sum to N are right; the checker reads testlib-style files.
  checker = (
    "import sys\nn = int(open(sys.argv[1]).read())\n"
    "a, b = map(int, open(sys.argv[2]).read().split())\n"
    "sys.exit(0 if a + b == n and min(a, b) >= 0 else 1)\n"
  )
  tests = [T("10", "5 5"), T("7", "3 4")]
  results = engine.run(
    [
      judge.Submission("n = int(input())\nprint(n, 0)", tests, checker=judge.SpecialJudge(checker)),
      judge.Submission("n = int(input())\nprint(n, 1)", tests, checker=judge.SpecialJudge(checker)),
      judge.Submission("print(1, 2)", tests, checker=judge.SpecialJudge("raise SystemExit(5)")),
    ]
  )
  assert outcomes(results[0]) == ["accepted", "accepted"]
  assert outcomes(results[1]) == ["wrong_answer", "wrong_answer"]
  assert outcomes(results[2]) == ["judge_error", "judge_error"]


def test_checkers_are_strict():
  assert checkers.get("exact")(" 1 2\n", "1 2") and not checkers.get("exact")("1  2", "1 2")
  assert checkers.get("lines")("1 \n 2\n", "1\n2") and not checkers.get("lines")("1 2", "1\n2")
  assert checkers.get("tokens")("1\n2  3", "1 2 3")
  assert not checkers.get("tokens")("3 2 1", "1 2 3")  # order matters
  assert not checkers.get("tokens")("1 2", "1 2 3")  # no prefix matches
  assert not checkers.get("exact")("1 2", "1 2 3")
  assert checkers.get("float")("0.3333333", "0.33333333")
  assert not checkers.get("float")("0.33", "0.3333333")
  assert checkers.get("float:1e-2")("0.33", "0.3333333")
  big = str(10**20)
  assert not checkers.get("float")(str(10**20 + 1), big)  # integers exactly
  assert not checkers.get("float")("nan", "0")
  assert not checkers.values_equal(10**20 + 1, float(10**20))
  assert not checkers.values_equal([1, 2], [2, 1]) and not checkers.values_equal([1], [1, 2])
  with pytest.raises(ValueError, match="unknown checker"):
    checkers.get("lenient")


def test_bad_submissions_are_refused_before_running(engine):
  with pytest.raises(ValueError, match="fn_name"):
    engine.run([judge.Submission("x", [T()], kind="function")])
  with pytest.raises(ValueError, match="unknown language 'cobol'; supported: python, cpp, java"):
    engine.run([judge.Submission("x", [T()], lang="cobol")])


def test_cli(tmp_path):
  source = tmp_path / "sol.py"
  source.write_text(A_PLUS_B_PY)
  tests = tmp_path / "tests.jsonl"
  tests.write_text('{"input": "1 2", "output": "3"}\n{"input": "2 2", "output": "5"}\n')
  command = [
    sys.executable,
    "-m",
    "xcoder_jax.judge",
    "--lang",
    "python",
    "--source",
    str(source),
    "--tests",
    str(tests),
    "--time-limit",
    "2",
    "--memory-mb",
    "128",
    "--checker",
    "tokens",
  ]
  done = subprocess.run(command, capture_output=True, text=True, timeout=60)
  assert done.returncode == 0, done.stderr
  records = [json.loads(line) for line in done.stdout.splitlines()]
  assert [r["verdict"] for r in records] == ["accepted", "wrong_answer"]
  assert all(isinstance(r["time_s"], float) for r in records)

  source.write_text("def add(a, b):\n    return a + b\n")
  tests.write_text('{"fn_name": "add", "args": [1, 2], "expected": 3}\n')
  done = subprocess.run(command[:-2], capture_output=True, text=True, timeout=60)
  assert done.returncode == 0, done.stderr
  assert json.loads(done.stdout)["verdict"] == "accepted"

  done = subprocess.run(command + ["--checker", "nope"], capture_output=True, text=True)
  assert done.returncode == 2 and "unknown checker" in done.stderr
