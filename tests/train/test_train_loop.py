"""The SFT loop as users run it: learning, exact resume after SIGKILL, fallbacks, multi-host."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from configs.sft import tiny
from xcoder_jax import checkpoint
from xcoder_jax.checkpoint import CheckpointMismatchError
from xcoder_jax.train import sft

from ports import free_port

pytestmark = pytest.mark.slow  # minutes in all: not in `make test-fast`

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = "configs/sft/tiny.py"


def _env(devices=1):
  return dict(
    os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu"
  )


def _train_cmd(workdir, *overrides):
  return [
    sys.executable,
    "-m",
    "launch.train",
    f"--config={TINY}",
    f"--workdir={workdir}",
    "--config.train.progress_bar=False",
    *overrides,
  ]


def _run(cmd, env=None, check=True, timeout=600):
  result = subprocess.run(
    cmd, cwd=ROOT, env=env or _env(), capture_output=True, text=True, timeout=timeout
  )
  if check:
    assert result.returncode == 0, result.stderr[-4000:]
  return result


def _metrics(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


def _train(workdir, **overrides):
  """The tiny SFT config trained in this process; `overrides` by dotted key."""
  config = tiny.get_config()
  config.train.progress_bar = False
  for key, value in overrides.items():
    section, name = key.split(".")
    config[section][name] = value
  return sft.train(config, str(workdir))


def _export(workdir, output):
  _run(
    [
      sys.executable,
      "-m",
      "launch.export_hf",
      f"--checkpoint={workdir}",
      f"--output={output}",
      "--dtype=float32",
    ]
  )


def test_tiny_config_learns_and_exports(tmp_path):
  workdir = tmp_path / "run"
  # A subprocess on one device: on two cores the 8 virtual devices of this process are slower.
  steps = ["--config.train.steps=40", "--config.train.log_every=5", "--config.train.eval_every=20"]
  _run(_train_cmd(workdir, *steps))
  metrics = _metrics(workdir)
  assert [m["step"] for m in metrics] == list(range(5, 41, 5))
  assert metrics[-1]["loss"] < 0.7 * metrics[0]["loss"], metrics
  assert all(m["tokens_per_s"] > 0 for m in metrics)
  assert "eval_loss" in metrics[3] and "eval_loss" in metrics[-1]
  assert metrics[-1]["eval_loss"] < metrics[3]["eval_loss"] + 0.5
  assert any(f.startswith("events.out.tfevents") for f in os.listdir(workdir / "tensorboard"))
  _export(workdir, tmp_path / "hf")
  assert (tmp_path / "hf" / "model.safetensors").is_file()
  assert (tmp_path / "hf" / "tokenizer.json").is_file()  # the tiny tokenizer travels along


def _wait_for_step(workdir, step, proc, timeout=300):
  path = workdir / "checkpoints" / str(step)
  deadline = time.time() + timeout
  while time.time() < deadline:
    if path.is_dir() and (path / "_CHECKPOINT_METADATA").exists():
      return
    assert proc.poll() is None, proc.stderr.read()[-3000:]
    time.sleep(0.2)
  raise AssertionError(f"checkpoint {path} never appeared")


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
  """The shared loop's one SIGKILL test (every trainer resumes through it; GRPO and DPO check
  their own state with an in-process resume): killed after a checkpoint, rerun, each step
  logged once with the uninterrupted run's losses."""
  common = [
    "--config.train.steps=8",
    "--config.train.save_every=4",
    "--config.train.log_every=1",
    "--config.train.eval_every=0",
  ]
  _run(_train_cmd(tmp_path / "straight", *common))
  interrupted = tmp_path / "interrupted"
  proc = subprocess.Popen(
    _train_cmd(interrupted, *common),
    cwd=ROOT,
    env=_env(),
    stdout=subprocess.DEVNULL,
    stderr=subprocess.PIPE,
    text=True,
  )
  _wait_for_step(interrupted, 4, proc)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  _run(_train_cmd(interrupted, *common))
  straight, resumed = _metrics(tmp_path / "straight"), _metrics(interrupted)
  assert [m["step"] for m in resumed] == list(range(1, 9))  # each step logged once
  for a, b in zip(straight, resumed):
    assert a["step"] == b["step"]
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-6, err_msg=f"step {a['step']}")
    assert a["loss_tokens"] == b["loss_tokens"] and a["tokens"] == b["tokens"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
  """A tiny run with checkpoints at steps 4 and 8: copied by tests that damage or reuse it."""
  workdir = tmp_path_factory.mktemp("saved") / "run"
  _train(workdir, **{"train.steps": 8, "train.save_every": 4, "train.log_every": 4})
  return workdir


def test_corrupt_latest_checkpoint_falls_back_and_is_kept(saved, tmp_path, caplog):
  workdir = tmp_path / "run"
  shutil.copytree(saved, workdir)
  latest = workdir / "checkpoints" / "8"
  for root, _, files in os.walk(latest / "model"):
    for name in files:
      path = os.path.join(root, name)
      if os.path.getsize(path) > 1000:
        with open(path, "r+b") as f:
          f.truncate(os.path.getsize(path) // 2)
  _train(workdir, **{"train.steps": 10, "train.save_every": 4, "train.log_every": 4})
  assert "checkpoint step 8" in caplog.text and "failed to restore" in caplog.text
  quarantined = os.listdir(workdir / "corrupt_checkpoints")
  assert len(quarantined) == 1 and quarantined[0].startswith("8-")
  steps = [m["step"] for m in _metrics(workdir)]
  assert steps == [4, 8, 10]  # resumed at 4: step 8 redone, logged once


def test_checkpoint_of_another_setup_stops_the_run_and_is_kept(saved, tmp_path):
  workdir = tmp_path / "run"
  shutil.copytree(saved, workdir)
  before = sorted(os.listdir(workdir / "checkpoints"))
  # No clipping changes the optimizer state's layout: that is not corruption.
  with pytest.raises(CheckpointMismatchError, match="different opt_state layout"):
    _train(workdir, **{"train.steps": 10, "optimizer.clip_norm": 0.0})
  assert sorted(os.listdir(workdir / "checkpoints")) == before
  assert not (workdir / "corrupt_checkpoints").exists()
  assert [m["step"] for m in _metrics(workdir)] == [4, 8]


def test_two_processes_train_and_write_one_restorable_checkpoint(tmp_path):
  workdir = tmp_path / "run"
  address = f"127.0.0.1:{free_port()}"
  overrides = [
    "--config.train.steps=4",
    "--config.train.save_every=4",
    "--config.train.log_every=2",
    "--config.train.eval_every=0",
    "--config.mesh.fsdp=2",
    "--config.mesh.data=2",
  ]
  procs = [
    subprocess.Popen(
      _train_cmd(
        workdir,
        *overrides,
        f"--coordinator_address={address}",
        "--num_processes=2",
        f"--process_id={i}",
        "--distributed_timeout_s=120",
      ),
      cwd=ROOT,
      env=_env(devices=2),
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
    )
    for i in range(2)
  ]
  outputs = [p.communicate(timeout=600) for p in procs]
  assert all(p.returncode == 0 for p in procs), [o[1][-3000:] for o in outputs]
  metrics = _metrics(workdir)
  assert [m["step"] for m in metrics] == [2, 4]
  # Each process read its own half of every global batch: 2 processes x 4 rows.
  import jax

  model, step = checkpoint.load_model(str(workdir), mesh=None)
  assert step == 4
  logits = np.asarray(model(np.arange(16).reshape(2, 8)))
  assert np.isfinite(logits).all()
  assert jax.process_count() == 1


def test_training_starts_from_an_hf_directory(tmp_path):
  """init.source=hf: with lr 0 the trained checkpoint exports back to the same tensors (a
  Llama with llama3 RoPE scaling: the family and its rope settings survive the checkpoint)."""
  import torch
  from safetensors import safe_open

  from xcoder_jax.data import load_tokenizer

  from hf_models import make_hf_model

  hf = tmp_path / "hf"
  rope = {"rope_type": "llama3", "rope_theta": 5e5, "factor": 8.0, "low_freq_factor": 1.0}
  rope |= {"high_freq_factor": 4.0, "original_max_position_embeddings": 64}
  make_hf_model("llama", tied=True, vocab_size=4096, rope_parameters=rope).save_pretrained(hf)
  load_tokenizer("tiny").save_pretrained(str(hf))
  workdir = tmp_path / "run"
  settings = [f"--config.init.path={hf}", "--config.init.source=hf", "--config.data.tokenizer="]
  settings += ["--config.optimizer.lr=0", "--config.train.steps=2", "--config.train.eval_every=0"]
  _run(_train_cmd(workdir, *settings))
  _export(workdir, tmp_path / "out")
  with (
    safe_open(hf / "model.safetensors", "pt") as a,
    safe_open(tmp_path / "out" / "model.safetensors", "pt") as b,
  ):
    assert sorted(a.keys()) == sorted(b.keys())
    assert all(torch.equal(a.get_tensor(k), b.get_tensor(k)) for k in a.keys())
  assert (tmp_path / "out" / "tokenizer.json").is_file()  # the model's own tokenizer
  assert json.loads((tmp_path / "out" / "config.json").read_text())["rope_parameters"] == rope
