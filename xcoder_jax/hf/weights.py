"""The correspondence between our parameter tree and Hugging Face tensor names.

HF stores projections as [out, in] matrices with heads flattened; we store [in, ...] with
heads as their own axis (so they can be sharded by name). Each entry names the layout change,
and each change can be applied to a slice of our array, reading only the part of the HF tensor
that the slice needs. No RoPE permutation is involved: both sides use rotate-half RoPE.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from xcoder_jax.models.config import ModelConfig
from xcoder_jax.models.qwen import layer_param_shapes

# Layout changes from an HF tensor to ours.
COPY = "copy"  # same layout
TRANSPOSE = "transpose"  # [out, in] -> [in, out]
HEADS_OUT = "heads_out"  # [heads*dim, embed] -> [embed, heads, dim]
HEADS_IN = "heads_in"  # [embed, heads*dim] -> [heads, dim, embed]
SPLIT_HEADS = "split"  # [heads*dim] -> [heads, dim]

_LAYER_TENSORS = {
  "attn_norm": ("input_layernorm.weight", COPY),
  "q_proj": ("self_attn.q_proj.weight", HEADS_OUT),
  "k_proj": ("self_attn.k_proj.weight", HEADS_OUT),
  "v_proj": ("self_attn.v_proj.weight", HEADS_OUT),
  "o_proj": ("self_attn.o_proj.weight", HEADS_IN),
  "q_bias": ("self_attn.q_proj.bias", SPLIT_HEADS),
  "k_bias": ("self_attn.k_proj.bias", SPLIT_HEADS),
  "v_bias": ("self_attn.v_proj.bias", SPLIT_HEADS),
  "q_norm": ("self_attn.q_norm.weight", COPY),
  "k_norm": ("self_attn.k_norm.weight", COPY),
  "mlp_norm": ("post_attention_layernorm.weight", COPY),
  "gate_proj": ("mlp.gate_proj.weight", TRANSPOSE),
  "up_proj": ("mlp.up_proj.weight", TRANSPOSE),
  "down_proj": ("mlp.down_proj.weight", TRANSPOSE),
}

# Tensors some HF checkpoints carry that hold nothing we need.
IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)


@dataclasses.dataclass(frozen=True)
class TensorMapping:
  path: tuple[str, ...]  # our parameter path
  hf_name: str  # HF tensor name; contains "{layer}" for stacked layer parameters
  kind: str
  our_shape: tuple[int, ...]  # per layer for stacked parameters

  @property
  def stacked(self) -> bool:
    return "{layer}" in self.hf_name

  def hf_shape(self) -> tuple[int, ...]:
    s = self.our_shape
    if self.kind == HEADS_OUT:
      return (s[1] * s[2], s[0])
    if self.kind == HEADS_IN:
      return (s[2], s[0] * s[1])
    if self.kind == SPLIT_HEADS:
      return (s[0] * s[1],)
    return s[::-1] if self.kind == TRANSPOSE else s


def tensor_mappings(config: ModelConfig) -> list[TensorMapping]:
  mappings = [
    TensorMapping(
      ("embed",), "model.embed_tokens.weight", COPY, (config.vocab_size, config.hidden_size)
    ),
    TensorMapping(("final_norm",), "model.norm.weight", COPY, (config.hidden_size,)),
  ]
  if not config.tie_embeddings:
    mappings.append(
      TensorMapping(
        ("lm_head",), "lm_head.weight", TRANSPOSE, (config.hidden_size, config.vocab_size)
      )
    )
  for name, (shape, _) in layer_param_shapes(config).items():
    suffix, kind = _LAYER_TENSORS[name]
    mappings.append(TensorMapping(("layers", name), "model.layers.{layer}." + suffix, kind, shape))
  return mappings


def _norm(index: tuple[slice, ...], shape: tuple[int, ...]) -> list[slice]:
  return [slice(*s.indices(n)) for s, n in zip(index, shape)]


def read_as_ours(
  kind: str,
  read: Callable[[tuple[slice, ...]], np.ndarray],
  our_shape: tuple[int, ...],
  index: tuple[slice, ...],
) -> np.ndarray:
  """The `index` slice of our layout, reading only the needed part of the HF tensor.

  `read(hf_index)` returns that slice of the HF tensor as a numpy array.
  """
  index = _norm(index, our_shape)
  if kind == COPY:
    return read(tuple(index))
  if kind == TRANSPOSE:
    return read((index[1], index[0])).T
  if kind == HEADS_OUT:
    embed, heads, dim = index
    d = our_shape[2]
    rows = read((slice(heads.start * d, heads.stop * d), embed))
    return rows.T.reshape(rows.shape[1], -1, d)[:, :, dim]
  if kind == HEADS_IN:
    heads, dim, embed = index
    d = our_shape[1]
    cols = read((embed, slice(heads.start * d, heads.stop * d)))
    return cols.T.reshape(-1, d, cols.shape[0])[:, dim, :]
  if kind == SPLIT_HEADS:
    heads, dim = index
    d = our_shape[1]
    return read((slice(heads.start * d, heads.stop * d),)).reshape(-1, d)[:, dim]
  raise ValueError(f"unknown layout change {kind!r}")


def ours_to_hf(kind: str, value: np.ndarray) -> np.ndarray:
  """Our full per-layer array in HF layout (contiguous, ready to serialise)."""
  if kind == COPY:
    out = value
  elif kind == TRANSPOSE:
    out = value.T
  elif kind == HEADS_OUT:
    out = value.reshape(value.shape[0], -1).T
  elif kind == HEADS_IN:
    out = value.reshape(-1, value.shape[-1]).T
  elif kind == SPLIT_HEADS:
    out = value.reshape(-1)
  else:
    raise ValueError(f"unknown layout change {kind!r}")
  return np.ascontiguousarray(out)
