"""The GRPO/PPO actor loss on per-token arrays: clipped policy gradient, entropy bonus, KL.

Everything takes ``[batch, length]`` per-token arrays (log-probs of the sampled tokens, their
entropies) so the trainer can compute them chunk by chunk without ever holding full-vocabulary
logits. Jit-friendly: ``LossConfig`` is a frozen (hashable) dataclass, closed over or static.

Formulas follow verl's ``compute_policy_loss`` (the copy in X-Coder's recipe repository and
upstream ``compute_policy_loss_vanilla``): ratio = exp(new - old) with the log-ratio clamped
to [-20, 20] as upstream does (X-Coder's older copy does not clamp; equal below e^20); loss1 = -A ratio, loss2 = -A clip(ratio, 1 - clip_low,
1 + clip_high), clipped = max(loss1, loss2); dual-clip bounds the loss of NEGATIVE advantages
by -A c (c = 3): loss = min(clipped, -A c) where A < 0, clipped elsewhere. The actor loss is
``pg - entropy_coef * entropy + kl_coef * kl``, all three aggregated by the same mode.

Micro-batches: pass ``normaliser=aggregation.denominator(mode, whole_batch_mask)``; then the
``loss`` and ``terms`` of the micro-batches sum to the whole batch's values, and so do their
gradients. ``token_sums`` always add up; ``token_means`` turns the summed dict into means.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from xcoder_jax.registry import Registry
from xcoder_jax.rl import aggregation

# (log_ratio, advantages, valid, config) -> (per-token loss, per-token 0/1 clip flags
# "clip_low", "clip_high", "clip_dual"); log_ratio is already clamped and 0 at masked tokens.
PolicyLoss = Callable[..., tuple[jax.Array, dict[str, jax.Array]]]
POLICY_LOSSES: Registry[PolicyLoss] = Registry("policy loss")
# (log_probs, ref_log_probs) -> per-token KL penalty, both 0-filled at masked tokens.
KL_ESTIMATORS: Registry[Callable[[jax.Array, jax.Array], jax.Array]] = Registry("kl estimator")

LOG_RATIO_CLAMP = 20.0  # upstream verl: exp() of a larger log-ratio overflows
LOW_VAR_KL_CLAMP = 10.0  # verl's kl_penalty("low_var_kl")


@dataclasses.dataclass(frozen=True)
class LossConfig:
  """Actor-loss settings; the defaults are X-Coder's Qwen2.5 run (no KL, entropy 0.001,
  clip 0.2 / 0.28, dual-clip 3, every sequence weighing the same). ``check()`` it once when
  building it from a config: names are validated there, not inside the jitted loss."""

  policy_loss: str = "dual_clip"
  clip_low: float = 0.2
  clip_high: float = 0.28
  clip_ratio_c: float = 3.0  # dual-clip bound (> 1)
  aggregation: str = "seq-mean-token-mean"
  norm_constant: float | None = None  # seq-mean-token-sum-norm only
  entropy_coef: float = 0.001
  kl_coef: float = 0.0
  kl_estimator: str = "k3"

  def check(self) -> LossConfig:
    POLICY_LOSSES.check(self.policy_loss, "policy_loss")
    aggregation.AGGREGATIONS.check(self.aggregation, "aggregation")
    KL_ESTIMATORS.check(self.kl_estimator, "kl_estimator")
    if not (0 <= self.clip_low < 1 and self.clip_high >= 0):
      raise ValueError(f"need 0 <= clip_low < 1 and clip_high >= 0, got {self}")
    if self.clip_ratio_c <= 1:
      raise ValueError(f"clip_ratio_c (the dual-clip bound) must exceed 1, got {self.clip_ratio_c}")
    if self.aggregation == "seq-mean-token-sum-norm" and not self.norm_constant:
      raise ValueError("aggregation seq-mean-token-sum-norm needs norm_constant > 0")
    return self


def _clipped(log_ratio, advantages, config):
  ratio = jnp.exp(log_ratio)
  loss1 = -advantages * ratio
  loss2 = -advantages * jnp.clip(ratio, 1.0 - config.clip_low, 1.0 + config.clip_high)
  clipped = jnp.maximum(loss1, loss2)
  # verl counts a token as clipped when the clipped term wins strictly; by the advantage's
  # sign that is the high clip (A > 0, ratio > 1 + clip_high) or the low clip (A < 0).
  wins = loss2 > loss1
  flags = {"clip_low": wins & (advantages < 0), "clip_high": wins & (advantages > 0)}
  return clipped, flags


@POLICY_LOSSES.register("ppo_clip")
def ppo_clip(log_ratio, advantages, valid, config):
  """PPO's clipped surrogate with separate low and high clips (clip-higher), no dual clip."""
  clipped, flags = _clipped(log_ratio, advantages, config)
  return clipped, {**flags, "clip_dual": jnp.zeros_like(valid)}


@POLICY_LOSSES.register("dual_clip")
def dual_clip(log_ratio, advantages, valid, config):
  """Clip-higher PPO plus dual-clip (arXiv 1912.09729) on negative advantages only: a token
  with A < 0 whose ratio exceeds c costs at most -A c, so one huge ratio cannot dominate."""
  clipped, flags = _clipped(log_ratio, advantages, config)
  bound = -advantages * config.clip_ratio_c
  negative = advantages < 0
  loss = jnp.where(negative, jnp.minimum(clipped, bound), clipped)
  return loss, {**flags, "clip_dual": (clipped > bound) & negative}


