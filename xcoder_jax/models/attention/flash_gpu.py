"""FlashAttention-2 for packed rows as a Pallas GPU (Triton) kernel, forward and backward.

The mask is never materialised: each tile of scores is masked from the segment ids and
positions of its queries and keys (same non-zero segment, key position <= query position),
which is exactly the XLA kernel's rule, so packed rows, left padding and KV-cache decoding
(queries at an offset into a longer cache) all work. A tile that no query can see, judged
from the tiles' segment and position ranges, is skipped, so causal and cross-segment tiles
cost almost nothing.

JAX's own `pallas.ops.gpu.attention.mha` takes one segment-id array shared by queries and
keys and masks causally by index, so it cannot express a query offset into a cache nor
grouped-query heads; hence this kernel.

Grouped-query attention reads each KV head once per query head in the forward and dq
passes (a BlockSpec maps query head h to KV head h // group, no repeat); the dk/dv pass runs
per KV head over the rows of all its query heads, so no per-query-head copies are summed.

Queries whose row is fully masked (padding, segment 0) come out as zeros with zero
gradient; the XLA kernel returns the mean of the values there. No caller reads them.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu

from xcoder_jax.models.attention import ATTENTION_KERNELS, pallas_interpret, per_shard

LOG2E = math.log2(math.e)
MASK_VALUE = -1e30  # finite, so a fully masked tile never makes inf - inf


def _visible(q_ids, q_pos, k_ids, k_pos):
  """[queries, keys] mask of the shared rule (segment 0 = padding, causal by position)."""
  same = q_ids[:, None] == k_ids[None, :]
  return same & (k_ids[None, :] != 0) & (k_pos[None, :] <= q_pos[:, None])


def _span(ids, pos):
  """A tile's smallest and largest segment id and position: enough to rule a tile pair out."""
  return jnp.min(ids), jnp.max(ids), jnp.min(pos), jnp.max(pos)


def _may_see(q_span, k_span):
  """False only when no query of one tile can see any key of the other (safe to skip)."""
  q_lo, q_hi, _, q_last = q_span
  k_lo, k_hi, k_first, _ = k_span
  return (k_hi >= q_lo) & (k_lo <= q_hi) & (k_hi > 0) & (k_first <= q_last)


