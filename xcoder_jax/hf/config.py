"""Mapping between Hugging Face `config.json` files and `ModelConfig`."""

from __future__ import annotations

import json
import os
from typing import Any

from xcoder_jax.models.config import ModelConfig
from xcoder_jax.models.families import FAMILIES, Family, family_of_hf

_DTYPE_NAMES = {
  "float32": "float32",
  "bfloat16": "bfloat16",
  "float16": "float16",
  "torch.float32": "float32",
  "torch.bfloat16": "bfloat16",
  "torch.float16": "float16",
}
# The rope parameters each scaling reads: (HF key, ModelConfig field).
_ROPE_PARAMS = {
  "linear": (("factor", "rope_factor"),),
  "yarn": (
    ("factor", "rope_factor"),
    ("original_max_position_embeddings", "rope_original_max_position"),
  ),
  "llama3": (
    ("factor", "rope_factor"),
    ("original_max_position_embeddings", "rope_original_max_position"),
    ("low_freq_factor", "rope_low_freq_factor"),
    ("high_freq_factor", "rope_high_freq_factor"),
  ),
}


class HFConfigError(ValueError):
  """A Hugging Face config that this project cannot represent faithfully."""


def _family(hf: dict[str, Any]) -> Family:
  try:
    family = family_of_hf(hf)
    family.check(hf)
  except ValueError as error:
    raise HFConfigError(str(error)) from None
  return family


def rope_of(hf: dict[str, Any], family: Family) -> dict[str, Any]:
  """RoPE fields of ModelConfig from either the legacy `rope_theta`/`rope_scaling` keys or the
  newer `rope_parameters`: plain RoPE, or a scaling the family's checkpoints use."""
  params = hf.get("rope_parameters") or {}
  scaling = hf.get("rope_scaling") or {}
  rope = {**scaling, **params}
  rope_type = rope.get("rope_type") or rope.get("type") or "default"
  if rope_type not in family.rope_types:
    raise HFConfigError(
      f"rope type {rope_type!r} (RoPE scaling) is not supported for {family.name}; "
      f"implemented: {', '.join(family.rope_types)}"
    )
  theta = params.get("rope_theta", hf.get("rope_theta"))
  if theta is None:
    raise HFConfigError(
      "config.json has neither rope_theta nor rope_parameters.rope_theta; "
      "refusing to guess the RoPE base"
    )
  if rope_type == "yarn":
    custom = {
      k: rope[k]
      for k in ("beta_fast", "beta_slow", "attention_factor", "mscale", "mscale_all_dim")
      if rope.get(k) not in (None, {"beta_fast": 32, "beta_slow": 1}.get(k))
    }
    if custom or rope.get("truncate", True) is False:
      raise HFConfigError(
        f"yarn with non-default settings {custom or {'truncate': False}} is not supported; "
        "only factor and original_max_position_embeddings are"
      )
  original = rope.get("original_max_position_embeddings") or hf.get("max_position_embeddings")
  rope["original_max_position_embeddings"] = original  # transformers' fallback too
  fields = {"rope_theta": float(theta), "rope_type": rope_type}
  for key, field in _ROPE_PARAMS.get(rope_type, ()):
    if rope.get(key) is None:
      raise HFConfigError(f"rope type {rope_type!r} without {key!r} in config.json")
    fields[field] = (int if key == "original_max_position_embeddings" else float)(rope[key])
  return fields


def from_hf_config(hf: dict[str, Any], **overrides: Any) -> ModelConfig:
  """Builds a ModelConfig from a parsed config.json, refusing what it cannot reproduce."""
  family = _family(hf)
  if hf.get("hidden_act", "silu") != "silu":
    raise HFConfigError(f"hidden_act {hf['hidden_act']!r} is not supported; expected 'silu'")
  try:
    heads = hf["num_attention_heads"]
    dtype = _DTYPE_NAMES.get(str(hf.get("dtype") or hf.get("torch_dtype") or "bfloat16"))
    fields = dict(
      family=family.name,
      vocab_size=hf["vocab_size"],
      hidden_size=hf["hidden_size"],
      intermediate_size=hf["intermediate_size"],
      num_layers=hf["num_hidden_layers"],
      num_heads=heads,
      num_kv_heads=hf.get("num_key_value_heads") or heads,
      head_dim=hf.get("head_dim") or hf["hidden_size"] // heads,
      **rope_of(hf, family),
      rms_norm_eps=hf.get("rms_norm_eps", 1e-6),
      tie_embeddings=bool(hf.get("tie_word_embeddings", False)),
      max_position_embeddings=hf.get("max_position_embeddings", 32768),
      bos_token_id=hf.get("bos_token_id"),
      eos_token_id=_first(hf.get("eos_token_id")),
      dtype=dtype or "bfloat16",
    )
  except KeyError as error:
    raise HFConfigError(
      f"config.json has no {error.args[0]!r}; it is not a complete {family.name} config"
    ) from None
  fields.update(overrides)
  return ModelConfig(**fields)


def _first(value):
  return value[0] if isinstance(value, list) and value else value


def to_hf_config(config: ModelConfig, dtype: str) -> dict[str, Any]:
  """config.json content; writes the RoPE base under both keys old and new readers use."""
  family = FAMILIES[config.family]
  hf = {
    "architectures": [family.architecture],
    "model_type": family.name,
    "vocab_size": config.vocab_size,
    "hidden_size": config.hidden_size,
    "intermediate_size": config.intermediate_size,
    "num_hidden_layers": config.num_layers,
    "num_attention_heads": config.num_heads,
    "num_key_value_heads": config.num_kv_heads,
    "head_dim": config.head_dim,
    "hidden_act": "silu",
    "max_position_embeddings": config.max_position_embeddings,
    "rms_norm_eps": config.rms_norm_eps,
    "rope_theta": config.rope_theta,
    "rope_parameters": {"rope_type": "default", "rope_theta": config.rope_theta},
    "rope_scaling": None,
    "tie_word_embeddings": config.tie_embeddings,
    **family.exported,
    "attention_dropout": 0.0,
    "initializer_range": 0.02,
    "use_cache": True,
    "bos_token_id": config.bos_token_id,
    "eos_token_id": config.eos_token_id,
    "torch_dtype": dtype,
    "dtype": dtype,
  }
  if config.rope_type != "default":
    params = {key: getattr(config, field) for key, field in _ROPE_PARAMS[config.rope_type]}
    hf["rope_parameters"] = {"rope_type": config.rope_type, "rope_theta": config.rope_theta}
    hf["rope_parameters"].update(params)
    hf["rope_scaling"] = {"rope_type": config.rope_type, "type": config.rope_type, **params}
  return hf


def read_hf_config(hf_dir: str) -> dict[str, Any]:
  path = os.path.join(hf_dir, "config.json")
  if not os.path.isfile(path):
    raise FileNotFoundError(
      f"{path} not found: --hf_dir must be a Hugging Face model "
      "directory with config.json and *.safetensors"
    )
  with open(path) as f:
    try:
      hf = json.load(f)
    except json.JSONDecodeError as error:
      raise HFConfigError(f"{path} is not valid JSON ({error}); copy it again") from None
  if not isinstance(hf, dict):
    raise HFConfigError(f"{path} holds a JSON {type(hf).__name__}, not an object; copy it again")
  return hf
