"""The judge as a service: the real `sandbox-fusion` client package against a real
`launch.judge_serve` process, bad requests answered with a 422 naming the field, our batched
`/judge` endpoint, a burst of concurrent clients, the optional bearer token, and the remote
judge (the local judge's verdicts, failing over when an instance dies)."""

import asyncio
import collections
import concurrent.futures
import dataclasses
import os
import subprocess
import sys
import threading
import time

import pytest
import requests
import sandbox_fusion as sf
from aiohttp import test_utils

from xcoder_jax import judge
from xcoder_jax.judge import Judge, Outcome, SpecialJudge, Submission
from xcoder_jax.judge.remote import RemoteJudge, make_judge
from xcoder_jax.judge.service import JudgeService

from judge_service import judge_service

DOUBLE_PY = "print(2 * int(input()))\n"
DOUBLE_CPP = (
  '#include <cstdio>\nint main() { long x; scanf("%ld", &x); printf("%ld\\n", 2 * x); }\n'
)
MAX_CODE = 4000
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def served():
  flags = (f"--max_code_bytes={MAX_CODE}", "--max_stdin_bytes=100000")
  with judge_service(*flags) as (address, process):
    yield address, process.pid


@pytest.fixture(scope="module")
def url(served):
  return served[0]


def descendants(pid: int) -> set[int]:
  """Every live process below `pid` (from /proc)."""
  children = collections.defaultdict(set)
  for entry in filter(str.isdigit, os.listdir("/proc")):
    try:
      with open(f"/proc/{entry}/stat") as stat:
        parent = int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
      continue
    children[parent].add(int(entry))
  found, todo = set(), [pid]
  while todo:
    for child in children[todo.pop()] - found:
      found.add(child)
      todo.append(child)
  return found


def run(url, **fields):
  return sf.run_code(sf.RunCodeRequest(**fields), endpoint=url, max_attempts=1)


# 160,000 template instantiations: g++ -O2 takes about 10 s of CPU here
SLOW_TO_COMPILE_CPP = """#include <utility>
template <int A, int B> struct Cell { static constexpr int value = A * B % 7; };
template <int A, int... B> constexpr int row(std::integer_sequence<int, B...>) {
  return (Cell<A, B>::value + ...);
}
template <int... A> constexpr int grid(std::integer_sequence<int, A...>) {
  return (row<A>(std::make_integer_sequence<int, 400>{}) + ...);
}
int main() { return grid(std::make_integer_sequence<int, 400>{}) & 1; }
"""


def test_compile_timeout_bounds_the_compile_step(url):
  slow = run(url, code=SLOW_TO_COMPILE_CPP, language="cpp", compile_timeout=0.5)
  assert slow.status == sf.RunStatus.Failed and slow.run_result is None
  assert "compiler stopped (cpu: the 0.5 s compile limit)" in slow.compile_result.stderr, slow
  submission = judge.Submission(SLOW_TO_COMPILE_CPP, [judge.TestCase("", "")], lang="cpp")
  remote = RemoteJudge([url])  # compile_time_s travels through /judge too
  [result] = remote.run([dataclasses.replace(submission, compile_time_s=0.5)])
  assert result.verdicts[0].verdict == "compile_error" and "stopped" in result.verdicts[0].message


def test_the_sandbox_fusion_client_gets_sandbox_fusions_answers(url):
  for language, code in (
    ("python", DOUBLE_PY),
    ("cpp", DOUBLE_CPP),
    ("nodejs", "console.log(String(2 * Number(require('fs').readFileSync(0, 'utf8'))));"),
    (
      "go",
      'package main\nimport "fmt"\nfunc main() { var n int; fmt.Scan(&n); fmt.Println(2 * n) }',
    ),
  ):
    ok = run(url, code=code, language=language, stdin="21")
    assert ok.status == sf.RunStatus.Success and ok.run_result.stdout == "42\n", (language, ok)
    assert ok.run_result.status == sf.CommandRunStatus.Finished and ok.run_result.return_code == 0
    assert (ok.compile_result is None) == (language in ("python", "nodejs"))
    assert sf.summary_run_code_result(ok, sf.SummaryMapping()) == "Success"
  crash = run(url, code="import sys\nprint('partial')\nsys.exit(3)", language="python")
  assert crash.status == sf.RunStatus.Failed and crash.run_result.return_code == 3
  assert crash.run_result.stdout == "partial\n"
  broken = run(url, code="int main( {", language="cpp")
  assert broken.run_result is None and broken.compile_result.return_code == 1
  assert "error" in broken.compile_result.stderr
  assert sf.summary_run_code_result(broken, sf.SummaryMapping(CompileFailed="CE")) == "CE"
  syntax = run(url, code="def f(:", language="python")  # no compile step: a failed run
  assert syntax.run_result.return_code == 1 and "SyntaxError" in syntax.run_result.stderr
  slow = run(url, code="while True: pass", language="python", run_timeout=0.5)
  assert slow.run_result.status == sf.CommandRunStatus.TimeLimitExceeded
  # verl's sandbox reward sends memory_limit_MB; a program over it fails, never the server
  hog = {
    "code": "x = bytearray(400 << 20)\nprint(len(x))",
    "language": "python",
    "memory_limit_MB": 64,
  }
  answer = requests.post(f"{url}/run_code", json=hog, timeout=30).json()
  assert answer["status"] == "Failed" and answer["run_result"]["return_code"] != 0


