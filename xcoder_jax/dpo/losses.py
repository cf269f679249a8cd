"""Preference losses as pure functions of per-sequence log-probabilities, and the trainer's loss.

Every entry of `PREFERENCE_LOSSES` maps `PairLogprobs` (summed response log-probs of the
policy and the frozen reference for both sides of each pair, and their response token
counts) to per-pair losses and the implicit rewards of each side. With the log-ratios
``dc = pc - rc`` and ``dr = pr - rr`` (policy minus reference, summed over the completion)
and the lengths ``nc``, ``nr`` (completion tokens, at least 1), as TRL's ``DPOTrainer``
computes them (huggingface/trl ``trl/trainer/dpo_trainer.py`` at v1.9.0):

* ``sigmoid`` (DPO, Rafailov et al. 2023): with the margin ``z = beta * (dc - dr)`` the loss
  is ``-log sigmoid(z)``; label smoothing ``eps`` (the chance a label is flipped) makes it
  ``-(1 - eps) log sigmoid(z) - eps log sigmoid(-z)`` (TRL's ``sigmoid``).
* ``ipo`` (Azar et al. 2023): ``(dc / nc - dr / nr - 1 / (2 beta))^2``, on log-ratios
  averaged over each completion's tokens as TRL does (the IPO authors' choice; TRL v0.23
  averages too, without the clamp of the lengths at 1).
* ``sigmoid_length_normalised``: DPO on log-ratios averaged over each completion's tokens
  (TRL's ``sigmoid_norm``), so a long rejected answer is not preferred less merely for its
  length.

Rewards are ``beta * dc`` and ``beta * dr`` (TRL >= 1 for ``sigmoid`` and ``ipo``; averaged
log-ratios for the length-normalised loss); ``reward_accuracy`` is the share of pairs whose
chosen reward is strictly higher.

A completion without a token (nothing of it survived truncation) counts as TRL counts it: its
summed log-probs are 0 and its length 1. Such pairs are trained and counted in the metric
``empty_completions``; only the empty filler pairs of a short last batch (no token on either
side) weigh nothing. (`xcoder_jax.data.dpo` keeps at least one response token per side, as
SFT's encoder refuses or drops a prompt that fills the row, and SynthSmith's pair builder
refuses empty answers; the count watches batches built any other way.)

`dpo_loss(config)`, the DPO trainer's loss, scores the rows
``[chosen; rejected]`` of a pair batch in one forward pass and returns sums over pairs, so
the step's single division makes every metric a mean over the pairs of the global batch,
however many micro-batches it was accumulated from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp

from xcoder_jax.data.batch import BATCH_FIELDS
from xcoder_jax.data.dpo import SIDES
from xcoder_jax.registry import Registry
from xcoder_jax.train.loss import LossOutput, sequence_logprobs


class PairLogprobs(NamedTuple):
  """Per-pair arrays [pairs]: summed response log-probs and response token counts."""

  policy_chosen: jax.Array
  policy_rejected: jax.Array
  reference_chosen: jax.Array
  reference_rejected: jax.Array
  chosen_tokens: jax.Array
  rejected_tokens: jax.Array


class PreferenceOutput(NamedTuple):
  losses: jax.Array  # [pairs]
  chosen_rewards: jax.Array  # [pairs]
  rejected_rewards: jax.Array  # [pairs]


PreferenceLoss = Callable[[PairLogprobs, float, float], PreferenceOutput]
PREFERENCE_LOSSES: Registry[PreferenceLoss] = Registry("preference loss")


def _smoothed_sigmoid(margin: jax.Array, label_smoothing: float) -> jax.Array:
  return -(1.0 - label_smoothing) * jax.nn.log_sigmoid(margin) - (
    label_smoothing * jax.nn.log_sigmoid(-margin)
  )


@PREFERENCE_LOSSES.register("sigmoid")
def sigmoid_loss(lp: PairLogprobs, beta: float, label_smoothing: float) -> PreferenceOutput:
  chosen = beta * (lp.policy_chosen - lp.reference_chosen)
  rejected = beta * (lp.policy_rejected - lp.reference_rejected)
  return PreferenceOutput(_smoothed_sigmoid(chosen - rejected, label_smoothing), chosen, rejected)


def _lengths(lp: PairLogprobs) -> tuple[jax.Array, jax.Array]:
  """Completion token counts clamped to 1 (an empty completion divides its 0 by 1)."""
  return jnp.maximum(lp.chosen_tokens, 1.0), jnp.maximum(lp.rejected_tokens, 1.0)


@PREFERENCE_LOSSES.register("ipo")
def ipo_loss(lp: PairLogprobs, beta: float, label_smoothing: float) -> PreferenceOutput:
  del label_smoothing  # IPO's squared loss is already bounded; smoothing is a DPO notion
  chosen = lp.policy_chosen - lp.reference_chosen
  rejected = lp.policy_rejected - lp.reference_rejected
  chosen_n, rejected_n = _lengths(lp)
  losses = (chosen / chosen_n - rejected / rejected_n - 1.0 / (2.0 * beta)) ** 2
  return PreferenceOutput(losses, beta * chosen, beta * rejected)


@PREFERENCE_LOSSES.register("sigmoid_length_normalised")
def length_normalised_loss(
  lp: PairLogprobs, beta: float, label_smoothing: float
) -> PreferenceOutput:
  chosen_n, rejected_n = _lengths(lp)
  averaged = PairLogprobs(
    lp.policy_chosen / chosen_n,
    lp.policy_rejected / rejected_n,
    lp.reference_chosen / chosen_n,
    lp.reference_rejected / rejected_n,
    lp.chosen_tokens,
    lp.rejected_tokens,
  )
  return sigmoid_loss(averaged, beta, label_smoothing)


def response_logprobs(model, batch: Mapping[str, jax.Array], chunk: int):
  """(summed response log-probs, response token counts), each [2 * pairs]: the chosen rows
  then the rejected rows of a pair batch, scored in one forward pass."""
  rows = {k: jnp.concatenate([batch[f"{side}_{k}"] for side in SIDES]) for k in BATCH_FIELDS}
  logprobs, _ = sequence_logprobs(model, rows, chunk)
  mask = rows["loss_mask"]
  return jnp.sum(logprobs * mask, axis=1), jnp.sum(mask, axis=1)


def pair_metrics(lp: PairLogprobs, out: PreferenceOutput, real: jax.Array) -> LossOutput:
  """Sums over the real pairs of a batch (``real`` [pairs]: False for the empty filler pairs
  of a short batch, which weigh nothing), and the count of pairs with an empty completion."""
  real = real.astype(jnp.float32)
  pairs = jnp.sum(real)
  empty = jnp.sum(real * ((lp.chosen_tokens == 0) | (lp.rejected_tokens == 0)))
  margin = out.chosen_rewards - out.rejected_rewards
  per_pair = {
    "reward_margin": margin,
    "reward_accuracy": (margin > 0).astype(jnp.float32),
    "chosen_reward": out.chosen_rewards,
    "rejected_reward": out.rejected_rewards,
    "chosen_logprob": lp.policy_chosen,
    "rejected_logprob": lp.policy_rejected,
  }
  means = {k: (jnp.sum(v * real), pairs) for k, v in per_pair.items()}
  tokens = jnp.sum(lp.chosen_tokens + lp.rejected_tokens)
  sums = {"pairs": pairs, "loss_tokens": tokens, "empty_completions": empty}
  return LossOutput(jnp.sum(out.losses * real), pairs, sums=sums, means=means)


def dpo_loss(config) -> Callable:
  """The trainer's loss: `config.dpo.loss` of `PREFERENCE_LOSSES` with `config.dpo.beta` and
  `config.dpo.label_smoothing`, reference log-probs read from the batch."""
  preference = PREFERENCE_LOSSES.get(PREFERENCE_LOSSES.check(config.dpo.loss, "dpo.loss"))
  beta, smoothing, chunk = config.dpo.beta, config.dpo.label_smoothing, config.train.loss_chunk

  def loss_fn(model, batch):
    sums, tokens = response_logprobs(model, batch, chunk)
    pairs = batch["chosen_inputs"].shape[0]
    lp = PairLogprobs(
      sums[:pairs],
      sums[pairs:],
      batch["chosen_ref_logprob"],
      batch["rejected_ref_logprob"],
      tokens[:pairs],
      tokens[pairs:],
    )
    real = jnp.any(batch["chosen_segment_ids"] != 0, axis=1) | jnp.any(
      batch["rejected_segment_ids"] != 0, axis=1
    )
    out = pair_metrics(lp, preference(lp, beta, smoothing), real)
    trained = sum(jnp.sum(batch[f"{side}_segment_ids"] != 0) for side in SIDES)
    return out._replace(sums={**out.sums, "tokens": trained.astype(jnp.float32)})

  return loss_fn
