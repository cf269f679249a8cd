"""launch.evaluate as a user runs it, and generation through a rollout engine."""

import json
import os
import subprocess
import sys

import lcb_data
import pytest
import scripted_engine

from xcoder_jax.data import load_tokenizer
from xcoder_jax.eval import load_benchmark
from xcoder_jax.eval.generation import EVAL_SAMPLING, generate

from judge_service import judge_service

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
# The CLI with the test-only engine registered first (it exists in no other process).
WITH_SCRIPTED_ENGINE = (
  f"import sys; sys.path.insert(0, {HERE!r}); import scripted_engine; "
  "from absl import app; from launch import evaluate; app.run(evaluate.main)"
)


def _run(*args, module="launch.evaluate"):
  command = (
    [sys.executable, "-m", module] if module else [sys.executable, "-c", WITH_SCRIPTED_ENGINE]
  )
  return subprocess.run(command + list(args), cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
  records = [lcb_data.SUM_STDIN, lcb_data.PAIRS_FUNCTIONAL, lcb_data.MINMAX_FUNCTIONAL]
  return lcb_data.write(tmp_path_factory.mktemp("cli") / "test.jsonl", records)


@pytest.mark.slow
def test_scores_a_samples_file(tmp_path, data_file):
  answers = {
    "abc001_a": [
      "```python\nprint(sum(map(int, input().split())))\n```",
      "```python\nprint(3)\n```",
    ],
    "lc_pairs": [
      "```python\nclass Solution:\n    def pairUp(self, n):\n        return [[i, i + 1] for i in range(n)]\n```",
      "no code",
    ],
    "lc_minmax": ["ignored: outside the window", ""],
  }
  samples = tmp_path / "samples.jsonl"
  samples.write_text(
    "".join(
      json.dumps({"question_id": qid, "sample_index": i, "response": text}) + "\n"
      for qid, texts in answers.items()
      for i, text in enumerate(texts)
    )
  )
  out = tmp_path / "out.json"
  scoring = ["--benchmark=livecodebench", f"--data={data_file}", f"--samples={samples}"]
  scoring += ["--k=2", "--window=v5"]
  result = _run(*scoring, f"--output={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(out.read_text())
  assert report["num_problems"] == 2 and report["k"] == 2
  assert report["avg_at_k"] == 0.5 and report["pass_at_k"] == {"1": 0.5, "2": 1.0}
  assert report["extraction_rule"] == "lcb" and "lcb_runner" in report["grading_rule"]
  assert report["problems"]["abc001_a"]["verdicts"] == ["accepted", "wrong_answer"]
  assert report["problems"]["lc_pairs"]["verdicts"] == ["accepted", "no_code"]
  assert report["settings"]["window"] == "v5" and report["settings"]["end_date"] == "2025-02-01"
  assert "avg@2" in result.stdout and "overall" in result.stdout
  with judge_service() as (url, _):  # the same verdicts when a judge service judges
    served = _run(*scoring, f"--output={tmp_path / 'served.json'}", f"--judge_urls={url}")
  assert served.returncode == 0, served.stderr[-3000:]
  verdicts = lambda r: {q: (p["verdicts"], p["num_correct"]) for q, p in r["problems"].items()}  # noqa: E731
  assert verdicts(json.loads((tmp_path / "served.json").read_text())) == verdicts(report)

  # user errors: one line naming the fix, status 2, nothing written
  bad = tmp_path / "bad.jsonl"
  bad.write_text(json.dumps({**lcb_data.SUM_STDIN, "difficulty": "trivial"}) + "\n")
  for args, message in [
    (["--benchmark=lcb", f"--data={data_file}"], "choose one of humaneval, livecodebench"),
    (
      ["--benchmark=livecodebench", f"--data={bad}"],
      "bad.jsonl:1: malformed LiveCodeBench record: field 'difficulty'",
    ),
    (["--benchmark=livecodebench", f"--data={tmp_path}/none.jsonl"], "cannot read --data file"),
    (["--benchmark=livecodebench", f"--data={data_file}", "--k=3"], "lack samples 0..2"),
  ]:
    failed = _run(*args, f"--samples={samples}", f"--output={tmp_path / 'never.json'}")
    assert failed.returncode == 2, failed.stderr[-2000:]
    assert failed.stderr.strip().count("\n") == 0 and message in failed.stderr
  assert not (tmp_path / "never.json").exists()


@pytest.mark.slow
def test_generates_through_a_rollout_engine_and_resumes(tmp_path, data_file):
  out, samples = tmp_path / "gen.json", tmp_path / "gen.samples.jsonl"
  args = [
    "--benchmark=livecodebench",
    f"--data={data_file}",
    "--model=any",
    "--engine=scripted",
    "--tokenizer=tiny",
    "--k=2",
    "--start_date=2024-08-01",
    "--end_date=2024-08-01",
    f"--output={out}",
  ]
  first = _run(*args, module=None)
  assert first.returncode == 0, first.stderr[-3000:]
  report = json.loads(out.read_text())
  assert report["num_problems"] == 1 and report["avg_at_k"] == 1.0
  assert report["sampling"] == {
    "temperature": 0.6,
    "top_p": 0.95,
    "top_k": 20,
    "max_new_tokens": 32768,
    "seed": 0,
  }
  lines = [json.loads(line) for line in samples.read_text().splitlines()]
  assert [(r["question_id"], r["sample_index"]) for r in lines] == [
    ("abc001_a", 0),
    ("abc001_a", 1),
  ]
  # a rerun finds every sample on disk and never asks the engine
  again = _run(*args, "--engine_arg=fail=true", module=None)
  assert again.returncode == 0, again.stderr[-3000:]
  assert json.loads(out.read_text())["avg_at_k"] == 1.0


def test_generate_renders_lcb_prompts_and_decodes_tokens(data_file):
  problems = load_benchmark("livecodebench", data_file).problems
  engine = scripted_engine.ScriptedEngine("any", as_tokens=True)
  scripted_engine.ScriptedEngine.calls.clear()
  responses = generate(problems, engine, load_tokenizer("tiny"), 3, batch_size=2, progress=False)
  assert list(responses) == ["abc001_a", "lc_minmax", "lc_pairs"]
  assert all(texts == [scripted_engine.ANSWER] * 3 for texts in responses.values())
  (first, sampling), (second, later) = scripted_engine.ScriptedEngine.calls
  assert len(first) == 2 and len(second) == 1
  assert sampling.n == 3 and sampling.temperature == EVAL_SAMPLING.temperature == 0.6
  assert (sampling.top_p, sampling.top_k) == (0.95, 20) and later.seed != sampling.seed
  assert first[0].startswith("<|im_start|>system\nYou are an expert Python programmer.")
  assert first[0].endswith(
    "### Answer: (use the provided format with backticks)\n\n<|im_end|>\n<|im_start|>assistant\n"
  )
