"""The decoder of every supported family (Qwen2 / Qwen2.5 / Qwen3, Llama) in Flax NNX,
readable top to bottom.

One module covers them all; the config's family row (models/families.py) switches the two
differences: Qwen2 adds biases to the q/k/v projections, Qwen3 instead RMS-normalises each
query and key head, Llama does neither. Everything else is shared: grouped-query attention,
rotate-half RoPE (plain or scaled, models/rope.py), a SwiGLU MLP, pre-norm residual blocks,
tied or untied embeddings.

Layer parameters are stacked on a leading "layers" axis, so the same weights can be run with
`jax.lax.scan` (fast compiles at depth) or a Python loop. Every parameter and activation names
its axes; `xcoder_jax.sharding` turns those names into a placement on the mesh.

Masking is by segment id and position: a query attends to a key when both are in the same
non-zero segment and the key's position is not after the query's. That one rule covers causal
attention, packed sequences (segments 1, 2, ...), padding (segment 0) and the KV cache (empty
slots are segment 0).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from xcoder_jax.models import context_parallel
from xcoder_jax.models.attention import ATTENTION_KERNELS, Segments
from xcoder_jax.models.config import ModelConfig
from xcoder_jax.models.remat import remat, tag
from xcoder_jax.models.rope import rope_frequencies
from xcoder_jax.sharding import constrain, take_rows

Array = jax.Array
BATCH, LENGTH, EMBED = "activation_batch", "activation_length", "activation_embed"


class KVCache(NamedTuple):
  """Keys and values of every layer for decoding; slot `index` is the next one written: one
  column for the whole batch, or one per row ([batch]) when rows advance on their own (the
  sampler's continuous batching)."""

  k: Array  # [layers, batch, length, kv_heads, head_dim]
  v: Array
  segment_ids: Array  # [batch, length]; 0 marks an empty slot
  positions: Array  # [batch, length]
  index: Array  # int32, scalar or [batch]

  @classmethod
  def create(cls, config: ModelConfig, batch: int, length: int) -> KVCache:
    shape = (config.num_layers, batch, length, config.num_kv_heads, config.head_dim)
    zeros = jnp.zeros(shape, config.dtype)
    return cls(
      zeros,
      zeros,
      jnp.zeros((batch, length), jnp.int32),
      jnp.zeros((batch, length), jnp.int32),
      jnp.zeros((), jnp.int32),
    )


def layer_param_shapes(config: ModelConfig) -> dict[str, tuple[tuple[int, ...], tuple[str, ...]]]:
  """Shape and logical axes of each per-layer parameter (without the stacked layer axis)."""
  e, m, d = config.hidden_size, config.intermediate_size, config.head_dim
  h, k = config.num_heads, config.num_kv_heads
  shapes = {
    "attn_norm": ((e,), ("norm",)),
    "q_proj": ((e, h, d), ("embed", "heads", "head_dim")),
    "k_proj": ((e, k, d), ("embed", "kv_heads", "head_dim")),
    "v_proj": ((e, k, d), ("embed", "kv_heads", "head_dim")),
    "o_proj": ((h, d, e), ("heads", "head_dim", "embed")),
    "mlp_norm": ((e,), ("norm",)),
    "gate_proj": ((e, m), ("embed", "mlp")),
    "up_proj": ((e, m), ("embed", "mlp")),
    "down_proj": ((m, e), ("mlp", "embed")),
  }
  if config.qkv_bias:
    shapes["q_bias"] = ((h, d), ("heads", "head_dim"))
    shapes["k_bias"] = ((k, d), ("kv_heads", "head_dim"))
    shapes["v_bias"] = ((k, d), ("kv_heads", "head_dim"))
  if config.qk_norm:
    shapes["q_norm"] = ((d,), ("norm",))
    shapes["k_norm"] = ((d,), ("norm",))
  return shapes


def _init(name: str, key: Array, shape: tuple[int, ...], dtype: str) -> Array:
  if name.endswith("norm"):
    return jnp.ones(shape, dtype)
  if name.endswith("bias"):
    return jnp.zeros(shape, dtype)
  return 0.02 * jax.random.normal(key, shape, dtype)


class DecoderLayers(nnx.Module):
  """All decoder blocks, each parameter stacked over layers."""

  def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
    self.names = tuple(layer_param_shapes(config))
    for name, (shape, axes) in layer_param_shapes(config).items():
      value = _init(name, rngs.params(), (config.num_layers, *shape), config.param_dtype)
      setattr(self, name, nnx.Param(value, logical_axes=("layers", *axes)))

  def stacked(self) -> dict[str, Array]:
    return {name: getattr(self, name)[...] for name in self.names}


def project(x: Array, w: Array, contract: int, out_dtype=None) -> Array:
  """x[..., *in] @ w[*in, *out] as a single 2-D matmul.

  Same result as the einsum, but XLA:CPU runs the gradient of a 3-D einsum (weights
  contracted against batch and length at once) up to 2x slower than the 2-D form.
  """
  lead, k = x.shape[: x.ndim - contract], math.prod(w.shape[:contract])
  out = jnp.matmul(x.reshape(-1, k), w.reshape(k, -1), preferred_element_type=out_dtype)
  return out.reshape(*lead, *w.shape[contract:])


def rms_norm(x: Array, weight: Array, eps: float) -> Array:
  """RMSNorm computed in float32, scaled in the input dtype (as transformers does)."""
  x32 = x.astype(jnp.float32)
  normed = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + eps)
  return weight.astype(x.dtype) * normed.astype(x.dtype)


