"""Model configuration for the decoder (every family of `families.FAMILIES`), and named presets."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from xcoder_jax.models.families import FAMILIES, supported
from xcoder_jax.models.remat import REMAT_POLICIES
from xcoder_jax.models.rope import ROPE_TYPES

DTYPES = ("float32", "bfloat16", "float16")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Shapes and numerics of one decoder; `family` (a row of families.FAMILIES) sets the
  attention options, e.g. Qwen2's q/k/v biases or Qwen3's QK-norm."""

  family: str
  vocab_size: int
  hidden_size: int
  intermediate_size: int
  num_layers: int
  num_heads: int
  num_kv_heads: int
  head_dim: int
  rope_theta: float = 1_000_000.0
  # RoPE scaling as HF names it (models/rope.py): "default" is plain RoPE; Qwen2.5 past 32K
  # uses "yarn" with factor 4 over its original 32,768 positions, Llama 3.1 "llama3" (factor 8
  # over 8,192; low/high_freq_factor 1 and 4), DeepSeek-Coder 1.x "linear" (factor 4). Part
  # of the checkpoint, like rope_theta.
  rope_type: str = "default"
  rope_factor: float = 1.0
  rope_original_max_position: int = 0
  rope_low_freq_factor: float = 1.0
  rope_high_freq_factor: float = 4.0
  rms_norm_eps: float = 1e-6
  tie_embeddings: bool = False
  max_position_embeddings: int = 32768
  bos_token_id: int | None = None
  eos_token_id: int | None = None
  # Numerics and execution (RUNTIME_FIELDS): none of these change the parameters' shapes or
  # meaning, so a run may set them whatever the checkpoint was trained with.
  param_dtype: str = "float32"
  dtype: str = "bfloat16"
  remat_policy: str = "none"
  scan_layers: bool = True
  attention_impl: str = "xla"
  attention_chunk: int = 1024  # queries per block for attention_impl="chunked"
  # Tiles of the Pallas kernels ("flash", "splash"): queries and keys per tile, powers of two.
  attention_block_q: int = 128
  attention_block_kv: int = 128

  def __post_init__(self):
    problems = (
      []
      if self.family in FAMILIES
      else [f"unknown family {self.family!r}; supported: {supported()}"]
    )
    for name in (
      "vocab_size",
      "hidden_size",
      "intermediate_size",
      "num_layers",
      "num_heads",
      "num_kv_heads",
      "head_dim",
    ):
      if getattr(self, name) <= 0:
        problems.append(f"{name} must be positive, got {getattr(self, name)}")
    if self.num_kv_heads > 0 and self.num_heads % self.num_kv_heads:
      problems.append(
        f"num_heads ({self.num_heads}) must be a multiple of num_kv_heads "
        f"({self.num_kv_heads}) for grouped-query attention"
      )
    if self.head_dim % 2:
      problems.append(f"head_dim must be even for rotary embeddings, got {self.head_dim}")
    # attention_impl is checked where the kernel is looked up (Qwen.__init__): the kernels
    # read this config, so importing them here would make the two modules import each other.
    if self.remat_policy not in REMAT_POLICIES:
      problems.append(f"remat_policy: {REMAT_POLICIES.unknown_message(self.remat_policy)}")
    for name in ("param_dtype", "dtype"):
      if getattr(self, name) not in DTYPES:
        problems.append(f"{name}={getattr(self, name)!r}; choose one of {', '.join(DTYPES)}")
    if self.rope_type not in ROPE_TYPES:
      problems.append(f"rope_type={self.rope_type!r}; choose one of {', '.join(ROPE_TYPES)}")
    elif self.rope_type != "default" and self.rope_factor < 1.0:
      problems.append(f"rope_factor must be >= 1 for rope_type {self.rope_type}")
    elif self.rope_type in ("yarn", "llama3") and self.rope_original_max_position <= 0:
      problems.append(f"rope_type {self.rope_type} needs rope_original_max_position > 0")
    if self.attention_chunk <= 0:
      problems.append(f"attention_chunk must be positive, got {self.attention_chunk}")
    for name in ("attention_block_q", "attention_block_kv"):
      block = getattr(self, name)
      if block < 8 or block & (block - 1):
        problems.append(f"{name} must be a power of two >= 8, got {block}")
    if problems:
      raise ValueError("invalid ModelConfig: " + "; ".join(problems))

  @property
  def qkv_bias(self) -> bool:
    return FAMILIES[self.family].qkv_bias

  @property
  def qk_norm(self) -> bool:
    return FAMILIES[self.family].qk_norm

  def replace(self, **changes: Any) -> ModelConfig:
    return dataclasses.replace(self, **changes)

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> ModelConfig:
    data = _upgrade(json.loads(text))
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
      raise ValueError(f"unknown model config keys {unknown}; known keys: {sorted(known)}")
    return cls(**data)

  def num_params(self) -> int:
    e, m, d = self.hidden_size, self.intermediate_size, self.head_dim
    q, kv = self.num_heads * d, self.num_kv_heads * d
    per_layer = e * (q + 2 * kv) + q * e + 3 * e * m + 2 * e
    per_layer += (q + 2 * kv) if self.qkv_bias else 0
    per_layer += 2 * d if self.qk_norm else 0
    embed = self.vocab_size * e * (1 if self.tie_embeddings else 2)
    return self.num_layers * per_layer + embed + e

  def flops_per_token(self, seq_len: int, backward: bool = False) -> float:
    """Model FLOPs per token (matmuls incl. attention scores), the numerator of MFU."""
    e, m, d = self.hidden_size, self.intermediate_size, self.head_dim
    q, kv = self.num_heads * d, self.num_kv_heads * d
    dense = e * (q + 2 * kv) + q * e + 3 * e * m
    attention = 2 * self.num_heads * d * seq_len  # QK^T and PV over the (causal-free) context
    forward = 2 * (self.num_layers * (dense + attention) + e * self.vocab_size)
    return forward * (3 if backward else 1)


