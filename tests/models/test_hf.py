"""Hugging Face interchange against the reference implementation (transformers, CPU torch)."""

import json
import os

import numpy as np
import pytest
import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file

from xcoder_jax import sharding
from xcoder_jax.hf import HFCheckpointError, HFConfigError, load_hf, save_hf

from hf_models import hf_logits, make_hf_model

VARIANTS = [("qwen2", False), ("qwen2", True), ("qwen3", False), ("qwen3", True)]
TOKENS = np.random.RandomState(0).randint(0, 256, (2, 19))


@pytest.fixture(
  scope="module", params=VARIANTS, ids=lambda v: f"{v[0]}-{'tied' if v[1] else 'untied'}"
)
def hf_model_dir(request, tmp_path_factory):
  family, tied = request.param
  model = make_hf_model(family, tied)
  path = str(tmp_path_factory.mktemp(f"{family}_{tied}"))
  model.save_pretrained(path)
  return model, path


def _tensors(path):
  out = {}
  for file in sorted(os.listdir(path)):
    if file.endswith(".safetensors"):
      with safe_open(os.path.join(path, file), framework="pt") as f:
        out.update({k: f.get_tensor(k) for k in f.keys()})
  return out


def test_import_matches_transformers_logits(hf_model_dir):
  model, path = hf_model_dir
  ours = load_hf(path, dtype="float32")
  assert np.abs(np.asarray(ours(TOKENS)) - hf_logits(model, TOKENS)).max() < 1e-4


def test_export_loads_in_transformers_with_same_logits(hf_model_dir, tmp_path):
  model, path = hf_model_dir
  out = save_hf(load_hf(path, dtype="float32"), str(tmp_path / "export"), dtype="float32")
  reloaded = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
  assert np.abs(hf_logits(reloaded, TOKENS) - hf_logits(model, TOKENS)).max() < 1e-4
  config = json.load(open(os.path.join(out, "config.json")))
  assert (
    config["rope_theta"]
    == config["rope_parameters"]["rope_theta"]
    == model.config.rope_parameters["rope_theta"]
  )
  assert os.path.isfile(os.path.join(out, "generation_config.json"))


def test_round_trip_is_bit_exact(hf_model_dir, tmp_path):
  _, path = hf_model_dir
  out = save_hf(load_hf(path, dtype="float32"), str(tmp_path / "export"), dtype="float32")
  before, after = _tensors(path), _tensors(out)
  assert sorted(before) == sorted(after)
  for name in before:
    assert torch.equal(before[name], after[name]), name


def test_bfloat16_checkpoint_round_trips_exactly(tmp_path):
  model = make_hf_model("qwen2", tied=False).to(torch.bfloat16)
  model.save_pretrained(tmp_path / "bf16")
  out = save_hf(load_hf(str(tmp_path / "bf16")), str(tmp_path / "export"), dtype="bfloat16")
  before, after = _tensors(tmp_path / "bf16"), _tensors(out)
  assert all(after[k].dtype == torch.bfloat16 and torch.equal(before[k], after[k]) for k in before)


def test_sharded_import_and_sharded_export(tmp_path):
  model = make_hf_model("qwen3", tied=False)
  model.save_pretrained(tmp_path / "hf", max_shard_size="100KB")
  assert os.path.isfile(tmp_path / "hf" / "model.safetensors.index.json")
  mesh = sharding.make_mesh(sharding.MeshConfig(ici={"fsdp": 4, "tensor": 2}))
  ours = load_hf(str(tmp_path / "hf"), mesh, dtype="float32")
  q_proj = ours.layers.q_proj[...]
  assert q_proj.sharding.spec == sharding.PartitionSpec(None, "fsdp", "tensor")
  shard_shapes = {s.data.shape for s in q_proj.addressable_shards}
  assert shard_shapes == {(3, 16, 2, 32)}  # [layers, embed/4, heads/2, head_dim]
  with sharding.use_mesh(mesh):
    assert np.abs(np.asarray(ours(TOKENS)) - hf_logits(model, TOKENS)).max() < 1e-4
  out = save_hf(ours, str(tmp_path / "export"), dtype="float32", max_shard_bytes=200_000)
  index = json.load(open(os.path.join(out, "model.safetensors.index.json")))
  files = set(index["weight_map"].values())
  assert len(files) > 1 and all(os.path.getsize(os.path.join(out, f)) < 260_000 for f in files)
  reloaded = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
  assert np.abs(hf_logits(reloaded, TOKENS) - hf_logits(model, TOKENS)).max() < 1e-4


def test_tokenizer_files_are_copied_on_export(tmp_path):
  hf = tmp_path / "hf"
  make_hf_model("qwen2", tied=True).save_pretrained(hf)
  (hf / "tokenizer.json").write_text('{"fake": true}')
  out = save_hf(load_hf(str(hf)), str(tmp_path / "export"), tokenizer_dir=str(hf))
  assert (tmp_path / "export" / "tokenizer.json").read_text() == '{"fake": true}'
  assert os.path.isfile(os.path.join(out, "model.safetensors"))


