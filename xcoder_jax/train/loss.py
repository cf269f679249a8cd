"""Losses of every trainer, and per-token log-probabilities computed in sequence chunks.

At 32k tokens and a 152k vocabulary the logits of one sequence take 19 GB in float32; the
chunked functions walk the sequence in chunks and recompute each chunk's logits on the way
back, so full-vocabulary logits never exist for the whole batch.

A loss function maps (model, batch) to a `LossOutput`: a numerator and a denominator that
are SUMS over the rows it saw. The step adds them up over micro-batches and divides once, so
the loss owns its normalisation (SFT: over the global batch's response tokens; a sequence-mean
loss: over sequences; DPO: over pairs) and gradient accumulation never changes it. Each
trainer names its own loss (SFT `sft_loss`, GRPO `grpo.grpo_loss`, DPO `dpo.losses.dpo_loss`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from xcoder_jax.models.qwen import Qwen


class LossOutput(NamedTuple):
  """Sums over one (micro)batch. The step reports `loss = numerator / denominator` (all
  micro-batches added first), each `sums` entry as its total and each `means` entry
  (total, weight) as total / weight."""

  numerator: jax.Array
  denominator: jax.Array
  sums: Mapping[str, jax.Array] = {}
  means: Mapping[str, tuple[jax.Array, jax.Array]] = {}


LossFn = Callable[[nnx.Module, Mapping[str, jax.Array]], LossOutput]


def chunked_token_logprobs(
  model: Qwen,
  hidden: jax.Array,
  targets: jax.Array,
  chunk: int,
  with_entropy: bool = False,
  temperature: float = 1.0,
) -> tuple[jax.Array, jax.Array | None]:
  """Log-probabilities of `targets` [batch, length] under the model's logits divided by
  `temperature` (RL scores the distribution it sampled from, as verl does), and optionally
  each position's entropy of that distribution; both float32 [batch, length]."""
  batch, length, _ = hidden.shape
  chunk = min(chunk, length)
  if length % chunk:
    raise ValueError(f"sequence length {length} is not a multiple of train.loss_chunk {chunk}")
  n = length // chunk

  # Chunk j holds positions j, j + n, j + 2n, ...: strided, so a sequence split into
  # contiguous blocks over the mesh (context parallelism) stays split inside every chunk.
  def split(x):
    return jnp.moveaxis(x.reshape(batch, chunk, n, *x.shape[2:]), 2, 0)

  @jax.checkpoint
  def one(_, xs):
    h, t = xs
    logits = model.logits(h)
    if temperature != 1.0:
      logits = logits / temperature
    log_z = jax.nn.logsumexp(logits, axis=-1)
    logprob = jnp.take_along_axis(logits, t[..., None], -1)[..., 0] - log_z
    if not with_entropy:
      return None, (logprob, None)
    probs = jnp.exp(logits - log_z[..., None])
    return None, (logprob, log_z - jnp.sum(probs * logits, axis=-1))

  _, (logprobs, entropy) = jax.lax.scan(one, None, (split(hidden), split(targets)))

  def join(x):
    return jnp.moveaxis(x, 0, 2).reshape(batch, length)

  return join(logprobs), None if entropy is None else join(entropy)


def chunked_cross_entropy(
  model: Qwen, hidden: jax.Array, targets: jax.Array, weights: jax.Array, chunk: int
) -> tuple[jax.Array, jax.Array]:
  """(sum of weighted token losses, sum of weights) over a [batch, length] batch."""
  weights = weights.astype(jnp.float32)
  logprobs, _ = chunked_token_logprobs(model, hidden, targets, chunk)
  return -jnp.sum(logprobs * weights), jnp.sum(weights)


def sequence_logprobs(model: Qwen, batch: Mapping[str, jax.Array], chunk: int, **kwargs):
  """Per-token log-probs (and entropy) of `batch["targets"]` for a packed or padded batch."""
  hidden = model.hidden_states(batch["inputs"], batch["positions"], batch["segment_ids"])
  return chunked_token_logprobs(model, hidden, batch["targets"], chunk, **kwargs)


def batch_loss(model: Qwen, batch: Mapping[str, jax.Array], chunk: int):
  """Summed response-token loss and token count for one (micro)batch of packed sequences."""
  hidden = model.hidden_states(batch["inputs"], batch["positions"], batch["segment_ids"])
  return chunked_cross_entropy(model, hidden, batch["targets"], batch["loss_mask"], chunk)


def sft_loss(chunk: int) -> LossFn:
  """Mean cross-entropy over the response tokens of the whole global batch."""

  def loss_fn(model, batch):
    total, count = batch_loss(model, batch, chunk)
    tokens = jnp.sum(batch["segment_ids"] != 0).astype(jnp.float32)
    return LossOutput(total, count, sums={"loss_tokens": count, "tokens": tokens})

  return loss_fn