def _upgrade(data: dict[str, Any]) -> dict[str, Any]:
  """model_config.json of checkpoints written before families: attention flags instead of a
  family, and YaRN's own fields."""
  if "family" not in data and "qk_norm" in data:
    data["family"] = "qwen3" if data["qk_norm"] else "qwen2"
  for flag in ("qk_norm", "qkv_bias"):
    data.pop(flag, None)
  factor = data.pop("yarn_factor", 1.0)
  original = data.pop("yarn_original_max_position", 0)
  if factor != 1.0:
    data.update(rope_type="yarn", rope_factor=factor, rope_original_max_position=original)
  return data


# The fields a run may choose freely (configs/sft/base.py's `model` section holds exactly these
# plus `preset`). Everything else is a property of the checkpoint: it comes from the preset,
# the HF config.json or the checkpoint's model_config.json. rms_norm_eps and rope_theta are
# numbers, but the weights were trained with them, so they belong to the checkpoint.
RUNTIME_FIELDS = (
  "param_dtype",
  "dtype",
  "remat_policy",
  "scan_layers",
  "attention_impl",
  "attention_chunk",
  "attention_block_q",
  "attention_block_kv",
)


PRESETS: dict[str, ModelConfig] = {
  # A few million parameters: for tests and the CPU quickstart.
  "tiny": ModelConfig(
    family="qwen3",
    vocab_size=4096,
    hidden_size=256,
    intermediate_size=768,
    num_layers=4,
    num_heads=4,
    num_kv_heads=2,
    head_dim=64,
    rope_theta=10_000.0,
    tie_embeddings=True,
    max_position_embeddings=4096,
    dtype="float32",
  ),
  "qwen2.5-coder-0.5b": ModelConfig(
    family="qwen2",
    vocab_size=151936,
    hidden_size=896,
    intermediate_size=4864,
    num_layers=24,
    num_heads=14,
    num_kv_heads=2,
    head_dim=64,
    tie_embeddings=True,
    bos_token_id=151643,
    eos_token_id=151645,
  ),
  "qwen2.5-coder-7b": ModelConfig(
    family="qwen2",
    vocab_size=152064,
    hidden_size=3584,
    intermediate_size=18944,
    num_layers=28,
    num_heads=28,
    num_kv_heads=4,
    head_dim=128,
    bos_token_id=151643,
    eos_token_id=151645,
  ),
  "qwen3-0.6b": ModelConfig(
    family="qwen3",
    vocab_size=151936,
    hidden_size=1024,
    intermediate_size=3072,
    num_layers=28,
    num_heads=16,
    num_kv_heads=8,
    head_dim=128,
    tie_embeddings=True,
    max_position_embeddings=40960,
    bos_token_id=151643,
    eos_token_id=151645,
  ),
  "qwen3-8b": ModelConfig(
    family="qwen3",
    vocab_size=151936,
    hidden_size=4096,
    intermediate_size=12288,
    num_layers=36,
    num_heads=32,
    num_kv_heads=8,
    head_dim=128,
    max_position_embeddings=40960,
    bos_token_id=151643,
    eos_token_id=151645,
  ),
  # Llama-3.1-8B(-Instruct): 128K context by llama3 RoPE scaling of its 8K pretraining length.
  "llama3.1-8b": ModelConfig(
    family="llama",
    vocab_size=128256,
    hidden_size=4096,
    intermediate_size=14336,
    num_layers=32,
    num_heads=32,
    num_kv_heads=8,
    head_dim=128,
    rope_theta=500_000.0,
    rope_type="llama3",
    rope_factor=8.0,
    rope_original_max_position=8192,
    rms_norm_eps=1e-5,
    max_position_embeddings=131072,
    bos_token_id=128000,
    eos_token_id=128009,
  ),
}


def get_preset(name: str, **overrides: Any) -> ModelConfig:
  if name not in PRESETS:
    raise ValueError(f"unknown model preset {name!r}; choose one of {sorted(PRESETS)}")
  return PRESETS[name].replace(**overrides)
