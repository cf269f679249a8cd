"""How per-token losses become one number, exactly, however the batch is split.

Every mode is a weighted token sum over a denominator: ``sum(weights * values) / denominator``,
with weights that depend only on the row's own mask (``seq-mean-token-mean`` weighs a token
1 / its sequence's valid-token count). So for a batch split into micro-batches BY ROWS (never
cutting a sequence), the global value is ``sum over micro-batches of numerator / global
denominator``: compute ``denominator(mask_of_the_whole_batch)`` once, pass it as the
normaliser of every micro-batch, and sum their losses (and gradients). No mean of means. A
step that adds up per-micro-batch denominators instead takes ``micro_batch_share``.

Modes, as verl's ``agg_loss`` (volcengine/verl ``verl/trainer/ppo/core_algos.py`` at
b178a3cd) names and computes them:

- ``token-mean``: every valid token of the batch weighs the same. X-Coder's config says
  token-mean, but with one sequence per micro-batch its effect was ``seq-mean-token-mean``,
  the mode that reproduces X-Coder at any micro-batch size.
- ``seq-mean-token-mean``: mean over sequences of each sequence's token mean.
- ``seq-mean-token-sum``: mean over sequences of each sequence's token sum.
- ``seq-mean-token-sum-norm``: Dr.GRPO, the sum of every valid token's loss over the batch
  divided by a constant (verl's ``loss_scale_factor``, by default the maximum response
  length), whatever the number of rows, empty or not: the normaliser must not change during
  training. This is verl's rule for the whole mini-batch; verl's FSDP actor also scales each
  micro-batch's loss by 1 / (micro-batches per mini-batch) and averages gradients over
  data-parallel ranks, which this mode deliberately does not.

Rows without a valid token (padding rows, filtered groups) have weight 0 and, as in verl, are
not counted by the ``seq-mean-token-*`` denominators. A deliberate difference: a batch
without any valid token aggregates to 0 with a zero gradient in every mode, where verl's
token-mean and seq-mean-token-* modes divide 0 by 0 (NaN). The GRPO trainer warns once when
an update had no valid token (from the metrics it fetches anyway: no sync inside the step).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from xcoder_jax.registry import Registry

# (valid [batch, length] bool, norm_constant) -> (token weights [batch, length], denominator)
Aggregation = Callable[[jax.Array, float | None], tuple[jax.Array, jax.Array]]
AGGREGATIONS: Registry[Aggregation] = Registry("loss aggregation")


def _num_sequences(valid: jax.Array) -> jax.Array:
  return jnp.sum(jnp.any(valid, axis=-1)).astype(jnp.float32)


@AGGREGATIONS.register("token-mean")
def token_mean(valid, norm_constant=None):
  return valid.astype(jnp.float32), jnp.sum(valid).astype(jnp.float32)


@AGGREGATIONS.register("seq-mean-token-mean")
def seq_mean_token_mean(valid, norm_constant=None):
  counts = jnp.sum(valid, axis=-1, keepdims=True).astype(jnp.float32)
  return valid / jnp.maximum(counts, 1.0), _num_sequences(valid)


@AGGREGATIONS.register("seq-mean-token-sum")
def seq_mean_token_sum(valid, norm_constant=None):
  return valid.astype(jnp.float32), _num_sequences(valid)


CONSTANT_NORMALISER = "seq-mean-token-sum-norm"


@AGGREGATIONS.register(CONSTANT_NORMALISER)
def seq_mean_token_sum_norm(valid, norm_constant=None):
  if norm_constant is None or norm_constant <= 0:
    raise ValueError(
      "seq-mean-token-sum-norm needs a positive constant norm_constant (Dr.GRPO: the maximum"
      f" response length), got {norm_constant!r}"
    )
  return valid.astype(jnp.float32), jnp.float32(norm_constant)


def token_weights(mode: str, mask: jax.Array, norm_constant: float | None = None):
  """(per-token weights, this batch's denominator) of aggregation ``mode`` for ``mask``."""
  return AGGREGATIONS.get(mode)(jnp.asarray(mask) > 0, norm_constant)


def denominator(mode: str, mask: jax.Array, norm_constant: float | None = None) -> jax.Array:
  """The normaliser of ``mode`` over ``mask`` (pass the WHOLE batch's mask to get the global
  normaliser for micro-batched gradient accumulation)."""
  return token_weights(mode, mask, norm_constant)[1]


def micro_batch_share(mode: str, own: jax.Array, micro_batches: int) -> jax.Array:
  """A micro-batch's share of the whole batch's denominator, from its ``own`` denominator,
  for a step that adds up the shares of ``micro_batches`` micro-batches: token and sequence
  counts are its own, while Dr.GRPO's constant is split evenly, so the shares add up to the
  constant at any split."""
  return own / micro_batches if mode == CONSTANT_NORMALISER else own


def safe_divide(numerator: jax.Array, normaliser: jax.Array) -> jax.Array:
  """numerator / normaliser, 0 (with a zero gradient, never NaN) when nothing is valid."""
  positive = normaliser > 0
  return jnp.where(positive, numerator / jnp.where(positive, normaliser, 1.0), 0.0)


def aggregate(
  mode: str,
  values: jax.Array,
  mask: jax.Array,
  norm_constant: float | None = None,
  normaliser: jax.Array | float | None = None,
) -> jax.Array:
  """``values`` [batch, length] aggregated by ``mode`` over the valid tokens of ``mask``;
  ``normaliser`` replaces this batch's own denominator (see the module docstring)."""
  weights, own = token_weights(mode, mask, norm_constant)
  total = jnp.sum(jnp.where(weights > 0, values, 0.0) * weights)
  return safe_divide(total, own if normaliser is None else jnp.asarray(normaliser, jnp.float32))
