"""Context (sequence) parallelism: one long sequence spread over the `sequence` mesh axis.

Everything outside attention (embeddings, norms, MLP, loss) is per token, so it shards the
sequence through the logical-axis rules ("activation_length" -> "sequence") with no help.
Attention is the one place where a token needs others: here each device keeps its block of
queries and all-gathers the keys, values and the keys' segment ids and positions along the
sequence axes (inside a `shard_map`), then runs whichever registered kernel the config names
on [local queries x all keys]. The masking rule is unchanged because it reads positions and
segment ids, never array indices, and those travel with the tokens. The backward pass is JAX's
transpose of the all-gather: a reduce-scatter of the key/value gradients.

Why all-gather rather than a ring: it is exact with every kernel as it stands (no second
online-softmax merge to keep in sync), and its cost (K/V of one layer, [keys, kv_heads, dim],
gathered once per layer) is small next to the activations for grouped-query models (4 KV heads
of 28 in Qwen2.5-Coder-7B: 128K keys x 4 x 128 x 2 bytes x 2 = 256 MiB per layer in bf16).

Load balance under a causal mask: blocks are contiguous. Kernels that compute every tile
(xla, chunked) do the same work on every device; a tile-skipping kernel (flash) does more on
the devices holding later blocks (they see more keys), up to 2x the mean on the last one.

Selection is by mesh: with a `sequence` axis of size > 1 (and sequence length divisible by
it) self-attention runs context-parallel; otherwise `attend` is the plain kernel. Decoding
against a KV cache (fewer queries than keys) always runs the plain kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
from jax.sharding import Mesh, PartitionSpec

from xcoder_jax import sharding
from xcoder_jax.models.attention import ATTENTION_KERNELS, Segments
from xcoder_jax.models.attention import attend as local_attend

if TYPE_CHECKING:
  from xcoder_jax.models.config import ModelConfig

BATCH, LENGTH = "activation_batch", "activation_length"


def _entry(spec: PartitionSpec, dim: int):
  return spec[dim] if dim < len(spec) else None


def attention_specs(
  q_shape: tuple[int, ...], kv_shape: tuple[int, ...], mesh: Mesh
) -> tuple[PartitionSpec, PartitionSpec, PartitionSpec] | None:
  """(query, key/value, segment) specs of context-parallel attention from the rules table, or
  None when the mesh does not split the sequence (then attention runs unsharded).

  Query and key heads are split only when both divide the head axes the same way, so every
  device holds whole grouped-query groups."""
  q_spec = sharding.logical_to_spec(
    (BATCH, LENGTH, "activation_heads", None), q_shape, mesh, what="attention queries"
  )
  kv_spec = sharding.logical_to_spec(
    (BATCH, LENGTH, "activation_kv_heads", None), kv_shape, mesh, what="attention keys"
  )
  batch, length = _entry(q_spec, 0), _entry(q_spec, 1)
  if length is None or q_shape[1] != kv_shape[1] or _entry(kv_spec, 1) != length:
    return None
  heads = _entry(q_spec, 2) if _entry(q_spec, 2) == _entry(kv_spec, 2) else None
  return (
    PartitionSpec(batch, length, heads, None),
    PartitionSpec(batch, length, heads, None),
    PartitionSpec(batch, length),
  )


def context_parallel_attention(
  q: jax.Array,
  k: jax.Array,
  v: jax.Array,
  segments: Segments,
  config: ModelConfig,
  mesh: Mesh,
  specs: tuple[PartitionSpec, PartitionSpec, PartitionSpec],
) -> jax.Array:
  """The configured kernel on each device's query block against all-gathered keys."""
  kernel = ATTENTION_KERNELS.get(config.attention_impl)
  q_spec, kv_spec, seg_spec = specs
  axes = sharding.spec_axes(q_spec, 1)

  def local(q, k, v, q_ids, kv_ids, q_pos, kv_pos):
    gather = lambda x: jax.lax.all_gather(x, axes, axis=1, tiled=True)  # noqa: E731
    k, v, kv_ids, kv_pos = gather(k), gather(v), gather(kv_ids), gather(kv_pos)
    with sharding.per_device():
      return kernel(q, k, v, Segments(q_ids, kv_ids, q_pos, kv_pos), config)

  # check_vma=False: the Pallas kernels' outputs carry no varying-axes annotation.
  run = jax.shard_map(
    local,
    mesh=mesh,
    in_specs=(q_spec, kv_spec, kv_spec, seg_spec, seg_spec, seg_spec, seg_spec),
    out_specs=q_spec,
    check_vma=False,
  )
  return run(q, k, v, *segments)


def attend(
  q: jax.Array, k: jax.Array, v: jax.Array, segments: Segments, config: ModelConfig
) -> jax.Array:
  """Attention for the decoder: context-parallel when the current mesh splits the sequence,
  the plain configured kernel otherwise."""
  mesh = sharding.current_mesh()
  specs = None if mesh is None else attention_specs(q.shape, k.shape, mesh)
  if specs is None:
    return local_attend(q, k, v, segments, config)
  return context_parallel_attention(q, k, v, segments, config, mesh, specs)
