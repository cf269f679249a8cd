"""Splash attention (JAX's Pallas TPU kernel) for packed rows: causal mask plus segment ids.

Splash masks with a static mask (here causal by index) and segment-id equality. Within a
packed row whose positions count up by one from each segment's start (the layout of
xcoder_jax.data.batch, and of the sampler's left-padded prompts) that is the shared rule
for every real token: a key of another segment or of padding has a different id, and
"key index <= query index" inside one segment is "key position <= query position". Padding
queries (segment 0) see other padding keys instead of nothing; no caller reads them.

Decoding steps put fewer queries than keys (an offset into the cache that is only known at
run time), which a static mask cannot express, so those calls run the "chunked" XLA kernel;
one query per row is memory-bound anyway.

Grouped-query heads use splash's multi-query form once per KV head (vmapped), so no KV head
is repeated. Kernels are built once per shape (the mask's block tables are computed in numpy
at construction).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.experimental.pallas.ops.tpu.splash_attention import splash_attention_kernel as splash
from jax.experimental.pallas.ops.tpu.splash_attention import splash_attention_mask as masks

from xcoder_jax.models.attention import (
  ATTENTION_KERNELS,
  chunked_attention,
  pallas_interpret,
  per_shard,
)


@functools.lru_cache(maxsize=32)
def _kernel(length: int, group: int, block_q: int, block_kv: int, interpret: bool):
  causal = masks.MultiHeadMask([masks.CausalMask((length, length))] * group)
  blocks = splash.BlockSizes(
    block_q=block_q,
    block_kv=block_kv,
    block_kv_compute=block_kv,
    block_q_dkv=block_q,
    block_kv_dkv=block_kv,
    block_kv_dkv_compute=block_kv,
    block_q_dq=block_q,
    block_kv_dq=block_kv,
  )
  with jax.ensure_compile_time_eval():  # its block tables are constants, even mid-trace
    return splash.make_splash_mqa(
      causal, block_sizes=blocks, head_shards=1, q_seq_shards=1, interpret=interpret
    )


def splash_attention(q, k, v, segments, *, block_q: int, block_kv: int, interpret: bool):
  """q: [batch, length, heads, dim]; k, v: [batch, length, kv_heads, dim] (self-attention)."""
  batch, length, heads, dim = q.shape
  kv_heads = k.shape[2]
  group = heads // kv_heads
  padded = -(-length // max(block_q, block_kv)) * max(block_q, block_kv)

  def pad(x):  # padding is segment 0 at the end: only other padding sees it
    return jnp.pad(x, [(0, 0), (0, padded - length)] + [(0, 0)] * (x.ndim - 2))

  kernel = _kernel(padded, group, block_q, block_kv, interpret)
  # [batch, kv_heads, group, length, dim] queries against [batch, kv_heads, length, dim] keys.
  qs = pad(q * dim**-0.5).reshape(batch, padded, kv_heads, group, dim).transpose(0, 2, 3, 1, 4)
  ks, vs = (pad(x).transpose(0, 2, 1, 3) for x in (k, v))
  ids = splash.SegmentIds(q=pad(segments.q_segment_ids), kv=pad(segments.kv_segment_ids))
  per_head = jax.vmap(lambda q, k, v, ids: kernel(q, k, v, segment_ids=ids), (0, 0, 0, None))
  out = jax.vmap(per_head)(qs.astype(k.dtype), ks, vs, ids)
  return out.transpose(0, 3, 1, 2, 4).reshape(batch, padded, heads, dim)[:, :length]


@ATTENTION_KERNELS.register("splash")
@per_shard
def _splash_kernel(q, k, v, segments, config):
  interpret = pallas_interpret("splash", "tpu", "flash")
  if config.attention_block_q % 128 or config.attention_block_kv % 128:
    raise ValueError(
      "attention_impl='splash' tiles keys in multiples of the TPU's 128 lanes; set "
      f"attention_block_q and attention_block_kv to multiples of 128, got "
      f"{config.attention_block_q} and {config.attention_block_kv}"
    )
  if q.shape[1] != k.shape[1]:
    return chunked_attention(q, k, v, segments, config)
  return splash_attention(
    q,
    k,
    v,
    segments,
    block_q=config.attention_block_q,
    block_kv=config.attention_block_kv,
    interpret=interpret,
  )
