"""SynthSmith pieces: the HTTP teacher against a loopback server, recording and replay,
robust parsing, crash-safe stage storage, and the judge's capture mode."""

import http.server
import json
import re
import threading
import time

import ml_collections
import pytest

from data_pipeline import parsing
from data_pipeline import teacher as teacher_lib
from data_pipeline.store import StageStore
from xcoder_jax import judge
from xcoder_jax.rollout.types import Completion


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
    answer = {
      "choices": [{"message": {"content": "echo " + body["messages"][0]["content"]}}],
      "usage": {"prompt_tokens": 3, "completion_tokens": 5},
    }
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
  base = {
    "backend": "openai",
    "model": "m",
    "api_key": "",
    "concurrency": 2,
    "timeout_s": 5.0,
    "max_retries": 2,
    "backoff_s": 0.01,
    "record_to": "",
    "replay_file": "",
    "replay_latency_s": 0.0,
    "base_url": "",
  }
  return ml_collections.ConfigDict({**base, **values})


def test_openai_teacher_retries_limits_concurrency_counts_tokens_and_records(server, tmp_path):
  recording = str(tmp_path / "rec.jsonl")
  teacher = teacher_lib.make_teacher(_config(base_url=server, record_to=recording))
  messages = [[{"role": "user", "content": f"q{i}"}] for i in range(6)]
  threads = [
    threading.Thread(target=teacher.complete, args=("solution", m, {"seed": 1})) for m in messages
  ]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  assert _Handler.state["calls"] == 7  # six answers plus one retried failure
  assert _Handler.state["max_in_flight"] <= 2
  assert teacher.inner.usage["solution"] == {
    "requests": 6,
    "prompt_tokens": 18,
    "completion_tokens": 30,
  }
  replay = teacher_lib.make_teacher(_config(backend="replay", replay_file=recording))
  assert replay.complete("solution", messages[3], {"seed": 1}).text == "echo q3"
  with pytest.raises(teacher_lib.TeacherError):
    replay.complete("solution", messages[3], {"seed": 2})  # other sampling: another key


