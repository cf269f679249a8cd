"""GRPO's pure parts: advantages, the actor loss and its aggregation, rewards.

from xcoder_jax import rl
advantages = rl.compute_advantages("grpo", rewards, group_size=8)  # numpy, host side
config = rl.LossConfig().check()  # X-Coder's settings
out = rl.policy_loss(config, log_probs, old_log_probs, advantages, mask, entropy=entropy)
rewards = rl.xcoder_reward(task_records, completions, judge=judge, step=step)
"""

from xcoder_jax.rl.advantages import ADVANTAGE_ESTIMATORS, compute_advantages
from xcoder_jax.rl.aggregation import (
  AGGREGATIONS,
  aggregate,
  denominator,
  micro_batch_share,
)
from xcoder_jax.rl.losses import (
  KL_ESTIMATORS,
  POLICY_LOSSES,
  LossConfig,
  LossOutput,
  policy_loss,
  token_means,
)
from xcoder_jax.rl.rewards import RewardFn, RewardOptions, RolloutScore, sample_tests, xcoder_reward

__all__ = [
  "ADVANTAGE_ESTIMATORS",
  "AGGREGATIONS",
  "KL_ESTIMATORS",
  "POLICY_LOSSES",
  "LossConfig",
  "LossOutput",
  "RewardFn",
  "RewardOptions",
  "RolloutScore",
  "aggregate",
  "compute_advantages",
  "denominator",
  "micro_batch_share",
  "policy_loss",
  "sample_tests",
  "token_means",
  "xcoder_reward",
]
