"""Token-level cross-entropy computed in sequence chunks, so full logits never exist at once.

At 32k tokens and a 152k vocabulary the logits of one sequence take 19 GB in float32; the
loss instead walks the sequence in chunks and recomputes each chunk's logits on the way back.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from xcoder_jax.models.qwen import Qwen


def chunked_cross_entropy(
  model: Qwen, hidden: jax.Array, targets: jax.Array, weights: jax.Array, chunk: int
) -> tuple[jax.Array, jax.Array]:
  """(sum of weighted token losses, sum of weights) over a [batch, length] batch."""
  batch, length, embed = hidden.shape
  chunk = min(chunk, length)
  if length % chunk:
    raise ValueError(f"sequence length {length} is not a multiple of train.loss_chunk {chunk}")
  n = length // chunk

  def split(x):
    return jnp.moveaxis(x.reshape(batch, n, chunk, *x.shape[2:]), 1, 0)

  @jax.checkpoint
  def one(carry, xs):
    h, t, w = xs
    logits = model.logits(h)
    nll = jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, t[..., None], -1)[..., 0]
    return carry + jnp.sum(nll * w), None

  total, _ = jax.lax.scan(
    one,
    jnp.zeros((), jnp.float32),
    (split(hidden), split(targets), split(weights.astype(jnp.float32))),
  )
  return total, jnp.sum(weights.astype(jnp.float32))


def batch_loss(model: Qwen, batch: dict[str, jax.Array], chunk: int):
  """Summed response-token loss and token count for one (micro)batch of packed sequences."""
  hidden = model.hidden_states(batch["inputs"], batch["positions"], batch["segment_ids"])
  return chunked_cross_entropy(model, hidden, batch["targets"], batch["loss_mask"], chunk)