@pytest.mark.parametrize(
  ("body", "field"),
  [
    ("{not json", "body"),
    ({"language": "python"}, "code"),
    ({"code": 5, "language": "python"}, "code"),
    ({"code": "print(1)", "language": "cobol"}, "language"),
    ({"code": "#" * (MAX_CODE + 1), "language": "python"}, "code"),
    ({"code": "print(1)", "language": "python", "stdin": "x" * 100001}, "stdin"),
    ({"code": "print(1)", "language": "python", "run_timeout": -1}, "run_timeout"),
    ({"code": "print(1)", "language": "python", "run_timeout": 1e9}, "run_timeout"),
    ({"code": "print(1)", "language": "python", "compile_timeout": 0}, "compile_timeout"),
    ({"code": "print(1)", "language": "python", "memory_limit_MB": True}, "memory_limit_MB"),
    ({"code": "print(1)", "language": "python", "files": {"../a.txt": "eA=="}}, "files"),
    ({"code": "print(1)", "language": "python", "files": {"a.txt": "not base64"}}, "files"),
    ({"code": "print(1)", "language": "python", "files": {"a": "eA==" * 40000}}, "files"),
    ({"code": "print(1)", "language": "python", "fetch_files": ["/etc/passwd"]}, "fetch_files"),
  ],
)
def test_a_bad_request_gets_a_422_naming_its_field_and_the_server_keeps_serving(url, body, field):
  send = {"data": body} if isinstance(body, str) else {"json": body}
  answer = requests.post(f"{url}/run_code", timeout=30, **send)
  assert answer.status_code == 422, answer.text
  [detail] = answer.json()["detail"]
  assert detail["loc"] == ["body", field] and field in detail["msg"]
  assert requests.get(f"{url}/v1/ping", timeout=5).json() == "pong"


def test_files_go_into_the_run_and_fetched_files_come_back(url):
  """SandboxFusion's files and fetch_files, through its client and through RemoteJudge: only
  regular files inside the run's directory come back (not a symlink the program made)."""
  import base64

  b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
  python = (
    "import os\nn = int(open('data/n.txt').read())\nopen('out.txt', 'w').write(str(2 * n))\n"
    "os.symlink('/etc/hostname', 'leak.txt')\nprint('ok')"
  )
  cpp = (
    '#include <cstdio>\nint main() { long n; FILE* f = fopen("data/n.txt", "r"); '
    'fscanf(f, "%ld", &n); FILE* o = fopen("out.txt", "w"); fprintf(o, "%ld", 2 * n); '
    'fclose(o); puts("ok"); }\n'
  )
  for language, code in (("python", python), ("cpp", cpp)):
    answer = run(
      url,
      code=code,
      language=language,
      files={"data/n.txt": b64("21")},
      fetch_files=["out.txt", "leak.txt", "never.txt"],
    )
    assert answer.status == sf.RunStatus.Success, answer
    assert answer.files == {"out.txt": b64("42")}
  test = judge.TestCase(output="ok\n", files={"data/n.txt": b64("5")}, fetch_files=("out.txt",))
  [result] = RemoteJudge([url]).run([Submission(python, [test])])
  assert result.verdicts[0].accepted and result.verdicts[0].files == {"out.txt": b64("10")}


def test_the_batched_endpoint_judges_one_program_on_many_tests(url):
  tests = [
    {"input": "1", "output": "2"},
    {"input": "5", "output": "10"},
    {"input": "7", "output": "15"},
  ]
  body = {"source": DOUBLE_CPP, "lang": "cpp", "tests": tests, "time_limit_s": 2}
  answer = requests.post(f"{url}/judge", json=body, timeout=60).json()
  assert [v["verdict"] for v in answer["verdicts"]] == ["accepted", "accepted", "wrong_answer"]
  assert answer["pass_fraction"] == pytest.approx(2 / 3) and not answer["accepted"]
  bad = requests.post(f"{url}/judge", json={**body, "tests": [{"input": "1"}]}, timeout=30)
  assert bad.status_code == 422 and "output" in bad.json()["detail"][0]["msg"]


