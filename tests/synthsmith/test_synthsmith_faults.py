"""SynthSmith under faults and bad input: a teacher that refuses or never answers, the
documented seeds command, one-line errors, and reruns with changed settings."""

import http.server
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from configs.synthsmith import base, demo
from data_pipeline import demo as demo_data
from data_pipeline import feature_configs, outputs, pipeline, seeds
from data_pipeline import teacher as teacher_lib
from launch import common
from tests.ports import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Silent:
  """Accepts connections and never answers; counts them."""

  def __init__(self):
    self.socket = socket.create_server(("127.0.0.1", 0))
    self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/v1"
    self.connections = []
    threading.Thread(target=self._accept, daemon=True).start()

  def _accept(self):
    while True:
      try:
        self.connections.append(self.socket.accept()[0])
      except OSError:
        return

  def close(self):
    self.socket.close()
    for connection in self.connections:
      connection.close()


@pytest.fixture
def silent():
  server = _Silent()
  yield server
  server.close()


def _openai_demo(base_url, **teacher):
  config = demo.get_config()
  config.teacher.update(backend="openai", base_url=base_url, **teacher)
  return config


def test_teacher_check_names_the_url_and_what_failed(silent, tmp_path):
  refused = f"http://127.0.0.1:{free_port()}/v1"
  with pytest.raises(teacher_lib.TeacherError, match=f"{refused} is not usable: GET "):
    pipeline.run(_openai_demo(refused, backoff_s=0.01), str(tmp_path / "refused"))
  started = time.perf_counter()
  config = _openai_demo(silent.url, health_timeout_s=0.2, timeout_s=0.2, backoff_s=0.01)
  message = f"{silent.url}/models: no answer within 0.2 s; start the server or fix"
  with pytest.raises(teacher_lib.TeacherError, match=message):
    pipeline.run(config, str(tmp_path / "silent"))
  assert time.perf_counter() - started < 5
  assert not (tmp_path / "silent" / "work" / "feature_extraction.jsonl").exists()


def test_retries_are_logged_and_a_down_teacher_fails_the_rest_at_once(silent, caplog):
  config = _openai_demo(silent.url, timeout_s=0.1, max_retries=2, backoff_s=0.01).teacher
  teacher = teacher_lib.make_teacher(config)
  chat = [{"role": "user", "content": "x"}]
  with caplog.at_level(logging.WARNING), pytest.raises(teacher_lib.TeacherError) as failed:
    teacher.complete("solution", chat, {})
  assert failed.value.retriable and "failed 3 times, last: no answer within 0.1 s" in str(failed)
  retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
  assert len(retries) == 2 and "attempt 1/3 failed (no answer within 0.1 s)" in retries[0]
  assert any("is down" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
  connections, started = len(silent.connections), time.perf_counter()
  with pytest.raises(teacher_lib.TeacherError, match="not sent, teacher .* is down") as down:
    teacher.complete("solution", chat, {})
  assert down.value.retriable and time.perf_counter() - started < 0.05
  assert len(silent.connections) == connections


class _Overloaded(http.server.BaseHTTPRequestHandler):
  """Lists its models, answers every chat with 503."""

  def do_GET(self):
    data = json.dumps({"data": [{"id": "default"}]}).encode()
    self.send_response(200)
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def do_POST(self):
    self.rfile.read(int(self.headers["Content-Length"]))
    self.send_response(503)
    self.send_header("Content-Length", "0")
    self.end_headers()

  def log_message(self, *args):
    pass


def test_documented_command_reads_seed_lists_and_reports_an_outage(tmp_path):
  """The README's base-config command with two seed files; the teacher is up but fails every
  chat: the stage stops unfinished, with logged retries, a summary line and exit status 3."""
  extra = tmp_path / "extra.jsonl"
  extra.write_text(json.dumps({"id": "extra", "question": "Print 1.", "solutions": ["print(1)"]}))
  httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Overloaded)
  threading.Thread(target=httpd.serve_forever, daemon=True).start()
  try:
    command = [
      sys.executable,
      "-m",
      "launch.synthsmith",
      "--config=configs/synthsmith/base.py",
      f"--output={tmp_path / 'run'}",
      f"--config.seeds={demo_data.SEEDS},{extra}",
      f"--config.teacher.base_url=http://127.0.0.1:{httpd.server_address[1]}/v1",
      "--config.teacher.max_retries=1",
      "--config.teacher.backoff_s=0.01",
    ]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
  finally:
    httpd.shutdown()
    httpd.server_close()
  assert result.returncode == 3, result.stderr
  assert "seeds                     7      7" in result.stdout
  assert "feature_extraction request attempt 1/2 failed (HTTP 503" in result.stderr
  assert "Traceback" not in result.stderr
  assert result.stderr.splitlines()[-1] == (
    "synthsmith: error: stage feature_extraction is unfinished: the teacher failed on 7 of its "
    "items (see the log above); rerun with the same --output to retry them"
  )


