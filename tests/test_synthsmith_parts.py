"""SynthSmith pieces: the HTTP teacher against a loopback server, recording and replay,
robust parsing, crash-safe stage storage, and the judge's capture mode."""

import http.server
import json
import threading
import time

import ml_collections
import pytest

from data_pipeline import parsing, teacher as teacher_lib
from data_pipeline.store import StageStore
from xcoder_jax import judge


class _Handler(http.server.BaseHTTPRequestHandler):
  state = {"calls": 0, "in_flight": 0, "max_in_flight": 0, "lock": threading.Lock()}

  def do_POST(self):
    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
    state = self.state
    with state["lock"]:
      state["calls"] += 1
      first = state["calls"] == 1
      state["in_flight"] += 1
      state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
    time.sleep(0.05)
    with state["lock"]:
      state["in_flight"] -= 1
    if first:  # the first request fails: the client must retry
      self.send_response(503)
      self.end_headers()
      return
    answer = {"choices": [{"message": {"content": "echo " + body["messages"][0]["content"]}}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 5}}
    data = json.dumps(answer).encode()
    self.send_response(200)
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def log_message(self, *args):
    pass


@pytest.fixture
def server():
  httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()
  yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
  httpd.shutdown()
  httpd.server_close()


def _config(**values):
  base = {"backend": "openai", "model": "m", "api_key": "", "concurrency": 2,
          "timeout_s": 5.0, "max_retries": 2, "backoff_s": 0.01, "record_to": "",
          "replay_file": "", "replay_latency_s": 0.0, "base_url": ""}
  return ml_collections.ConfigDict({**base, **values})


def test_openai_teacher_retries_limits_concurrency_counts_tokens_and_records(server, tmp_path):
  recording = str(tmp_path / "rec.jsonl")
  teacher = teacher_lib.make_teacher(_config(base_url=server, record_to=recording))
  messages = [[{"role": "user", "content": f"q{i}"}] for i in range(6)]
  threads = [threading.Thread(target=teacher.complete, args=("solution", m, {"seed": 1}))
             for m in messages]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  assert _Handler.state["calls"] == 7  # six answers plus one retried failure
  assert _Handler.state["max_in_flight"] <= 2
  assert teacher.inner.usage["solution"] == {"requests": 6, "prompt_tokens": 18,
                                             "completion_tokens": 30}
  replay = teacher_lib.make_teacher(_config(backend="replay", replay_file=recording))
  assert replay.complete("solution", messages[3], {"seed": 1}).text == "echo q3"
  with pytest.raises(teacher_lib.TeacherError):
    replay.complete("solution", messages[3], {"seed": 2})  # other sampling: another key


def test_unreachable_teacher_is_a_teacher_error():
  teacher = teacher_lib.make_teacher(_config(base_url="http://127.0.0.1:9/v1",
                                             max_retries=1))
  with pytest.raises(teacher_lib.TeacherError):
    teacher.complete("solution", [{"role": "user", "content": "x"}], {})


def test_parse_delimited_json_robustly():
  assert parsing.parse_json_object('x <<<JSON\n{"a": [1, 2,],}\nJSON>>> y') == {"a": [1, 2]}
  assert parsing.parse_json_object('```json\n{"b": 1}\n```') == {"b": 1}
  assert parsing.parse_json_object('Sure: {"c": {"d": 2}} done') == {"c": {"d": 2}}
  for text, reason in [("no json here", "no_json"), ("<<<JSON {oops JSON>>>", "malformed_json")]:
    with pytest.raises(parsing.ParseError) as error:
      parsing.parse_json_object(text)
    assert error.value.reason == reason


def test_exactly_one_parseable_python_block():
  assert parsing.extract_single_python_block("a\n```python\nprint(1)\n```\n") == "print(1)\n"
  for text, reason in [("print(1)", "no_code_block"),
                       ("```python\nx=1\n```\n```python\ny=2\n```", "multiple_code_blocks"),
                       ("```python\ndef f(:\n```", "syntax_error")]:
    with pytest.raises(parsing.ParseError) as error:
      parsing.extract_single_python_block(text)
    assert error.value.reason == reason


def test_store_cuts_a_torn_last_line(tmp_path):
  store = StageStore(str(tmp_path), "stage")
  store.add("a", [{"x": 1}], {})
  with open(store.path, "a") as f:
    f.write('{"key": "b", "outp')  # killed mid-write
  reopened = StageStore(str(tmp_path), "stage")
  assert list(reopened.entries) == ["a"]
  reopened.add("b", [], {"why": 1})
  assert list(StageStore(str(tmp_path), "stage").entries) == ["a", "b"]


def test_judge_capture_mode_returns_full_outputs():
  long_program = "n = int(input())\nprint('x' * 50000)\nprint(n * 2)\n"
  results = judge.Judge().run([
      judge.Submission(long_program, [judge.TestCase("21"), judge.TestCase("oops")],
                       capture_output=True),
      judge.Submission("class Solution:\n    def f(self, a):\n        return {'b': a, 'a': [a]}\n",
                       [judge.TestCase(args=[3])], kind="leetcode", fn_name="f",
                       capture_output=True)])
  ok, crashed = results[0].verdicts
  assert ok.accepted and ok.output == "x" * 50000 + "\n42\n" and len(ok.stdout) < 50000
  assert crashed.verdict == judge.Outcome.RUNTIME_ERROR and crashed.output is None
  assert results[1].verdicts[0].output == '{"a": [3], "b": 3}'
  with pytest.raises(ValueError, match="capture_output"):
    judge.Judge().run([judge.Submission("", [judge.TestCase(check_source="")], kind="check",
                                        fn_name="f", capture_output=True)])
