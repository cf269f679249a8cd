"""Model configuration for the Qwen2 / Qwen2.5 / Qwen3 decoder family, and named presets."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from xcoder_jax.models.attention import ATTENTION_KERNELS
from xcoder_jax.models.remat import REMAT_POLICIES

DTYPES = ("float32", "bfloat16", "float16")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Shapes and numerics of one decoder. Qwen2 has q/k/v biases; Qwen3 normalises q and k."""

  vocab_size: int
  hidden_size: int
  intermediate_size: int
  num_layers: int
  num_heads: int
  num_kv_heads: int
  head_dim: int
  rope_theta: float = 1_000_000.0
  # YaRN context extension (models/rope.py): 1.0 is plain RoPE; Qwen2.5 past 32K uses 4.0
  # over its original 32,768 positions. Part of the checkpoint, like rope_theta.
  yarn_factor: float = 1.0
  yarn_original_max_position: int = 32768
  rms_norm_eps: float = 1e-6
  tie_embeddings: bool = False
  qkv_bias: bool = False
  qk_norm: bool = False
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
    problems = []
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
    for name, registry in (("remat_policy", REMAT_POLICIES), ("attention_impl", ATTENTION_KERNELS)):
      if getattr(self, name) not in registry:
        problems.append(f"{name}: {registry.unknown_message(getattr(self, name))}")
    for name in ("param_dtype", "dtype"):
      if getattr(self, name) not in DTYPES:
        problems.append(f"{name}={getattr(self, name)!r}; choose one of {', '.join(DTYPES)}")
    if self.yarn_factor < 1.0 or self.yarn_original_max_position <= 0:
      problems.append(
        f"yarn_factor must be >= 1 (1: plain RoPE) and yarn_original_max_position positive, "
        f"got {self.yarn_factor} and {self.yarn_original_max_position}"
      )
    if self.attention_chunk <= 0:
      problems.append(f"attention_chunk must be positive, got {self.attention_chunk}")
    for name in ("attention_block_q", "attention_block_kv"):
      block = getattr(self, name)
      if block < 8 or block & (block - 1):
        problems.append(f"{name} must be a power of two >= 8, got {block}")
    if problems:
      raise ValueError("invalid ModelConfig: " + "; ".join(problems))

  @property
  def family(self) -> str:
    return "qwen3" if self.qk_norm else "qwen2"

  def replace(self, **changes: Any) -> ModelConfig:
    return dataclasses.replace(self, **changes)

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> ModelConfig:
    data = json.loads(text)
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
    vocab_size=4096,
    hidden_size=256,
    intermediate_size=768,
    num_layers=4,
    num_heads=4,
    num_kv_heads=2,
    head_dim=64,
    rope_theta=10_000.0,
    tie_embeddings=True,
    qk_norm=True,
    max_position_embeddings=4096,
    dtype="float32",
  ),
  "qwen2.5-coder-0.5b": ModelConfig(
    vocab_size=151936,
    hidden_size=896,
    intermediate_size=4864,
    num_layers=24,
    num_heads=14,
    num_kv_heads=2,
    head_dim=64,
    tie_embeddings=True,
    qkv_bias=True,
    bos_token_id=151643,
    eos_token_id=151645,
  ),
  "qwen2.5-coder-7b": ModelConfig(
    vocab_size=152064,
    hidden_size=3584,
    intermediate_size=18944,
    num_layers=28,
    num_heads=28,
    num_kv_heads=4,
    head_dim=128,
    qkv_bias=True,
    bos_token_id=151643,
    eos_token_id=151645,
  ),
  "qwen3-0.6b": ModelConfig(
    vocab_size=151936,
    hidden_size=1024,
    intermediate_size=3072,
    num_layers=28,
    num_heads=16,
    num_kv_heads=8,
    head_dim=128,
    tie_embeddings=True,
    qk_norm=True,
    max_position_embeddings=40960,
    bos_token_id=151643,
    eos_token_id=151645,
  ),
  "qwen3-8b": ModelConfig(
    vocab_size=151936,
    hidden_size=4096,
    intermediate_size=12288,
    num_layers=36,
    num_heads=32,
    num_kv_heads=8,
    head_dim=128,
    qk_norm=True,
    max_position_embeddings=40960,
    bos_token_id=151643,
    eos_token_id=151645,
  ),
}


def get_preset(name: str, **overrides: Any) -> ModelConfig:
  if name not in PRESETS:
    raise ValueError(f"unknown model preset {name!r}; choose one of {sorted(PRESETS)}")
  return PRESETS[name].replace(**overrides)
