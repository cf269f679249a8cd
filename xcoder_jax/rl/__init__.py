"""GRPO's pure parts: advantages, the actor loss and its aggregation, rewards.

from xcoder_jax import rl
advantages = rl.compute_advantages("grpo", rewards, group_size=8)  # numpy, host side
config = rl.LossConfig().check()  # X-Coder's settings
out = rl.policy_loss(config, log_probs, old_log_probs, advantages, mask, entropy=entropy)
rewards = rl.REWARD_FUNCTIONS.get("xcoder")(prompts, completions, judge=judge, step=step,
                                            tests=tests, kind=kind, fn_name=fn_name)
"""

from xcoder_jax.rl.advantages import ADVANTAGE_ESTIMATORS, compute_advantages
from xcoder_jax.rl.aggregation import (
  AGGREGATIONS,
  aggregate,
  denominator,
  micro_batch_denominator,
)
from xcoder_jax.rl.losses import (
  KL_ESTIMATORS,
  POLICY_LOSSES,
  LossConfig,
  LossOutput,
  policy_loss,
  token_means,
)
from xcoder_jax.rl.rewards import REWARD_FUNCTIONS, RolloutScore, judge_rollouts, sample_tests

__all__ = [
  "ADVANTAGE_ESTIMATORS",
  "AGGREGATIONS",
  "KL_ESTIMATORS",
  "POLICY_LOSSES",
  "REWARD_FUNCTIONS",
  "LossConfig",
  "LossOutput",
  "RolloutScore",
  "aggregate",
  "compute_advantages",
  "denominator",
  "judge_rollouts",
  "micro_batch_denominator",
  "policy_loss",
  "sample_tests",
  "token_means",
]
