"""X-Coder's reward, a plain callable (Tunix style), and the options it is judged with.

A reward function is ``fn(tasks, completions, *, judge, step, options, rollout_index=None)
-> list[float]``, one float per completion, where ``tasks[i]`` is the task record of
completion i (its ``tests``, ``kind``, ``fn_name``; the RL schema in xcoder_jax/data/rl.py).
The GRPO trainer calls it ONCE per step with every rollout of the step (all rollouts of
prompt 0 first); ``rollout_index`` is each rollout's stable index within the step (default:
its position), so a resumed step samples the same tests. A judged reward sends all its
programs in ONE ``judge.run(batch)`` call, so the judge's pool stays busy for the whole step,
and returns ``RolloutScore`` floats that also carry the pass fraction. Another reward is
passed to ``grpo.train(..., reward_fn=...)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import ml_collections
import numpy as np

from xcoder_jax.judge import extract, tasks
from xcoder_jax.judge.types import Outcome

RewardFn = Callable[..., list[float]]
PASS_REWARD = 5.0  # X-Coder: reward = 5 x the fraction of sampled tests passed
FORMAT_PENALTY = -2.0  # no python block after the reasoning, or code that does not parse


@dataclasses.dataclass(frozen=True)
class RewardOptions:
  """How rollouts are judged: at most `max_tests` tests per rollout, drawn from `seed`, the
  step and the rollout's index, each run under the judge's limits."""

  max_tests: int = 10
  time_limit_s: float = 10.0
  memory_mb: int = 256
  seed: int = 0

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> RewardOptions:
    return cls(
      config.rl.max_tests, config.judge.time_limit_s, config.judge.memory_mb, config.rl.seed
    )


class RolloutScore(float):
  """A reward that remembers how it was earned. It IS the float reward, so a judged reward
  function still returns a plain list of floats; the trainer reads `pass_fraction` (for
  pass-rate metrics) where a reward function provides it."""

  pass_fraction: float  # of the sampled tests; 0 without a program
  status: str  # "judged", or why no program was judged: "no_code_block", "syntax_error", ...
  judge_errors: int  # tests the judge itself failed on (counted as not passed)

  def __new__(cls, reward: float, pass_fraction: float, status: str, judge_errors: int = 0):
    score = super().__new__(cls, reward)
    score.pass_fraction, score.status, score.judge_errors = pass_fraction, status, judge_errors
    return score

  @property
  def reward(self) -> float:
    return float(self)


def sample_tests(num_tests: int, max_tests: int, seed: int, step: int, rollout: int) -> list[int]:
  """At most ``max_tests`` distinct test indices, the same for the same (seed, step,
  rollout) on every run, so a resumed run grades exactly as the original did."""
  if num_tests <= max_tests:
    return list(range(num_tests))
  rng = np.random.default_rng([seed, step, rollout])
  return sorted(int(i) for i in rng.choice(num_tests, size=max_tests, replace=False))


def xcoder_reward(
  tasks_of_rollouts: Sequence[Mapping],
  completions: Sequence[str],
  *,
  judge,
  step: int,
  options: RewardOptions = RewardOptions(),
  rollout_index: Sequence[int] | None = None,
) -> list[RolloutScore]:
  """X-Coder's reward with the details behind it (pass fraction, why no code was judged).

  The program is the last python block after the reasoning; an answer without one, still
  inside ``<think>``, or whose code does not parse scores ``FORMAT_PENALTY`` (-2); otherwise
  ``PASS_REWARD`` (5) x the fraction of at most ``options.max_tests`` sampled tests passed,
  so pass fraction = max(reward, 0) / 5.
  """
  indices = range(len(completions)) if rollout_index is None else rollout_index
  for name, column in (("tasks", tasks_of_rollouts), ("rollout_index", indices)):
    if len(column) != len(completions):
      raise ValueError(f"{len(column)} {name} for {len(completions)} completions")
  scores: list[RolloutScore | None] = [None] * len(completions)
  batch, owners = [], []
  for row, (task, text, rollout) in enumerate(zip(tasks_of_rollouts, completions, indices)):
    tests = task.get("tests")
    if not tests:
      raise ValueError(f"rollout {rollout}: its task has no tests to grade against")
    try:
      code = extract.extract_last_python_block(text)
    except extract.ParseError as error:
      scores[row] = RolloutScore(FORMAT_PENALTY, 0.0, error.reason)
      continue
    chosen = sample_tests(len(tests), options.max_tests, options.seed, step, rollout)
    batch.append(
      tasks.graded_submission(
        code,
        [tests[i] for i in chosen],
        task.get("kind", "stdio"),
        task.get("fn_name"),
        options.time_limit_s,
        options.memory_mb,
      )
    )
    owners.append(row)
  results = judge.run(batch) if batch else []
  for row, result in zip(owners, results):
    errors = sum(v.verdict == Outcome.JUDGE_ERROR for v in result.verdicts)
    fraction = result.pass_fraction
    scores[row] = RolloutScore(PASS_REWARD * fraction, fraction, "judged", errors)
  return scores
