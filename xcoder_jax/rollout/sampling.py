"""The sampling step's maths: repetition penalty, temperature, top-k / top-p and the draw.

Per row and pure, so a row's token depends only on its own logits, parameters and key.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def filter_top_k_top_p(logits: jax.Array, top_k: jax.Array, top_p: jax.Array) -> jax.Array:
  """Masks (to -inf) the tokens outside each row's top-k and nucleus (top-p) sets."""
  descending = -jnp.sort(-logits, axis=-1)
  rank = jnp.arange(logits.shape[-1])
  keep = (top_k[:, None] <= 0) | (rank[None] < top_k[:, None])
  probs = jax.nn.softmax(jnp.where(keep, descending, -jnp.inf), axis=-1)
  keep &= (jnp.cumsum(probs, axis=-1) - probs) < top_p[:, None]  # the first token always stays
  cutoff = jnp.take_along_axis(descending, keep.sum(-1, keepdims=True) - 1, axis=-1)
  return jnp.where(logits >= cutoff, logits, -jnp.inf)  # ties with the cutoff stay in


def apply_repetition_penalty(logits: jax.Array, seen: jax.Array, penalty: jax.Array) -> jax.Array:
  """Seen tokens' logits: positive ones divided by the row's penalty, negative multiplied."""
  penalty = penalty[:, None]
  return jnp.where(seen, jnp.where(logits > 0, logits / penalty, logits * penalty), logits)


def sample_tokens(
  logits: jax.Array, keys: jax.Array, temperature: jax.Array, top_k: jax.Array, top_p: jax.Array
) -> jax.Array:
  """Per-row tokens from float32 logits [batch, vocab]; temperature 0 rows take the argmax.

  An inverse-CDF draw (one uniform per row, as torch.multinomial does): on XLA:CPU it costs a
  fifth of Gumbel-max sampling, which draws and takes two logs of a number per vocabulary
  entry. The uniform is taken in (0, 1], so a zero-probability token is never drawn.
  """
  scaled = logits / jnp.maximum(temperature, 1e-6)[:, None]
  filtering = jnp.any((top_k > 0) | (top_p < 1))
  scaled = jax.lax.cond(filtering, filter_top_k_top_p, lambda x, *_: x, scaled, top_k, top_p)
  cdf = jnp.cumsum(jax.nn.softmax(scaled, axis=-1), axis=-1)
  draw = (1.0 - jax.vmap(jax.random.uniform)(keys)) * cdf[:, -1]
  sampled = jnp.minimum(jnp.sum(cdf < draw[:, None], axis=-1), logits.shape[-1] - 1)
  return jnp.where(temperature > 0, sampled, jnp.argmax(logits, axis=-1)).astype(jnp.int32)
