"""Attention kernels behind one signature, registered in `ATTENTION_KERNELS` and chosen by
`ModelConfig.attention_impl`.

Every kernel receives the queries' and keys' segment ids and positions (`Segments`) rather
than a mask, and applies one rule: a query sees a key when both are in the same non-zero
segment (0 = padding) and the key's position is not after the query's. That covers causal
attention, packed rows, left padding and KV-cache decoding (queries offset into a longer
cache whose empty slots are segment 0). Kernels that need a dense mask build it themselves.

Which kernel where (every one gives the same result within tolerance on real tokens):

=============  =========  ====================================================================
kernel         backend    what it is
=============  =========  ====================================================================
"flash"        GPU        Pallas (Triton) FlashAttention-2, forward and backward, masking
                          from segment ids/positions tile by tile; no [length, keys] mask or
                          scores in memory, masked tiles skipped. The GPU choice for packed
                          training and long context.
"splash"       TPU        JAX's Pallas TPU splash attention (causal mask and segment ids),
                          forward and backward; the TPU choice. Causal by index within a
                          segment, which is the rule for rows laid out as data/batch.py lays
                          them out. Decoding steps (fewer queries than keys) run "chunked"
                          (see splash_tpu.py). Tiles: multiples of 128.
"cudnn"        GPU        `jax.nn.dot_product_attention` on cuDNN's fused kernel, fed a dense
                          [batch, length, keys] mask built here: the public API of JAX 0.10.2
                          expresses only per-row lengths (right padding), not packed segments,
                          so it cannot mask packing without the dense mask.
"chunked"      any        "xla" over blocks of `attention_chunk` queries, each block's mask
                          built from the segment ids and its scores recomputed in the
                          backward pass: memory holds one block's scores.
"xla"          any        explicit grouped-query matmuls over the whole score matrix; the
                          reference, and fastest at short lengths on CPU.
"dot_product"  any        `jax.nn.dot_product_attention` with JAX's own choice (its XLA
                          lowering), dense mask.
=============  =========  ====================================================================

The Pallas kernels run on CPU in interpret mode (slow: tests only); asking for one on the
other accelerator is an error that names the right kernel. Under a mesh they run per shard
(`per_shard`). Measured so far: correctness in interpret mode and lowering for CUDA/TPU on
CPU; their speed awaits an accelerator (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec

from xcoder_jax.registry import Registry
from xcoder_jax.sharding import constrain, current_mesh, named_sharding

if TYPE_CHECKING:
  from xcoder_jax.models.config import ModelConfig


class Segments(NamedTuple):
  """Who may attend to whom: segment ids (0 = padding) and positions of queries and keys."""

  q_segment_ids: jax.Array  # [batch, length] int32
  kv_segment_ids: jax.Array  # [batch, keys]
  q_positions: jax.Array  # [batch, length]
  kv_positions: jax.Array  # [batch, keys]

  def mask(self) -> jax.Array:
    """The dense [batch, length, keys] boolean mask, for kernels that need one."""
    q_ids, kv_ids = self.q_segment_ids[:, :, None], self.kv_segment_ids[:, None, :]
    causal = self.kv_positions[:, None, :] <= self.q_positions[:, :, None]
    return (q_ids == kv_ids) & (kv_ids != 0) & causal


# kernel(q, k, v, segments, config) -> [batch, length, heads, dim]; the kernels read their own
# settings (attention_chunk, attention_block_q, attention_block_kv) from the config.
AttentionKernel = Callable[[jax.Array, jax.Array, jax.Array, Segments, "ModelConfig"], jax.Array]
ATTENTION_KERNELS: Registry[AttentionKernel] = Registry("attention kernel")


def attend(
  q: jax.Array, k: jax.Array, v: jax.Array, segments: Segments, config: ModelConfig
) -> jax.Array:
  """q: [batch, length, heads, dim]; k, v: [batch, keys, kv_heads, dim]."""
  return ATTENTION_KERNELS.get(config.attention_impl)(q, k, v, segments, config)


def pallas_interpret(kernel: str, target: str, alternative: str) -> bool:
  """Whether a Pallas kernel for `target` ("gpu"/"tpu") runs interpreted: yes on CPU (tests),
  no on its target, and an error on the other accelerator."""
  backend = jax.default_backend()
  if backend == "cpu":
    return True
  if backend != target:
    raise ValueError(
      f"attention_impl={kernel!r} is the {target.upper()} kernel, but the backend is "
      f"{backend!r}; use {alternative!r}"
    )
  return False


def per_shard(kernel: AttentionKernel) -> AttentionKernel:
  """Runs a Pallas kernel on each device's block (batch over the data axes, heads over
  "tensor"), since XLA cannot partition a custom kernel itself. The length axis stays whole:
  spreading it is the job of sequence parallelism, not of the kernel."""

  def sharded(q, k, v, segments, config):
    mesh = current_mesh()
    if mesh is None or mesh.size == 1:
      return kernel(q, k, v, segments, config)

    def spec(names, shape):
      return tuple(named_sharding(names, shape).spec) + (None,) * (len(names) - 1)

    q_spec = spec(("activation_batch", None, "activation_heads", None), q.shape)
    kv_spec = spec(("activation_batch", None, "activation_kv_heads", None), k.shape)
    if q_spec[2] != kv_spec[2]:  # KV heads indivisible by "tensor": keep all heads together
      q_spec, kv_spec = (s[:2] + (None, None) for s in (q_spec, kv_spec))
    q_spec, kv_spec = PartitionSpec(*q_spec[:4]), PartitionSpec(*kv_spec[:4])
    ids_spec = PartitionSpec(q_spec[0])
    return jax.shard_map(
      lambda q, k, v, segments: kernel(q, k, v, segments, config),
      mesh=mesh,
      in_specs=(q_spec, kv_spec, kv_spec, Segments(*[ids_spec] * 4)),
      out_specs=q_spec,
      check_vma=False,
    )(q, k, v, segments)

  return sharded


@ATTENTION_KERNELS.register("dot_product")
def _dot_product_attention(q, k, v, segments, config):
  del config  # JAX picks its own kernel
  return jax.nn.dot_product_attention(q, k, v, mask=segments.mask()[:, None])


@ATTENTION_KERNELS.register("cudnn")
def _cudnn_attention(q, k, v, segments, config):
  del config  # cuDNN's fused kernel tiles internally
  if jax.default_backend() != "gpu":
    raise ValueError(
      f"attention_impl='cudnn' needs an NVIDIA GPU, but the backend is "
      f"{jax.default_backend()!r}; use 'xla' or 'dot_product'"
    )
  mask = segments.mask()[:, None]
  return jax.nn.dot_product_attention(q, k, v, mask=mask, implementation="cudnn")


@ATTENTION_KERNELS.register("xla")
def _xla_kernel(q, k, v, segments, config):
  del config  # the whole [length, keys] score matrix at once
  return _xla_attention(q, k, v, segments.mask())


def _xla_attention(q, k, v, mask):
  """Grouped-query attention as batched matmuls over (batch, kv_head).

  The query heads that share a KV head are folded into the rows of one matmul, and operands
  are laid out [batch, kv_head, rows, dim] so XLA emits plain batched GEMMs (on CPU this
  form trains ~1.7x faster than the equivalent 5-D einsums).
  """
  batch, length, heads, dim = q.shape
  kv_heads = k.shape[2]
  group = heads // kv_heads
  q = q.reshape(batch, length, kv_heads, group, dim).transpose(0, 2, 3, 1, 4)
  q = q.reshape(batch, kv_heads, group * length, dim)
  scores = jnp.matmul(q, k.transpose(0, 2, 3, 1), preferred_element_type=jnp.float32)
  scores = scores.reshape(batch, kv_heads, group, length, -1) * dim**-0.5
  scores = constrain(
    scores, ("activation_batch", "activation_kv_heads", None, "activation_length", None)
  )
  scores = jnp.where(mask[:, None, None], scores, jnp.finfo(jnp.float32).min)
  probs = jax.nn.softmax(scores, axis=-1).astype(v.dtype)
  out = jnp.matmul(probs.reshape(batch, kv_heads, group * length, -1), v.transpose(0, 2, 1, 3))
  out = out.reshape(batch, kv_heads, group, length, dim).transpose(0, 3, 1, 2, 4)
  return out.reshape(batch, length, heads, dim)


@ATTENTION_KERNELS.register("chunked")
def chunked_attention(q, k, v, segments, config):
  batch, length, heads, dim = q.shape
  chunk = config.attention_chunk
  if length <= chunk:
    return _xla_attention(q, k, v, segments.mask())
  # A ragged last block (e.g. a sampler's prefill) is padded with segment-0 queries.
  blocks = -(-length // chunk)

  def split(x):
    x = jnp.pad(x, [(0, 0), (0, blocks * chunk - length)] + [(0, 0)] * (x.ndim - 2))
    return x.reshape(batch, blocks, chunk, *x.shape[2:]).swapaxes(0, 1)

  def block(args):
    qb, idb, posb = args
    return _xla_attention(qb, k, v, segments._replace(q_segment_ids=idb, q_positions=posb).mask())

  parts = (split(x) for x in (q, segments.q_segment_ids, segments.q_positions))
  out = jax.lax.map(jax.checkpoint(block), tuple(parts))
  return out.swapaxes(0, 1).reshape(batch, blocks * chunk, heads, dim)[:, :length]


# The Pallas kernels register themselves next to the ones above.
from xcoder_jax.models.attention import flash_gpu, splash_tpu  # noqa: E402, F401
