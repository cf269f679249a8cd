"""launch.import_hf and launch.export_hf never lose a user's work and never change numbers
unasked (issue 12, items 2-4), through the real command line in this process (`cli`)."""

import os

import pytest
import torch
from safetensors import safe_open

from xcoder_jax import checkpoint
from xcoder_jax.hf import load_hf

from hf_models import make_hf_model


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
  """A tiny float32 Qwen3 directory, as transformers saves it."""
  path = tmp_path_factory.mktemp("hf") / "qwen3"
  make_hf_model("qwen3", tied=False).save_pretrained(path)
  (path / "tokenizer_config.json").write_text('{"model_max_length": 512}')
  return path


@pytest.fixture(scope="module")
def imported(tmp_path_factory, hf_dir):
  """A checkpoint of hf_dir."""
  path = str(tmp_path_factory.mktemp("ckpt") / "ckpt")
  checkpoint.save_model(path, load_hf(str(hf_dir)), tokenizer_dir=str(hf_dir))
  return path


def _tree(path: str) -> dict[str, bytes]:
  """Every file under `path` with its content."""
  out = {}
  for folder, _, files in os.walk(path):
    for name in files:
      with open(os.path.join(folder, name), "rb") as f:
        out[os.path.relpath(os.path.join(folder, name), path)] = f.read()
  return out


@pytest.mark.slow
def test_float32_round_trip_is_exact_by_default(cli, hf_dir, tmp_path):
  assert cli("import_hf", f"--hf_dir={hf_dir}", f"--output={tmp_path / 'ckpt'}").code in (0, None)
  result = cli("export_hf", f"--checkpoint={tmp_path / 'ckpt'}", f"--output={tmp_path / 'out'}")
  assert result.code in (0, None), result.err
  with (
    safe_open(hf_dir / "model.safetensors", "pt") as a,
    safe_open(tmp_path / "out" / "model.safetensors", "pt") as b,
  ):
    assert sorted(a.keys()) == sorted(b.keys())
    for name in a.keys():
      x, y = a.get_tensor(name), b.get_tensor(name)
      assert x.dtype == y.dtype == torch.float32 and torch.equal(x, y), name


def test_import_refuses_an_existing_checkpoint_before_writing(cli, imported, tmp_path):
  other = tmp_path / "qwen2"
  make_hf_model("qwen2", tied=True).save_pretrained(other)
  before = _tree(imported)
  result = cli("import_hf", f"--hf_dir={other}", f"--output={imported}")
  result.assert_user_error("already exists", "choose a new --output")
  assert _tree(imported) == before
  assert checkpoint.load_model(imported)[0].config.family == "qwen3"


def test_export_never_touches_its_source(cli, imported, tmp_path):
  before = _tree(imported)
  os.symlink(imported, tmp_path / "link")
  for output, relation in [
    (imported, "is the source"),
    (tmp_path / "link", "is the source"),
    (os.path.join(imported, "hf"), "is inside the source"),
    (os.path.dirname(imported), "contains the source"),
  ]:
    result = cli("export_hf", f"--checkpoint={imported}", f"--output={output}", "--overwrite")
    result.assert_user_error(relation, "choose a directory outside it")
  assert _tree(imported) == before


def test_a_trained_run_exports_in_its_declared_dtype_and_says_so(cli, hf_dir, tmp_path, caplog):
  """No import record (a training run): float32 master weights go out in model.dtype."""
  run = str(tmp_path / "run")
  checkpoint.save_model(run, load_hf(str(hf_dir), dtype="bfloat16"), step=3)
  result = cli("export_hf", f"--checkpoint={run}", f"--output={tmp_path / 'out'}")
  assert result.code in (0, None), result.err
  assert "step 3 in bfloat16" in caplog.text and "--dtype=float32 keeps every bit" in caplog.text
  with safe_open(tmp_path / "out" / "model.safetensors", "pt") as f:
    assert {f.get_tensor(name).dtype for name in f.keys()} == {torch.bfloat16}