def _forward_kernel(
  q_ids_ref,
  q_pos_ref,
  k_ids_ref,
  k_pos_ref,
  q_ref,
  k_ref,
  v_ref,
  o_ref,
  lse_ref,
  *,
  scale,
  block_kv,
):
  q = q_ref[...]
  q_ids, q_pos = q_ids_ref[...], q_pos_ref[...]
  q_span = _span(q_ids, q_pos)
  block_q, dim = q.shape

  def tile(j, carry):
    keys = pl.ds(j * block_kv, block_kv)
    k_ids, k_pos = k_ids_ref[keys], k_pos_ref[keys]

    def compute(carry):
      o, m, total = carry  # running output, row max and row sum (FlashAttention-2)
      visible = _visible(q_ids, q_pos, k_ids, k_pos)
      s = plgpu.dot(q, k_ref[keys, :], trans_b=True) * (scale * LOG2E)
      s = jnp.where(visible, s, MASK_VALUE)
      m_new = jnp.maximum(m, jnp.max(s, axis=1))
      alpha = jnp.exp2(m - m_new)
      p = jnp.where(visible, jnp.exp2(s - m_new[:, None]), 0.0)
      o = o * alpha[:, None] + plgpu.dot(p.astype(v_ref.dtype), v_ref[keys, :])
      return o, m_new, total * alpha + jnp.sum(p, axis=1)

    return jax.lax.cond(_may_see(q_span, _span(k_ids, k_pos)), compute, lambda c: c, carry)

  init = (
    jnp.zeros((block_q, dim), jnp.float32),
    jnp.full((block_q,), MASK_VALUE, jnp.float32),
    jnp.zeros((block_q,), jnp.float32),
  )
  o, m, total = jax.lax.fori_loop(0, k_ref.shape[0] // block_kv, tile, init)
  total = jnp.where(total == 0.0, 1.0, total)  # fully masked rows: o is 0, keep it 0
  o_ref[...] = (o / total[:, None]).astype(o_ref.dtype)
  lse_ref[...] = m + jnp.log2(total)  # base-2 log-sum-exp of the scaled scores


def _probs_and_grads(q, k, v, do, lse, delta, visible, scale):
  """One tile's probabilities and score gradients, rebuilt from the forward's log-sum-exp."""
  s = plgpu.dot(q, k, trans_b=True) * (scale * LOG2E)
  p = jnp.where(visible, jnp.exp2(s - lse[:, None]), 0.0)
  return p, p * (plgpu.dot(do, v, trans_b=True) - delta[:, None])


def _dq_kernel(
  q_ids_ref,
  q_pos_ref,
  k_ids_ref,
  k_pos_ref,
  q_ref,
  k_ref,
  v_ref,
  do_ref,
  lse_ref,
  delta_ref,
  dq_ref,
  *,
  scale,
  block_kv,
):
  q, do = q_ref[...], do_ref[...]
  q_ids, q_pos = q_ids_ref[...], q_pos_ref[...]
  q_span = _span(q_ids, q_pos)
  lse, delta = lse_ref[...], delta_ref[...]

  def tile(j, dq):
    keys = pl.ds(j * block_kv, block_kv)
    k_ids, k_pos = k_ids_ref[keys], k_pos_ref[keys]

    def compute(dq):
      k, visible = k_ref[keys, :], _visible(q_ids, q_pos, k_ids, k_pos)
      _, ds = _probs_and_grads(q, k, v_ref[keys, :], do, lse, delta, visible, scale)
      return dq + plgpu.dot(ds.astype(k.dtype), k)

    return jax.lax.cond(_may_see(q_span, _span(k_ids, k_pos)), compute, lambda d: d, dq)

  dq = jax.lax.fori_loop(0, k_ref.shape[0] // block_kv, tile, jnp.zeros(q.shape, jnp.float32))
  dq_ref[...] = (dq * scale).astype(dq_ref.dtype)


def _dkv_kernel(
  q_ids_ref,
  q_pos_ref,
  k_ids_ref,
  k_pos_ref,
  q_ref,
  k_ref,
  v_ref,
  do_ref,
  lse_ref,
  delta_ref,
  dk_ref,
  dv_ref,
  *,
  scale,
  block_q,
  length,
  group,
):
  """One KV tile against every query tile of the `group` query heads that share it; q, do,
  lse and delta arrive as rows (head-major, then position) of those heads."""
  k, v = k_ref[...], v_ref[...]
  k_ids, k_pos = k_ids_ref[...], k_pos_ref[...]
  k_span = _span(k_ids, k_pos)

  def tile(i, carry):
    queries = pl.ds(i * block_q, block_q)
    q_ids, q_pos = q_ids_ref[queries], q_pos_ref[queries]

    def compute(carry):
      def head(g, carry):
        dk, dv = carry
        rows = pl.ds(g * length + i * block_q, block_q)
        q, do = q_ref[rows, :], do_ref[rows, :]
        visible = _visible(q_ids, q_pos, k_ids, k_pos)
        p, ds = _probs_and_grads(q, k, v, do, lse_ref[rows], delta_ref[rows], visible, scale)
        dv = dv + plgpu.dot(p.astype(do.dtype), do, trans_a=True)
        return dk + plgpu.dot(ds.astype(q.dtype), q, trans_a=True), dv

      return jax.lax.fori_loop(0, group, head, carry)

    return jax.lax.cond(_may_see(_span(q_ids, q_pos), k_span), compute, lambda c: c, carry)

  zeros = jnp.zeros(k.shape, jnp.float32)
  dk, dv = jax.lax.fori_loop(0, length // block_q, tile, (zeros, zeros))
  dk_ref[...] = (dk * scale).astype(dk_ref.dtype)
  dv_ref[...] = dv.astype(dv_ref.dtype)


def _triton(dim):
  """Selects the Triton backend of Pallas GPU (the default is Mosaic GPU); warps as in JAX's
  own Pallas attention."""
  return plgpu.CompilerParams(num_warps=4 if dim <= 64 else 8, num_stages=2)


def _pad(x, multiple, axis=1):
  """Pads the sequence axis with zeros (segment id 0: invisible) to a multiple of the tile."""
  extra = -x.shape[axis] % multiple
  if not extra:
    return x
  widths = [(0, 0)] * x.ndim
  widths[axis] = (0, extra)
  return jnp.pad(x, widths)


def flash_attention(q, k, v, segments, *, block_q: int, block_kv: int, interpret: bool):
  """q: [batch, length, heads, dim]; k, v: [batch, keys, kv_heads, dim]; `segments` holds
  the queries' and keys' segment ids and positions. Lengths are padded to the tiles here."""
  length, keys = q.shape[1], k.shape[1]
  block_q = min(block_q, pl.next_power_of_2(length))
  block_kv = min(block_kv, pl.next_power_of_2(keys))
  ids = (
    _pad(segments.q_segment_ids, block_q),
    _pad(segments.q_positions, block_q),
    _pad(segments.kv_segment_ids, block_kv),
    _pad(segments.kv_positions, block_kv),
  )
  out = _flash(
    _pad(q, block_q), _pad(k, block_kv), _pad(v, block_kv), ids, block_q, block_kv, interpret
  )
  return out[:, :length]


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6))
def _flash(q, k, v, ids, block_q, block_kv, interpret):
  return _forward(q, k, v, ids, block_q, block_kv, interpret)[0]


def _specs(block_q, group, keys, dim):
  """BlockSpecs over the grid (batch, query head, query tile) for the forward and dq passes."""
  by_q = lambda b, h, i: (b, i)  # noqa: E731
  whole_kv = lambda b, h, i: (b, 0)  # noqa: E731
  return dict(
    ids=[
      pl.BlockSpec((None, block_q), by_q),
      pl.BlockSpec((None, block_q), by_q),
      pl.BlockSpec((None, keys), whole_kv),
      pl.BlockSpec((None, keys), whole_kv),
    ],
    q=pl.BlockSpec((None, block_q, None, dim), lambda b, h, i: (b, i, h, 0)),
    kv=pl.BlockSpec((None, keys, None, dim), lambda b, h, i: (b, 0, h // group, 0)),
    stat=pl.BlockSpec((None, None, block_q), lambda b, h, i: (b, h, i)),
  )


def _forward(q, k, v, ids, block_q, block_kv, interpret):
  batch, length, heads, dim = q.shape
  group, keys = heads // k.shape[2], k.shape[1]
  specs = _specs(block_q, group, keys, dim)
  q_spec, kv_spec = specs["q"], specs["kv"]
  out, lse = pl.pallas_call(
    functools.partial(_forward_kernel, scale=dim**-0.5, block_kv=block_kv),
    grid=(batch, heads, length // block_q),
    in_specs=[*specs["ids"], q_spec, kv_spec, kv_spec],
    out_specs=[q_spec, specs["stat"]],
    out_shape=[
      jax.ShapeDtypeStruct(q.shape, q.dtype),
      jax.ShapeDtypeStruct((batch, heads, length), jnp.float32),
    ],
    compiler_params=_triton(dim),
    interpret=interpret,
    name="flash_forward",
  )(*ids, q, k, v)
  return out, (q, k, v, ids, out, lse)


def _forward_rule(q, k, v, ids, block_q, block_kv, interpret):
  return _forward(q, k, v, ids, block_q, block_kv, interpret)


def _backward_rule(block_q, block_kv, interpret, residuals, d_out):
  q, k, v, ids, out, lse = residuals
  batch, length, heads, dim = q.shape
  kv_heads, keys = k.shape[2], k.shape[1]
  group, scale = heads // kv_heads, dim**-0.5
  delta = jnp.einsum("bthd,bthd->bht", out.astype(jnp.float32), d_out.astype(jnp.float32))
  specs = _specs(block_q, group, keys, dim)
  q_spec, kv_spec = specs["q"], specs["kv"]
  dq = pl.pallas_call(
    functools.partial(_dq_kernel, scale=scale, block_kv=block_kv),
    grid=(batch, heads, length // block_q),
    in_specs=[*specs["ids"], q_spec, kv_spec, kv_spec, q_spec, specs["stat"], specs["stat"]],
    out_specs=q_spec,
    out_shape=jax.ShapeDtypeStruct(q.shape, q.dtype),
    compiler_params=_triton(dim),
    interpret=interpret,
    name="flash_backward_dq",
  )(*ids, q, k, v, d_out, lse, delta)

  def rows(x):  # [batch, length, heads, dim] -> [batch, kv_heads, group * length, dim]
    return x.transpose(0, 2, 1, 3).reshape(batch, kv_heads, group * length, dim)

  rows_spec = pl.BlockSpec((None, None, group * length, dim), lambda b, h, j: (b, h, 0, 0))
  stat_spec = pl.BlockSpec((None, None, group * length), lambda b, h, j: (b, h, 0))
  tile_spec = pl.BlockSpec((None, block_kv, None, dim), lambda b, h, j: (b, j, h, 0))
  whole_q = pl.BlockSpec((None, length), lambda b, h, j: (b, 0))
  kv_tile = pl.BlockSpec((None, block_kv), lambda b, h, j: (b, j))
  dk, dv = pl.pallas_call(
    functools.partial(_dkv_kernel, scale=scale, block_q=block_q, length=length, group=group),
    grid=(batch, kv_heads, keys // block_kv),
    in_specs=[
      whole_q,
      whole_q,
      kv_tile,
      kv_tile,
      rows_spec,
      tile_spec,
      tile_spec,
      rows_spec,
      stat_spec,
      stat_spec,
    ],
    out_specs=[tile_spec, tile_spec],
    out_shape=[jax.ShapeDtypeStruct(k.shape, k.dtype), jax.ShapeDtypeStruct(v.shape, v.dtype)],
    compiler_params=_triton(dim),
    interpret=interpret,
    name="flash_backward_dkv",
  )(
    *ids,
    rows(q),
    k,
    v,
    rows(d_out),
    lse.reshape(batch, kv_heads, -1),
    delta.reshape(batch, kv_heads, -1),
  )
  return dq, dk, dv, jax.tree.map(lambda x: None, ids)


_flash.defvjp(_forward_rule, _backward_rule)


@ATTENTION_KERNELS.register("flash")
@per_shard
def _flash_kernel(q, k, v, segments, config):
  return flash_attention(
    q,
    k,
    v,
    segments,
    block_q=config.attention_block_q,
    block_kv=config.attention_block_kv,
    interpret=pallas_interpret("flash", "gpu", "splash"),
  )