@KL_ESTIMATORS.register("k1")
def k1(log_probs, ref_log_probs):
  """log pi - log ref: unbiased, high variance, can be negative per token."""
  return log_probs - ref_log_probs


@KL_ESTIMATORS.register("k3")
def k3(log_probs, ref_log_probs):
  """Schulman's low-variance estimator exp(ref - pi) - (ref - pi) - 1 (>= 0), clamped to
  [-10, 10] as verl's ``low_var_kl``."""
  delta = ref_log_probs - log_probs
  return jnp.clip(jnp.exp(delta) - delta - 1.0, -LOW_VAR_KL_CLAMP, LOW_VAR_KL_CLAMP)


class LossOutput(NamedTuple):
  loss: jax.Array  # scalar to differentiate: pg - entropy_coef * entropy + kl_coef * kl
  terms: dict[str, jax.Array]  # pg_loss, entropy, kl_loss: aggregated and normalised as loss
  token_sums: dict[str, jax.Array]  # sums over valid tokens, and "tokens" (their count)
  denominator: jax.Array  # the aggregation's own denominator of this (micro-)batch


def policy_loss(
  config: LossConfig,
  log_probs: jax.Array,
  old_log_probs: jax.Array,
  advantages: jax.Array,
  mask: jax.Array,
  entropy: jax.Array | None = None,
  ref_log_probs: jax.Array | None = None,
  normaliser: jax.Array | float | None = None,
) -> LossOutput:
  """The actor loss of one (micro-)batch.

  log_probs: [batch, length] log-probs of the sampled tokens under the policy being trained.
  old_log_probs: the same under the behaviour policy (rollout time; fixed over ppo epochs).
  advantages: [batch] per sequence or [batch, length] per token.
  mask: [batch, length], nonzero on response tokens that count (values elsewhere, even NaN
    or inf, are ignored and get no gradient).
  entropy: [batch, length] per-token policy entropy (needed when entropy_coef != 0).
  ref_log_probs: [batch, length] under the frozen reference (needed when kl_coef != 0).
  normaliser: the aggregation denominator of the whole batch when this is a micro-batch.
  """
  if config.entropy_coef and entropy is None:
    raise ValueError("entropy_coef is set: pass the per-token entropy of the policy")
  if config.kl_coef and ref_log_probs is None:
    raise ValueError("kl_coef is set: pass the reference policy's per-token log-probs")
  valid = jnp.asarray(mask) > 0
  zero_masked = lambda x: jnp.where(valid, jnp.asarray(x, jnp.float32), 0.0)
  advantages = jnp.asarray(advantages, jnp.float32)
  if advantages.ndim == 1:
    advantages = advantages[:, None]
  advantages = zero_masked(jnp.broadcast_to(advantages, valid.shape))
  log_probs = zero_masked(log_probs)
  log_ratio = jnp.clip(log_probs - zero_masked(old_log_probs), -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
  pg, flags = POLICY_LOSSES.get(config.policy_loss)(log_ratio, advantages, valid, config)

  weights, own = aggregation.token_weights(config.aggregation, valid, config.norm_constant)
  norm = own if normaliser is None else jnp.asarray(normaliser, jnp.float32)
  reduce = lambda x: aggregation.safe_divide(jnp.sum(zero_masked(x) * weights), norm)
  terms = {"pg_loss": reduce(pg)}
  loss = terms["pg_loss"]
  ratio = jnp.exp(log_ratio)
  count = lambda flags: jnp.sum(flags & valid).astype(jnp.float32)
  token_sums = {
    "tokens": count(valid),
    "clipfrac": count(flags["clip_low"] | flags["clip_high"]),  # verl's pg_clipfrac
    "clipfrac_low": count(flags["clip_low"]),
    "clipfrac_high": count(flags["clip_high"]),
    "clipfrac_dual": count(flags["clip_dual"]),  # verl's pg_clipfrac_lower
    "ppo_kl": jnp.sum(zero_masked(-log_ratio)),  # verl's ppo_kl: mean(old - new)
    "approx_kl": jnp.sum(zero_masked(ratio - 1.0 - log_ratio)),  # k3 of KL(old || new)
    "ratio": jnp.sum(zero_masked(ratio)),
  }
  if entropy is not None:
    terms["entropy"] = reduce(entropy)
    token_sums["entropy"] = jnp.sum(zero_masked(entropy))
    loss = loss - config.entropy_coef * terms["entropy"]
  if ref_log_probs is not None:
    kl = zero_masked(KL_ESTIMATORS.get(config.kl_estimator)(log_probs, zero_masked(ref_log_probs)))
    terms["kl_loss"] = reduce(kl)
    token_sums["kl"] = jnp.sum(kl)
    loss = loss + config.kl_coef * terms["kl_loss"]
  return LossOutput(loss, terms, token_sums, own)


def token_means(token_sums: dict) -> dict[str, float]:
  """Means per valid token of (summed over micro-batches) ``token_sums``: clip fractions,
  ppo_kl, approx_kl, ratio, entropy, kl."""
  tokens = float(token_sums["tokens"])
  return {
    name: float(value) / tokens if tokens else 0.0
    for name, value in token_sums.items()
    if name != "tokens"
  }