def test_64_concurrent_clients_each_get_their_own_answer_and_leave_no_process(served):
  """64 clients at once through the client package (verl keeps up to 64 in flight), some
  leaving a daemon behind: every answer is right, and afterwards the server holds the same
  processes as before (its workers' zygotes), nothing the programs started."""
  url, pid = served
  idle = descendants(pid)
  daemon = "import os, time\nif os.fork() == 0:\n  time.sleep(60)\n" + DOUBLE_PY

  def ask(i):
    return run(url, code=daemon if i % 8 == 0 else DOUBLE_PY, language="python", stdin=str(i))

  with concurrent.futures.ThreadPoolExecutor(64) as pool:
    answers = list(pool.map(ask, range(64)))
  assert [a.run_result.stdout for a in answers] == [f"{2 * i}\n" for i in range(64)]
  deadline = time.monotonic() + 10
  while descendants(pid) != idle and time.monotonic() < deadline:
    time.sleep(0.1)
  assert descendants(pid) == idle


def test_with_a_token_only_requests_that_carry_it_are_judged():
  async def scenario():
    with Judge(workers=1) as judge:
      server = test_utils.TestServer(JudgeService(judge, token="s3cret").app())
      async with test_utils.TestClient(server) as client:
        body = {"code": DOUBLE_PY, "language": "python", "stdin": "4"}
        refused = await client.post("/run_code", json=body)
        wrong = await client.post("/run_code", json=body, headers={"Authorization": "Bearer no"})
        right = await client.post(
          "/run_code", json=body, headers={"Authorization": "Bearer s3cret"}
        )
        ping = await client.get("/v1/ping")
        return refused.status, wrong.status, right.status, await right.json(), ping.status

  refused, wrong, right, answer, ping = asyncio.run(scenario())
  assert (refused, wrong, right, ping) == (401, 401, 200, 200)
  assert answer["run_result"]["stdout"] == "8\n"


T = judge.TestCase
CHECKER = "import sys\nsys.exit(0 if open(sys.argv[2]).read().split() == open(sys.argv[3]).read().split() else 1)\n"
BATCH = [
  Submission(DOUBLE_PY, [T("1", "2"), T("3", "7")]),
  Submission(DOUBLE_CPP, [T("4", "8")], lang="cpp"),
  Submission(
    "def f(x):\n  return [x, x + 1]\n", [T(args=[1], expected=[1, 2])], kind="function", fn_name="f"
  ),
  Submission(DOUBLE_PY, [T("5")], capture_output=True),
  Submission(DOUBLE_PY, [T("6", "12 ")], checker=SpecialJudge(CHECKER)),
  Submission("int main( {", [T("1", "2")], lang="cpp"),
]


def test_a_remote_judge_gives_the_local_judges_verdicts(url):
  with Judge(workers=2) as local_judge:
    local = local_judge.run(BATCH)
  remote = RemoteJudge([url]).run(BATCH)
  summary = lambda results: [[(v.verdict, v.output) for v in r.verdicts] for r in results]  # noqa: E731
  assert summary(remote) == summary(local)
  assert [r.num_tests for r in remote] == [len(s.tests) for s in BATCH]
  assert summary(remote)[3] == [(Outcome.ACCEPTED, "10\n")]  # capture mode: the output itself
  with pytest.raises(ValueError, match="fn_name"):  # validated here, as a local judge does
    RemoteJudge([url]).run([Submission("x = 1", [T(args=[1], expected=1)], kind="function")])


def test_the_remote_judge_finishes_on_the_others_when_an_instance_dies(url, caplog):
  slow = "import time\ntime.sleep(0.1)\n" + DOUBLE_PY
  batch = [Submission(slow, [T(str(i), str(2 * i))]) for i in range(40)]
  with judge_service() as (second, process):
    remote = RemoteJudge([second, url], cooldown_s=60)
    threading.Timer(0.5, process.kill).start()
    results = remote.run(batch)
  assert all(r.accepted for r in results) and len(results) == len(batch)
  assert any("trying another" in r.getMessage() for r in caplog.records)  # it did fail over
  with pytest.raises(ValueError, match="no judge service answers at http://127.0.0.1:"):
    RemoteJudge([second])


def test_make_judge_refuses_a_backend_that_does_not_match_its_urls():
  with pytest.raises(ValueError, match="local, remote, ray"):
    make_judge("cluster")
  with pytest.raises(ValueError, match="backend to remote"):
    make_judge("local", "http://127.0.0.1:1")
  with pytest.raises(ValueError, match="at least one URL"):
    make_judge("remote", " , ")


def test_a_port_already_taken_is_one_line_naming_the_fix(url):
  port = url.rsplit(":", 1)[1]
  command = [sys.executable, "-m", "launch.judge_serve", f"--port={port}", "--workers=1"]
  done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert done.returncode == 2 and "Traceback" not in done.stderr
  assert f"judge_serve: error: cannot listen on 127.0.0.1:{port}" in done.stderr
  assert "choose another --port" in done.stderr