def rope_tables(positions: Array, config: ModelConfig) -> tuple[Array, Array]:
  """cos and sin of shape [batch, length, head_dim] for rotate-half RoPE (scaled when set)."""
  inv_freq, scale = rope_frequencies(
    config.head_dim,
    config.rope_theta,
    config.rope_type,
    config.rope_factor,
    config.rope_original_max_position,
    config.rope_low_freq_factor,
    config.rope_high_freq_factor,
  )
  freqs = positions.astype(jnp.float32)[..., None] * inv_freq
  angles = jnp.concatenate([freqs, freqs], axis=-1)
  return jnp.cos(angles) * scale, jnp.sin(angles) * scale


def apply_rope(x: Array, cos: Array, sin: Array) -> Array:
  """x: [batch, length, heads, head_dim]."""
  half = x.shape[-1] // 2
  rotated = jnp.concatenate([-x[..., half:], x[..., :half]], axis=-1)
  cos, sin = cos[:, :, None, :].astype(x.dtype), sin[:, :, None, :].astype(x.dtype)
  return x * cos + rotated * sin


def write_columns(buffer: Array, new: Array, index: Array, layer: Array | int | None = None):
  """`buffer[layer, b, index + t] = new[b, t]` (no `layer`: `buffer[b, index + t]`) in place:
  one slice update when every row writes at the same column (scalar `index`), a scatter when
  each row has its own ([batch])."""
  lead = () if layer is None else (layer,)
  if index.ndim == 0:
    start = (*lead, 0, index) + (0,) * (new.ndim - 2)
    return jax.lax.dynamic_update_slice(buffer, new[(None,) * len(lead)], start)
  batch, length = new.shape[:2]
  rows = jnp.arange(batch)[:, None]
  columns = index[:, None] + jnp.arange(length)[None]
  return buffer.at[(*lead, rows, columns)].set(new, mode="drop")


def decoder_block(
  config: ModelConfig,
  p: dict[str, Array],
  x: Array,
  cos: Array,
  sin: Array,
  segments: Segments,
  kv: tuple[Array, Array] | None,
  layer: Array | int,
  index: Array | None,
) -> tuple[Array, tuple[Array, Array] | None]:
  """One pre-norm block. `kv` is the whole stacked cache: this layer's new keys/values are
  written into it at (`layer`, slot `index`) in place, then attention reads the layer back."""
  dtype = x.dtype
  p = {name: value.astype(dtype) for name, value in p.items()}
  heads = (BATCH, LENGTH, "activation_heads", None)
  kv_heads = (BATCH, LENGTH, "activation_kv_heads", None)

  h = rms_norm(x, p["attn_norm"], config.rms_norm_eps)
  q, k, v = (project(h, p[name], 1) for name in ("q_proj", "k_proj", "v_proj"))
  if config.qkv_bias:
    q, k, v = q + p["q_bias"], k + p["k_bias"], v + p["v_bias"]
  if config.qk_norm:
    q = rms_norm(q, p["q_norm"], config.rms_norm_eps)
    k = rms_norm(k, p["k_norm"], config.rms_norm_eps)
  q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
  q, k, v = constrain(q, heads), constrain(k, kv_heads), constrain(v, kv_heads)
  q, k, v = tag(q, "query_proj"), tag(k, "key_proj"), tag(v, "value_proj")
  if kv is not None:
    kv = tuple(write_columns(c, n.astype(c.dtype), index, layer) for c, n in zip(kv, (k, v)))
    k, v = (jax.lax.dynamic_index_in_dim(c, layer, keepdims=False) for c in kv)
  attn = context_parallel.attend(q, k.astype(dtype), v.astype(dtype), segments, config)
  attn = tag(attn, "attention")
  x = x + tag(constrain(project(attn, p["o_proj"], 2), (BATCH, LENGTH, EMBED)), "out_proj")

  h = rms_norm(x, p["mlp_norm"], config.rms_norm_eps)
  gate = tag(
    constrain(project(h, p["gate_proj"], 1), (BATCH, LENGTH, "activation_mlp")), "mlp_gate"
  )
  up = tag(constrain(project(h, p["up_proj"], 1), (BATCH, LENGTH, "activation_mlp")), "mlp_up")
  out = constrain(project(jax.nn.silu(gate) * up, p["down_proj"], 1), (BATCH, LENGTH, EMBED))
  x = x + tag(out, "mlp_out")
  return x, kv