def test_an_unknown_teacher_backend_is_refused_with_the_valid_names(tmp_path):
  from configs.synthsmith import base
  from data_pipeline import pipeline

  config = base.get_config()
  config.teacher.backend = "opeani"
  valid = ", ".join(teacher_lib.TEACHERS.names())
  assert {"jax", "openai", "replay"} <= set(teacher_lib.TEACHERS.names())
  message = f"teacher.backend: unknown teacher backend 'opeani'; choose one of {valid}"
  with pytest.raises(ValueError, match=re.escape(message)):
    pipeline.run(config, str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()


def test_unreachable_teacher_is_a_teacher_error():
  teacher = teacher_lib.make_teacher(_config(base_url="http://127.0.0.1:9/v1", max_retries=1))
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
  for text, reason in [
    ("print(1)", "no_code_block"),
    ("```python\nx=1\n```\n```python\ny=2\n```", "multiple_code_blocks"),
    ("```python\ndef f(:\n```", "syntax_error"),
  ]:
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
  results = judge.Judge().run(
    [
      judge.Submission(
        long_program, [judge.TestCase("21"), judge.TestCase("oops")], capture_output=True
      ),
      judge.Submission(
        "class Solution:\n    def f(self, a):\n        return {'b': a, 'a': [a]}\n",
        [judge.TestCase(args=[3])],
        kind="leetcode",
        fn_name="f",
        capture_output=True,
      ),
    ]
  )
  ok, crashed = results[0].verdicts
  assert ok.accepted and ok.output == "x" * 50000 + "\n42\n" and len(ok.stdout) < 50000
  assert crashed.verdict == judge.Outcome.RUNTIME_ERROR and crashed.output is None
  assert results[1].verdicts[0].output == '{"a": [3], "b": 3}'
  with pytest.raises(ValueError, match="capture_output"):
    judge.Judge().run(
      [
        judge.Submission(
          "", [judge.TestCase(check_source="")], kind="check", fn_name="f", capture_output=True
        )
      ]
    )


def test_code_is_taken_after_the_reasoning_with_any_language_tag_case():
  draft = "<think>\nfirst try:\n```python\nprint(0)\n```\nwrong.\n</think>\n"
  assert parsing.extract_single_python_block(draft + "```python\nprint(1)\n```") == "print(1)\n"
  assert parsing.extract_single_python_block("```Python\nprint(2)\n```") == "print(2)\n"
  for text, reason in [
    (draft, "no_code_block"),
    ("<think>\n```python\nprint(1)\n```", "unfinished_reasoning"),
    (draft + "```py\nx=1\n```\n```PY\ny=2\n```", "multiple_code_blocks"),
  ]:
    with pytest.raises(parsing.ParseError) as error:
      parsing.extract_single_python_block(text)
    assert error.value.reason == reason


def test_openai_teacher_keeps_served_reasoning_in_the_text(monkeypatch):
  teacher = teacher_lib.OpenAITeacher(
    _config(
      base_url="http://127.0.0.1:9",
      model="m",
      timeout_s=1.0,
      max_retries=0,
      backoff_s=0.0,
      concurrency=1,
    )
  )
  message = {"content": "```python\nprint(1)\n```", "reasoning_content": "Think it over."}
  answer = {"choices": [{"message": message}]}
  monkeypatch.setattr(teacher.server, "request", lambda *args, parse, **hooks: parse(answer))
  text = teacher.complete("solution", [{"role": "user", "content": "q"}], {}).text
  assert text == "<think>\nThink it over.\n</think>\n\n```python\nprint(1)\n```"
  assert parsing.extract_single_python_block(text) == "print(1)\n"


def test_recording_survives_a_torn_last_line(tmp_path):
  path = str(tmp_path / "rec.jsonl")

  class Echo(teacher_lib.Teacher):
    def _complete(self, stage, messages, sampling):
      return Completion(text=messages[0]["content"])

  teacher_lib.RecordingTeacher(Echo(), path).complete("s", [{"role": "user", "content": "a"}], {})
  with open(path, "a") as f:
    f.write('{"key": "torn", "te')  # killed mid-write
  assert len(teacher_lib.load_recording(path)) == 1
  teacher_lib.RecordingTeacher(Echo(), path).complete("s", [{"role": "user", "content": "b"}], {})
  answers = teacher_lib.load_recording(path)
  assert sorted(a["text"] for a in answers.values()) == ["a", "b"]


class _Scripted(teacher_lib.Teacher):
  """Answers each stage with ``answers[stage]`` (a string, or a callable of the call count)."""

  def __init__(self, answers):
    super().__init__()
    self.answers, self.calls = answers, 0

  def _complete(self, stage, messages, sampling):
    self.calls += 1
    answer = self.answers[stage]
    return Completion(text=answer(self.calls) if callable(answer) else answer)


_STORY = "Mira sorts her stamp collection and wants to know a total. " * 3
STATEMENTS = {
  "codeforces": (
    _STORY + "\n\nInput\nThe first line holds n, the second n integers.\n\n"
    "Output\nPrint the sum.\n\nExamples\nInput\n3\n1 2 3\nOutput\n6\nInput\n"
    "1\n5\nOutput\n5\n\nNote\nIn the first example 1 + 2 + 3 = 6."
  ),
  "atcoder": (
    f"Problem Statement\n{_STORY}\n\nConstraints\n- 1 <= N <= 100\n\nInput\nN\n"
    "A_1 ... A_N\n\nOutput\nPrint the sum.\n\nSample Input 1\n3\n1 2 3\n\n"
    "Sample Output 1\n6\n\nSample Input 2\n1\n5\n\nSample Output 2\n5\n"
  ),
  "leetcode": (
    f"{_STORY}\n\nExample 1:\nInput: nums = [1,2,3]\nOutput: 6\nExplanation: "
    "1 + 2 + 3.\n\nExample 2:\nInput: nums = [5]\nOutput: 5\n\nConstraints:\n"
    "1 <= len(nums) <= 100\n\nclass Solution:\n    def total(self, nums): ..."
  ),
}


@pytest.mark.parametrize("style", sorted(STATEMENTS))
def test_examples_are_counted_in_every_style_guides_format(style):
  from data_pipeline import tasks

  assert tasks.count_examples(STATEMENTS[style]) == 2
  one_example = STATEMENTS[style].split("Input\n1\n5")[0].split("Sample Input 2")[0]
  assert tasks.count_examples(one_example.split("Example 2")[0]) == 1
  plan = {"selected_features": ["prefix sums"], "integration_strategy": "sum it"}
  answer = {"title": "Stamps", "statement": STATEMENTS[style], "entry_point": "total"}
  teacher = _Scripted(
    {
      "task_plan": f"<<<JSON {json.dumps(plan)} JSON>>>",
      "task_statement": f"<<<JSON {json.dumps(answer)} JSON>>>",
    }
  )
  config = ml_collections.ConfigDict(
    {"seed": 0, "sampling": {}, "style_weights": {s: float(s == style) for s in STATEMENTS}}
  )
  feature_config = {"id": "c", "tree": {"algorithms": ["prefix sums"]}, "num_leaves": 1}
  [task], _ = tasks.generate(teacher, config, feature_config)
  assert task["style"] == style


def test_call_based_taco_rows_are_counted_not_crashing(tmp_path):
  from data_pipeline import seeds

  rows = [
    {
      "id": "stdio",
      "question": "q",
      "solutions": ["print(1)"],
      "input_output": json.dumps({"inputs": ["1\n", ["2", "3"]], "outputs": ["1\n", "2\n"]}),
    },
    {
      "id": "call",
      "question": "q",
      "solutions": ["def f(a): return a"],
      "input_output": json.dumps({"fn_name": "f", "inputs": [[1, 2]], "outputs": [[3]]}),
    },
    {
      "id": "lists",
      "question": "q",
      "solutions": ["print(1)"],
      "input_output": json.dumps({"inputs": [[1, 2]], "outputs": [3]}),
    },
  ]
  path = tmp_path / "taco.jsonl"
  path.write_text("".join(json.dumps(row) + "\n" for row in rows))
  found, report = seeds.read_seeds([str(path)])
  assert [s.id for s in found] == ["stdio"] and found[0].tests[1]["input"] == "2\n3"
  assert report.drops == {"call_based_tests": 1, "non_text_tests": 1}


def test_leetcode_inputs_must_be_json_argument_lists():
  from data_pipeline import test_inputs
  from data_pipeline.records import Task

  assert test_inputs.normalize_input(" [1, [2, 3]] ", "leetcode") == "[1,[2,3]]"
  for text in ("5", '{"a": 1}', "not json"):
    with pytest.raises(ValueError):
      test_inputs.normalize_input(text, "leetcode")
  validator = (
    "```python\nimport json, sys\nassert isinstance(json.loads(sys.stdin.read()), list)\n```"
  )
  teacher = _Scripted(
    {
      "input_validator": validator,
      "input_generator": "no code",
      "test_inputs": '<<<JSON {"inputs": ["[1]", "5", "[2]", "[1]"]} JSON>>>',
    }
  )
  task = Task("t", "c", "leetcode", "leetcode", "f", "T", "s", {}, {}).to_json()
  config = ml_collections.ConfigDict(
    {"sampling": {}, "generated_inputs": 2, "min_inputs": 1, "max_inputs": 10}
  )
  [record], drops = test_inputs.generate(teacher, judge.Judge(), config, task)
  assert record["inputs"] == ["[1]", "[2]"]
  assert drops["input:invalid_format"] == 1 and drops["input:duplicate"] == 1


def test_teacher_outage_is_not_stored_and_a_rerun_retries_it(tmp_path):
  from data_pipeline.items import ItemWork
  from data_pipeline.records import Task
  from data_pipeline.stage import LocalRunner, run_items

  code = "```python\nprint(1)\n```"
  outage = {"on": True}

  def answer(calls):
    if outage["on"] and calls == 2:
      raise teacher_lib.TeacherError("connection refused", retriable=True)
    return code

  teacher = _Scripted({"solution": answer})
  tasks = [
    Task(f"t{i}", "c", "codeforces", "stdio", None, "T", "s", {}, {}).to_json() for i in range(2)
  ]
  config = ml_collections.ConfigDict(
    {"solutions": {"num_candidates": 2, "languages": ["python"], "sampling": {}}}
  )
  runner = LocalRunner(ItemWork(config, teacher))

  def run():
    return run_items(
      "solutions", str(tmp_path), tasks, lambda t: t["id"], "generate_solutions", runner
    )

  outputs, report = run()
  assert report.retriable == 1 and [c["task_id"] for c in outputs] == ["t1", "t1"]
  assert not StageStore(str(tmp_path), "solutions").complete
  assert report.to_json()["retriable"] == 1 and "teacher_error" not in str(report.drops)
  outage["on"] = False
  outputs, report = run()  # the teacher recovered: only t0 is asked again
  assert report.retriable == 0
  assert sorted(c["task_id"] for c in outputs) == ["t0", "t0", "t1", "t1"]
  assert StageStore(str(tmp_path), "solutions").complete and teacher.calls == 6
  refused = teacher_lib.TeacherError("400 prompt too long")
  assert not refused.retriable  # a refused request stays a counted drop


def test_leaf_k_applies_to_leaf_objects_and_merge_drops_duplicates():
  import random

  from data_pipeline import feature_configs, features

  tree = {"algorithms": {"graphs": {"bfs": [], "dfs": [], "dijkstra": []}}}
  sample = feature_configs.sample_subtree(tree, (1, 3, 1), random.Random(0))
  assert features.count_leaves(sample) == 1
  assert features.merge({"a": ["x"]}, {"a": ["y", "y", "x"], "b": ["z", "z"]}) == {
    "a": ["x", "y"],
    "b": ["z"],
  }


def test_the_default_min_leaves_is_reachable_on_an_evolved_tree():
  """Four levels (category -> group -> sub-feature -> leaves), as evolution grows them."""
  from configs.synthsmith import base
  from data_pipeline import feature_configs

  categories = [
    "algorithms",
    "data_structures",
    "coding_techniques",
    "mathematics",
    "problem_solving_strategies",
    "optimization_techniques",
  ]
  evolved = {
    c: {
      f"{c}/g{i}": {f"{c}/g{i}/s{j}": [f"{c}/{i}/{j}/{k}" for k in range(3)] for j in range(3)}
      for i in range(4)
    }
    for c in categories
  }
  config = base.get_config().configs
  config.num_configs, config.max_attempts = 30, 500
  configs, report = feature_configs.sample_configs(evolved, config)
  assert len(configs) == 30 and min(c.num_leaves for c in configs) >= config.min_leaves == 25
  shallow = {
    c: {f"{c}/g{i}": [f"{c}/{i}/{k}" for k in range(5)] for i in range(4)} for c in categories
  }  # seed extractions alone: at most 4 * 3 * 2 = 24 leaves, refused before any draw
  with pytest.raises(ValueError, match="min_leaves=25 is out of reach: .* gives at most 24 per"):
    feature_configs.sample_configs(shallow, config)


def test_openai_teacher_retries_a_malformed_answer_but_not_a_refused_request(caplog):
  """A 200 without choices is retried (and the retry logged); a 400 is a drop at once, with
  the server's message, and leaves the teacher up."""
  ok = json.dumps({"choices": [{"message": {"content": "ok"}}]}).encode()
  answers = [(200, b"{}"), (200, ok), (400, b"prompt too long")]
  posts = []

  class Scripted(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
      posts.append(self.rfile.read(int(self.headers["Content-Length"])))
      status, data = answers[len(posts) - 1]
      self.send_response(status)
      self.send_header("Content-Length", str(len(data)))
      self.end_headers()
      self.wfile.write(data)

    def log_message(self, *args):
      pass

  httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
  threading.Thread(target=httpd.serve_forever, daemon=True).start()
  url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
  teacher = teacher_lib.make_teacher(_config(base_url=url))
  chat = [{"role": "user", "content": "q"}]
  try:
    with caplog.at_level("WARNING"):
      assert teacher.complete("solution", chat, {}).text == "ok"
    with pytest.raises(
      teacher_lib.TeacherError, match="HTTP 400 Bad Request: prompt too"
    ) as refused:
      teacher.complete("solution", chat, {})
  finally:
    httpd.shutdown()
    httpd.server_close()
  assert "attempt 1/3 failed (malformed answer (KeyError: 'choices'))" in caplog.text
  assert not refused.value.retriable and len(posts) == 3 and teacher.down is None


def test_near_duplicate_index_drops_exactly_what_pairwise_jaccard_drops():
  """MinHash/LSH only proposes candidates: on statements and their edits (one word changed,
  a sentence added, half rewritten), the tasks dropped are those whose exact Jaccard with an
  earlier kept task reaches the threshold, the first of a group is the one kept, and
  statements too short to have a shingle are kept."""
  import random

  from data_pipeline.dedup import NearDuplicateIndex
  from data_pipeline.demo import task_bank
  from xcoder_jax.data.split import ngrams

  rng = random.Random(0)
  texts = []
  for task in task_bank.TASKS:
    words = task["statement"].split()
    texts.append(" ".join(words))
    for changed in (1, len(words) // 8, len(words) // 2):
      edit = list(words)
      for i in rng.sample(range(len(edit)), changed):
        edit[i] = f"edited{rng.randint(0, 10**6)}"
      texts.append(" ".join(edit))
    texts.append(" ".join(words) + " Print the answer on one line.")
  texts += ["too short", "too short"]
  rng.shuffle(texts)
  index = NearDuplicateIndex(shingle_size=5, threshold=0.6)
  kept_sets, expected, got = [], [], []
  for i, text in enumerate(texts):
    grams = ngrams(text, 5)
    duplicate = any(len(grams & k) / max(1, len(grams | k)) >= 0.6 for k in kept_sets)
    if not duplicate:
      kept_sets.append(grams)
    expected.append(duplicate)
    got.append(index.duplicate_of(f"t{i:03d}", text) is not None)
  assert got == expected
  assert 10 < sum(got) < len(texts) - 10  # both kinds occur
