"""`python -m launch.quickstart` as a user runs it: the whole recipe at its smallest settings,
a rerun that reuses what is done, and user errors that stop before writing anything."""

import json
import os
import re
import subprocess
import sys
import time

import pytest
import transformers

pytestmark = pytest.mark.slow  # minutes in all: not in `make test-fast`

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PHASES = ["synthsmith", "sft", "rl", "leaks", "export", "eval"]
SMALLEST = [
  "--sft_steps=2",
  "--rl_steps=4",
  "--rl_prompts=2",
  "--rl_generations=4",
  "--eval_k=2",
  "--max_new_tokens=16",
]
PNG = b"\x89PNG\r\n\x1a\n"


def _quickstart(run_dir, *args):
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
  return subprocess.run(
    [sys.executable, "-m", "launch.quickstart", f"--run_dir={run_dir}", *SMALLEST, *args],
    cwd=ROOT,
    env=env,
    capture_output=True,
    text=True,
    timeout=900,
  )


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
  run_dir = tmp_path_factory.mktemp("quickstart") / "run"
  started = time.perf_counter()
  result = _quickstart(run_dir)
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  return run_dir, result, time.perf_counter() - started


def test_the_recipe_runs_end_to_end_and_leaves_summary_plots_and_hf_model(finished):
  run_dir, result, seconds = finished
  lines = result.stdout.splitlines()
  assert [line.split(":")[0] for line in lines[:6]] == [
    f"[{i}/6] {phase}" for i, phase in enumerate(PHASES, 1)
  ]
  assert "quickstart summary" in result.stdout and "replayed" in result.stdout
  assert not re.search(r"^(W\d{4} |WARNING)", result.stderr, re.M), result.stderr[-2000:]
  summary = json.loads((run_dir / "summary.json").read_text())
  phases = summary["phases"]
  assert sorted(phases) == sorted(PHASES) and all(s["seconds"] > 0 for s in phases.values()), (
    seconds
  )
  assert phases["synthsmith"]["funnel"][0]["stage"] == "seeds"
  held_out = phases["synthsmith"]["held_out_tasks"]
  assert phases["synthsmith"]["rl_records"] >= 30 and held_out >= 10
  assert phases["sft"]["steps"] == 2 and phases["sft"]["devices"] == 8
  assert phases["sft"]["loss_first"] > 0 and phases["sft"]["heldout_loss"][-1][1] > 0
  quarters = phases["rl"]["reward_quarters"]
  assert quarters["steps_per_quarter"] == 1 and -2 <= quarters["first_mean"] <= 5
  assert phases["rl"]["demo_changes"]["optimizer.lr"] == [2e-4, 4e-7]
  assert all(0 <= x <= 1 for x in phases["rl"]["parsed_rate"] + phases["rl"]["pass_rate"])
  # The leak check ran over every training input of both runs and found nothing.
  leaks = phases["leaks"]
  assert leaks["clean"] and leaks["heldout_tasks"] == held_out and leaks["records_checked"] > 200
  assert phases["export"]["ok"] and phases["export"]["max_abs_dlogit"] < 1e-4
  evaluation = phases["eval"]
  assert evaluation["k"] == 2 and evaluation["num_problems"] == held_out
  for name in ("sft", "grpo"):
    model = evaluation["models"][name]
    assert list(model["pass_at_k"]) == ["1", "2"] and model["by_difficulty"]
    assert set(model["rates"]) >= {"answered", "runs", "passes_a_test", "passes_all"}
    assert json.loads((run_dir / f"eval_{name}.json").read_text())["num_problems"] == held_out
  assert "held-out problems" in result.stdout
  for name in ("sft_loss.png", "rl_reward.png", "funnel.png", "eval_by_difficulty.png"):
    assert (run_dir / name).read_bytes()[:8] == PNG, name
  config = transformers.AutoConfig.from_pretrained(run_dir / "hf")
  model = transformers.AutoModelForCausalLM.from_pretrained(run_dir / "hf")
  assert model.config.vocab_size == config.vocab_size == 4096


def test_a_rerun_reuses_checkpoints_and_samples_instead_of_redoing_them(finished):
  run_dir, _, _ = finished
  kept = ["sft/metrics.jsonl", "rl/metrics.jsonl", "rl/checkpoints/4", "hf/model.safetensors"]
  kept += [f"eval_samples/{name}" for name in os.listdir(run_dir / "eval_samples")]
  before = {path: os.stat(run_dir / path).st_mtime_ns for path in kept}
  earlier = json.loads((run_dir / "summary.json").read_text())["phases"]
  result = _quickstart(run_dir, "--phases=sft,rl,eval")
  assert result.returncode == 0, result.stderr[-3000:]
  assert before == {path: os.stat(run_dir / path).st_mtime_ns for path in kept}
  phases = json.loads((run_dir / "summary.json").read_text())["phases"]
  assert phases["sft"]["reused"] and phases["rl"]["reused"]
  assert phases["rl"]["seconds"] == earlier["rl"]["seconds"]  # the time of the real run
  assert phases["eval"]["models"] == earlier["eval"]["models"]
  assert phases["export"] == earlier["export"]  # phases not rerun stay in the summary
  progress = [line for line in result.stdout.splitlines() if line.startswith("[")]
  assert len(progress) == 3 and "reused" in progress[0] and "reused" in progress[1]


@pytest.mark.parametrize(
  "args, message",
  [
    (["--phases=sft,train"], "unknown phase(s) ['train']"),
    (["--phases=export"], "run --phases=rl first"),
    (["--rl_steps=3"], "--rl_steps=3: give at least 4 steps"),
  ],
)
def test_user_errors_name_the_fix_and_write_nothing(tmp_path, args, message):
  result = _quickstart(tmp_path / "run", *args)
  assert result.returncode == 2 and message in result.stderr, result.stderr
  assert len(result.stderr.strip().splitlines()) == 1 and not os.listdir(tmp_path)
  (tmp_path / "file").write_text("")
  result = _quickstart(tmp_path / "file")
  assert result.returncode == 2 and "is a file" in result.stderr
  assert (tmp_path / "file").read_text() == ""
  (tmp_path / "old").mkdir()
  (tmp_path / "old" / "summary.json").write_text('{"phases": {}}')  # an older quickstart's
  result = _quickstart(tmp_path / "old", "--phases=sft")
  assert result.returncode == 2 and "another quickstart version (format 1" in result.stderr
  assert os.listdir(tmp_path / "old") == ["summary.json"]
