"""DPO as users run it: the tiny config separates chosen from rejected answers, a run killed
mid-way resumes exactly (reusing its precomputed reference log-probs), and set-up mistakes
end launch.dpo with one line."""

import os
import shutil

import numpy as np
import pytest
from pairs import demo_pairs, write_pairs

from configs.dpo import tiny
from launch import common
from xcoder_jax.dpo import trainer
from xcoder_jax.fileio import read_jsonl

STEPS, SAVE_EVERY = 8, 4
# The run's settings, as config keys and as command-line overrides of configs/dpo/tiny.py.
SETTINGS = {
  "data.seq_len": 128,
  "train.loss_chunk": 128,
  "train.steps": STEPS,
  "train.log_every": 1,
  "train.eval_every": STEPS,
  "train.eval_batches": 2,
  "train.progress_bar": False,
}


def _config(pairs_file, **changes):
  c = tiny.get_config()
  files = {"data.train_files": pairs_file, "data.eval_files": pairs_file}
  for key, value in {**SETTINGS, **files, **changes}.items():
    section, name = key.split(".")
    c[section][name] = value
  return c


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """One uninterrupted tiny run (precomputed reference): the learning check and the resume
  reference."""
  root = tmp_path_factory.mktemp("dpo")
  # A fifth of the pairs held out, as SynthSmith marks them: evaluation reads only those.
  pairs = [
    {**p, "split": "heldout" if i % 5 == 0 else "train"} for i, p in enumerate(demo_pairs(64))
  ]
  pairs_file = write_pairs(root / "pairs.jsonl", pairs)
  workdir = str(root / "run")
  config = _config(pairs_file, **{"train.save_every": SAVE_EVERY, "train.keep": STEPS})
  trainer.train(config, workdir)
  return pairs_file, workdir, read_jsonl(os.path.join(workdir, "metrics.jsonl"))


@pytest.mark.slow
def test_tiny_config_learns_to_prefer_the_verified_answers(trained):
  _, workdir, metrics = trained
  assert [m["step"] for m in metrics] == list(range(1, STEPS + 1))
  first, last = metrics[0], metrics[-4:]
  # Step 1 scores the starting policy, which is the reference: no margin yet.
  assert abs(first["reward_margin"]) < 1e-3 and first["loss"] == pytest.approx(np.log(2), abs=1e-3)
  # Thresholds: the last 4 steps rank >= 80% of training pairs right with a mean margin of at
  # least 1 (beta 0.1: 10 nats of log-ratio), and the held-out pairs are ranked as well.
  assert np.mean([m["reward_accuracy"] for m in last]) >= 0.8, metrics
  assert np.mean([m["reward_margin"] for m in last]) >= 1.0, metrics
  assert metrics[-1]["eval_reward_accuracy"] >= 0.75 and metrics[-1]["eval_loss"] < np.log(2)
  assert os.path.isfile(os.path.join(workdir, "reference_logprobs", "train", "complete-p0"))


@pytest.mark.slow
def test_a_resumed_run_repeats_the_uninterrupted_one_exactly(trained, tmp_path):
  """Resume from a mid-run checkpoint (the shared loop's SIGKILL test covers the kill itself:
  tests/train/test_train_loop.py): data position, optimizer and the stored reference table."""
  pairs_file, reference_dir, reference = trained
  workdir = tmp_path / "run"
  shutil.copytree(reference_dir, workdir)
  for name in os.listdir(workdir / "checkpoints"):  # back to the state after SAVE_EVERY
    if name.isdigit() and int(name) > SAVE_EVERY:
      shutil.rmtree(workdir / "checkpoints" / name)
  trainer.train(_config(pairs_file), str(workdir))  # the rerun, reusing the stored table
  resumed = read_jsonl(str(workdir / "metrics.jsonl"))
  assert [m["step"] for m in resumed] == list(range(1, STEPS + 1))  # each step once
  for got, want in zip(resumed, reference, strict=True):
    for key in ("loss", "reward_margin", "reward_accuracy", "chosen_logprob", "eval_loss"):
      if key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-6), (got["step"], key)


@pytest.mark.parametrize(
  "key,value,message",
  [
    ("dpo.loss", "dpo_typo", "dpo.loss: unknown preference loss 'dpo_typo'; choose one of"),
    ("dpo.reference", "later", "dpo.reference='later'; choose one of"),
    ("data.packing", True, "set data.packing=False"),
    ("data.seq_len", 100, "data.seq_len=100 must be a multiple of train.loss_chunk=64"),
  ],
)
def test_config_mistakes_are_named(key, value, message):
  changes = {key: value, "train.loss_chunk": 64}
  with pytest.raises(ValueError, match=message.replace("(", r"\(")):
    trainer.check_config(_config("pairs.jsonl", **changes))


def test_a_missing_pair_file_ends_the_launcher_with_one_line(tmp_path, capsys):
  """launch.dpo wraps its set-up (validation, data files) in `common.user_errors`."""
  workdir = tmp_path / "run"
  with pytest.raises(SystemExit) as exit_info, common.user_errors("dpo"):
    trainer.resolve_data_files(_config("/no/such/pairs.jsonl"), str(workdir))
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert err.startswith("dpo: error: pair file '/no/such/pairs.jsonl' does not exist")
  assert err.count("\n") == 1 and not workdir.exists()