def test_export_refuses_to_overwrite(tmp_path):
  hf = tmp_path / "hf"
  make_hf_model("qwen2", tied=True).save_pretrained(hf)
  (tmp_path / "export").mkdir()
  (tmp_path / "export" / "keep.txt").write_text("precious")
  with pytest.raises(FileExistsError, match="not empty"):
    save_hf(load_hf(str(hf)), str(tmp_path / "export"))
  assert (tmp_path / "export" / "keep.txt").read_text() == "precious"


def test_overwrite_replaces_only_the_export_and_keeps_the_directory(tmp_path):
  """--overwrite: the old export's files go (also shards a smaller export no longer has), the
  directory, its permissions and the user's other files stay; a new directory is created with
  the umask's permissions, not a temporary directory's 0700."""
  hf = tmp_path / "hf"
  make_hf_model("qwen2", tied=True).save_pretrained(hf)
  model = load_hf(str(hf), dtype="float32")
  fresh = save_hf(model, str(tmp_path / "fresh"))
  umask = os.umask(0)
  os.umask(umask)
  assert os.stat(fresh).st_mode & 0o777 == 0o777 & ~umask
  out = tmp_path / "export"
  save_hf(model, str(out), max_shard_bytes=100_000)
  assert (out / "model.safetensors.index.json").is_file()
  (out / "README.md").write_text("my notes")
  os.chmod(out, 0o750)
  save_hf(model, str(out), overwrite=True)
  assert sorted(os.listdir(out)) == sorted(os.listdir(fresh) + ["README.md"])
  assert (out / "README.md").read_text() == "my notes" and os.stat(out).st_mode & 0o777 == 0o750
  assert not [name for name in os.listdir(tmp_path) if name.startswith(".export-")]
  assert all(torch.equal(v, _tensors(fresh)[k]) for k, v in _tensors(out).items())


@pytest.fixture
def qwen2_dir(tmp_path):
  make_hf_model("qwen2", tied=False).save_pretrained(tmp_path / "hf")
  return tmp_path / "hf"


def _edit_config(path, **changes):
  config = json.load(open(path / "config.json"))
  config.update(changes)
  json.dump(config, open(path / "config.json", "w"))


def _rewrite_tensors(path, edit):
  tensors = _tensors(path)
  edit(tensors)
  os.remove(path / "model.safetensors")
  save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})


@pytest.mark.parametrize(
  "changes,message",
  [
    ({"architectures": None, "model_type": "gemma"}, "unsupported architecture 'gemma'.*llama"),
    ({"use_sliding_window": True}, "sliding"),
    ({"rope_parameters": {"rope_type": "longrope", "rope_theta": 1e6, "factor": 4.0}}, "rope type"),
    (
      {"rope_parameters": {"rope_type": "yarn", "rope_theta": 1e6, "factor": 4.0, "beta_fast": 8}},
      "yarn with non-default",
    ),
  ],
)
def test_unsupported_configs_are_refused(qwen2_dir, changes, message):
  _edit_config(qwen2_dir, **changes)
  with pytest.raises(HFConfigError, match=message):
    load_hf(str(qwen2_dir))


def test_missing_tensor_is_named(qwen2_dir):
  _rewrite_tensors(qwen2_dir, lambda t: t.pop("model.layers.1.mlp.up_proj.weight"))
  with pytest.raises(HFCheckpointError, match=r"model\.layers\.1\.mlp\.up_proj\.weight"):
    load_hf(str(qwen2_dir))


def test_shape_mismatch_is_named(qwen2_dir):
  def shrink(t):
    t["model.layers.0.self_attn.k_proj.weight"] = t["model.layers.0.self_attn.k_proj.weight"][:-1]

  _rewrite_tensors(qwen2_dir, shrink)
  with pytest.raises(HFCheckpointError, match=r"layers\.0\.self_attn\.k_proj\.weight has shape"):
    load_hf(str(qwen2_dir))


def test_integer_dtype_is_refused(qwen2_dir):
  def quantise(t):
    t["model.norm.weight"] = t["model.norm.weight"].to(torch.int8)

  _rewrite_tensors(qwen2_dir, quantise)
  with pytest.raises(HFCheckpointError, match=r"model\.norm\.weight has dtype I8"):
    load_hf(str(qwen2_dir))


def test_unexpected_tensor_is_refused(qwen2_dir):
  _rewrite_tensors(
    qwen2_dir, lambda t: t.update({"model.layers.0.mlp.experts.0.w": torch.zeros(2)})
  )
  with pytest.raises(HFCheckpointError, match="unexpected tensors"):
    load_hf(str(qwen2_dir))


def test_missing_directory_says_what_is_expected(tmp_path):
  with pytest.raises(FileNotFoundError, match="config.json"):
    load_hf(str(tmp_path))