@teacher_lib.TEACHERS.register("featureless_test_teacher")
class _Featureless(teacher_lib.Teacher):
  def __init__(self, config):
    super().__init__()

  def _complete(self, stage, messages, sampling):
    from xcoder_jax.rollout.types import Completion

    return Completion(text="Sorry, no JSON today.", prompt_tokens=1, completion_tokens=1)


def _one_line_error(action) -> None:
  """Runs ``action`` as the launcher does: a set-up error must exit with status 2."""
  with pytest.raises(SystemExit) as stop, common.user_errors("synthsmith"):
    action()
  assert stop.value.code == 2


def test_bad_input_is_one_line_naming_the_problem(tmp_path, capsys):
  a_file = tmp_path / "a_file"
  a_file.write_text("")
  _one_line_error(lambda: pipeline.run(demo.get_config(), str(a_file / "run")))
  assert f"{a_file} is a file; choose a directory path" in capsys.readouterr().err

  broken = tmp_path / "seeds.jsonl"
  broken.write_text('{"id": "a", "question": "q", "solutions": ["pass"]}\n\n{"id": "b",\n[1]\n')
  config = demo.get_config()
  config.seeds = f"{demo_data.SEEDS}, {broken}"
  _one_line_error(lambda: pipeline.run(config, str(tmp_path / "run")))
  assert f"seed file {broken} line 3: not JSON" in capsys.readouterr().err
  broken.write_text('{"id": "a", "question": "q", "solutions": ["pass"]}\n[1]\n')
  _one_line_error(lambda: pipeline.run(config, str(tmp_path / "run")))
  assert f"{broken} line 2: a seed must be a JSON object, got list" in capsys.readouterr().err
  assert seeds.seed_patterns(f'["{broken}"]') == [str(broken)]
  with pytest.raises(ValueError, match="must name files"):
    seeds.seed_patterns("a.jsonl,,b.jsonl")

  config = demo.get_config()
  config.teacher.backend = "featureless_test_teacher"
  started = time.perf_counter()
  _one_line_error(lambda: pipeline.run(config, str(tmp_path / "empty")))
  err = capsys.readouterr().err
  assert "the feature tree is empty: feature extraction kept no features from 6 seeds" in err
  assert "(drops: no_json=6)" in err and time.perf_counter() - started < 10
  assert not (tmp_path / "empty" / "work" / "feature_evolution.jsonl").exists()

  small = {"algorithms": {"graphs": ["bfs", "dfs"]}, "mathematics": ["gcd"]}
  settings = base.get_config().configs
  with pytest.raises(ValueError, match=r"min_leaves=25 is out of reach: .* gives at most 3 per"):
    feature_configs.sample_configs(small, settings)


def test_rerun_with_changed_settings_is_refused_or_redone(tmp_path, monkeypatch):
  monkeypatch.setattr(outputs, "plot_funnel", lambda *args: None)  # seconds, not under test
  out = str(tmp_path / "run")

  def config(**changes):
    c = demo.get_config()
    c.configs.num_configs, c.validate_on_seeds = 0, False  # stops after feature evolution
    for key, value in changes.items():
      section, name = key.split("__")
      c[section][name] = value
    return c

  pipeline.run(config(), out)
  unrelated = config(teacher__concurrency=1, teacher__timeout_s=5.0, output__sample_size=3)
  assert pipeline.run(unrelated, out)["teacher_usage"] == {}
  changed = config(evolution__steps=3, solutions__num_candidates=4)
  with pytest.raises(ValueError) as refused:
    pipeline.run(changed, out)
  message = str(refused.value)
  assert "stage feature_evolution: evolution.steps 4 -> 3; stage solutions: " in message
  assert "solutions.num_candidates 5 -> 4" in message
  stale = "feature_evolution, task_generation, solutions, test_inputs, verification"
  assert f"--config.redo_changed=True to redo {stale}, or use a new --output" in message
  assert os.path.exists(os.path.join(out, "work", "feature_evolution.done"))

  changed.redo_changed = True
  usage = pipeline.run(changed, out)["teacher_usage"]
  assert list(usage) == ["feature_evolution"] and usage["feature_evolution"]["requests"] == 3
  assert os.path.exists(os.path.join(out, "work", "superseded", "feature_evolution.jsonl"))
  assert pipeline.run(changed, out)["teacher_usage"] == {}
