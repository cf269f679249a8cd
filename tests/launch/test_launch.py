"""The absl entry points as a user runs them."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import transformers
from safetensors import safe_open

from hf_models import hf_logits, make_hf_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*args, check=True):
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
  result = subprocess.run(
    [sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
  )
  if check:
    assert result.returncode == 0, result.stderr[-3000:]
  return result


@pytest.mark.slow
def test_import_then_export_cli_round_trip(tmp_path):
  model = make_hf_model("qwen3", tied=False).to(torch.bfloat16)
  model.save_pretrained(tmp_path / "hf")
  (tmp_path / "hf" / "tokenizer_config.json").write_text('{"model_max_length": 512}')
  _run(
    "launch.import_hf",
    f"--hf_dir={tmp_path / 'hf'}",
    f"--output={tmp_path / 'ckpt'}",
    "--mesh_fsdp=4",
    "--mesh_tensor=2",
  )
  assert json.loads((tmp_path / "ckpt" / "hf_import.json").read_text())["weights_dtype"] == (
    "bfloat16"
  )
  # export accepts a training work directory too: the checkpoint lives under checkpoints/
  os.makedirs(tmp_path / "run")
  os.rename(tmp_path / "ckpt", tmp_path / "run" / "checkpoints")
  _run("launch.export_hf", f"--checkpoint={tmp_path / 'run'}", f"--output={tmp_path / 'out'}")
  assert (tmp_path / "out" / "tokenizer_config.json").read_text() == '{"model_max_length": 512}'
  with (
    safe_open(tmp_path / "hf" / "model.safetensors", "pt") as a,
    safe_open(tmp_path / "out" / "model.safetensors", "pt") as b,
  ):
    assert sorted(a.keys()) == sorted(b.keys())
    assert all(torch.equal(a.get_tensor(k), b.get_tensor(k)) for k in a.keys())
  load = lambda d: transformers.AutoModelForCausalLM.from_pretrained(d, dtype=torch.bfloat16)
  tokens = np.arange(24).reshape(2, 12)
  assert np.array_equal(
    hf_logits(load(tmp_path / "out"), tokens), hf_logits(load(tmp_path / "hf"), tokens)
  )


@pytest.mark.slow
def test_help_documents_every_flag():
  for module, names in [
    ("launch.import_hf", ["--hf_dir", "--output", "--param_dtype", "--mesh_fsdp"]),
    (
      "launch.export_hf",
      [
        "--checkpoint",
        "--output",
        "--dtype",
        "--overwrite",
        "--mesh_tensor",
        "--coordinator_address",
        "--[no]debug",
      ],
    ),
  ]:
    text = _run(module, "--help", check=False).stdout
    assert all(name in text for name in names), (module, text)
