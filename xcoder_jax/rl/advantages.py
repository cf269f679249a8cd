"""Outcome advantages for groups of rollouts of the same prompt.

Rewards arrive on the host, one float per rollout from the judge, a few thousand per step;
the estimators are plain numpy in float64 (no compilation for a new group count, no device
round trip) and hand float32 to the trainer, which broadcasts each value over its
sequence's tokens.

Rewards are ``[num_prompts, n]`` or flat ``[num_prompts * n]`` grouped contiguously (all n
rollouts of prompt 0 first, as SGLang and the rollout engines return them); the result has
the input's shape.

A group of one rollout (``n = 1``) has no baseline; as in verl's
``compute_grpo_outcome_advantage`` and ``compute_rloo_outcome_advantage`` (volcengine/verl
``verl/trainer/ppo/core_algos.py`` at b178a3cd) its mean is taken as 0 and its std as 1, so
``grpo`` gives ``r / (1 + epsilon)`` and ``drgrpo`` and ``rloo`` give ``r``: the rollout is
pushed by its raw reward rather than ignored.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from xcoder_jax.registry import Registry

Estimator = Callable[..., np.ndarray]  # (rewards [groups, n] float64, **options) -> same shape
ADVANTAGE_ESTIMATORS: Registry[Estimator] = Registry("advantage estimator")


@ADVANTAGE_ESTIMATORS.register("grpo")
def grpo(rewards: np.ndarray, epsilon: float = 1e-6) -> np.ndarray:
  """(r - group mean) / (group std + epsilon), the std unbiased (n - 1) as torch.std in verl's
  ``compute_grpo_outcome_advantage``; an all-equal group gets 0, a singleton r / (1 + epsilon)."""
  if rewards.shape[1] < 2:
    return rewards / (1.0 + epsilon)
  std = rewards.std(axis=1, ddof=1, keepdims=True)
  return (rewards - rewards.mean(axis=1, keepdims=True)) / (std + epsilon)


@ADVANTAGE_ESTIMATORS.register("drgrpo")
def drgrpo(rewards: np.ndarray) -> np.ndarray:
  """Dr.GRPO: r - group mean, no std scaling (which over-weights near-uniform groups); a
  singleton keeps r."""
  if rewards.shape[1] < 2:
    return rewards.copy()
  return rewards - rewards.mean(axis=1, keepdims=True)


@ADVANTAGE_ESTIMATORS.register("rloo")
def rloo(rewards: np.ndarray) -> np.ndarray:
  """REINFORCE leave-one-out: r minus the mean of the group's other rollouts
  (= n / (n - 1) x (r - group mean)); a singleton keeps r."""
  n = rewards.shape[1]
  if n < 2:
    return rewards.copy()
  return (n * rewards - rewards.sum(axis=1, keepdims=True)) / (n - 1)


def compute_advantages(
  estimator: str, rewards, group_size: int | None = None, **options
) -> np.ndarray:
  """Advantages (float32, the shape of ``rewards``) by the named estimator.

  ``rewards``: ``[num_prompts, n]``, or flat ``[num_prompts * n]`` with ``group_size=n``.
  ``options`` go to the estimator (``grpo``: ``epsilon``, default 1e-6).
  """
  fn = ADVANTAGE_ESTIMATORS.get(estimator)
  values = np.asarray(rewards, dtype=np.float64)
  if values.ndim == 1:
    if not group_size or group_size < 1 or values.size % group_size:
      raise ValueError(
        f"flat rewards of length {values.size} need group_size (rollouts per prompt) dividing"
        f" it, got {group_size!r}; or pass rewards shaped [num_prompts, n]"
      )
    grouped = values.reshape(-1, group_size)
  elif values.ndim == 2:
    if group_size not in (None, values.shape[1]):
      raise ValueError(f"rewards shaped {values.shape} contradict group_size={group_size}")
    grouped = values
  else:
    raise ValueError(f"rewards must be [num_prompts, n] or flat, got shape {values.shape}")
  if not np.all(np.isfinite(grouped)):
    raise ValueError("rewards must be finite; a reward function returned NaN or inf")
  return fn(grouped, **options).reshape(values.shape).astype(np.float32)