class Qwen(nnx.Module):
  """Decoder-only language model of any supported family (the name is historical)."""

  def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
    ATTENTION_KERNELS.check(config.attention_impl, "attention_impl")
    self.config = config
    e, v = config.hidden_size, config.vocab_size
    self.embed = nnx.Param(
      _init("embed", rngs.params(), (v, e), config.param_dtype), logical_axes=("vocab", "embed")
    )
    self.layers = DecoderLayers(config, rngs=rngs)
    self.final_norm = nnx.Param(jnp.ones((e,), config.param_dtype), logical_axes=("norm",))
    if not config.tie_embeddings:
      self.lm_head = nnx.Param(
        _init("lm_head", rngs.params(), (e, v), config.param_dtype), logical_axes=("embed", "vocab")
      )

  def __call__(
    self, tokens: Array, positions: Array | None = None, segment_ids: Array | None = None
  ) -> Array:
    """Float32 logits [batch, length, vocab] for a (possibly packed) batch."""
    return self.logits(self.hidden_states(tokens, positions, segment_ids))

  def hidden_states(
    self, tokens: Array, positions: Array | None = None, segment_ids: Array | None = None
  ) -> Array:
    """Final normalised hidden states; lets a trainer compute the loss in vocab chunks."""
    positions, segment_ids = _defaults(tokens, positions, segment_ids)
    hidden, _ = self._run(tokens, positions, segment_ids, positions, segment_ids, None)
    return hidden

  def decode(
    self, tokens: Array, positions: Array, cache: KVCache, segment_ids: Array | None = None
  ) -> tuple[Array, KVCache]:
    """Prefill or extend `cache` with `tokens` (written at slot cache.index); returns logits."""
    positions, segment_ids = _defaults(tokens, positions, segment_ids)
    key_segments = write_columns(cache.segment_ids, segment_ids, cache.index)
    key_positions = write_columns(cache.positions, positions, cache.index)
    hidden, (k, v) = self._run(
      tokens, positions, segment_ids, key_positions, key_segments, (cache.k, cache.v, cache.index)
    )
    new_cache = KVCache(k, v, key_segments, key_positions, cache.index + tokens.shape[1])
    return self.logits(hidden), new_cache

  def logits(self, hidden: Array) -> Array:
    if self.config.tie_embeddings:
      weight = self.embed[...].astype(hidden.dtype).T
    else:
      weight = self.lm_head[...].astype(hidden.dtype)
    out = project(hidden, weight, 1, out_dtype=jnp.float32)
    return constrain(out, (BATCH, LENGTH, "activation_vocab"))

  def _run(self, tokens, positions, segment_ids, key_positions, key_segments, cache):
    config = self.config
    x = take_rows(self.embed[...], tokens, ("vocab", "embed"), (BATCH, LENGTH, EMBED))
    x = x.astype(config.dtype)
    cos, sin = rope_tables(positions, config)
    segments = Segments(segment_ids, key_segments, positions, key_positions)
    index = None if cache is None else cache[2]

    def block(carry, layer):
      (x, kv), (params, i) = carry, layer
      return decoder_block(config, params, x, cos, sin, segments, kv, i, index)

    block = remat(block, config.remat_policy, prevent_cse=not config.scan_layers)
    # The cache is carried through the layers (never scanned over as xs -> ys), so each layer
    # writes only its new slots into the one stacked buffer, in place, even inside the
    # sampler's decode loop; scanning it would copy the whole cache every decode step.
    stacked = self.layers.stacked()
    carry = (x, None if cache is None else (cache[0], cache[1]))
    if config.scan_layers:
      layers = jnp.arange(config.num_layers, dtype=jnp.int32)
      carry, _ = jax.lax.scan(lambda c, layer: (block(c, layer), None), carry, (stacked, layers))
    else:
      for i in range(config.num_layers):
        carry = block(carry, (jax.tree.map(lambda a, i=i: a[i], stacked), i))
    x, new_kv = carry
    return rms_norm(x, self.final_norm[...], config.rms_norm_eps), new_kv


def _defaults(tokens: Array, positions: Array | None, segment_ids: Array | None):
  if positions is None:
    positions = jnp.broadcast_to(jnp.arange(tokens.shape[1], dtype=jnp.int32), tokens.shape)
  if segment_ids is None:
    segment_ids = jnp.ones(tokens.shape, jnp.int32)
  return positions.astype(jnp.int32), segment_ids.astype(jnp.int32)
