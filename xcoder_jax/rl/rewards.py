"""Reward functions: plain callables in a registry, Tunix style.

A reward function is ``fn(prompts, completions, **columns) -> list[float]``, one float per
completion (judged rewards return ``RolloutScore`` floats that also carry the pass fraction). The trainer calls it ONCE per step with every rollout of the step (prompts
repeated n times, all rollouts of prompt 0 first) and the task columns repeated alongside,
plus ``judge`` (an ``xcoder_jax.judge.Judge``), ``step`` (the RL step) and, optionally,
``rollout_index`` (each rollout's stable index within the step; default: its position). A
judged reward sends all its programs in ONE ``judge.run(batch)`` call, so the judge's pool
stays busy for the whole step; functions that need no judge ignore it via ``**columns``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import numpy as np

from xcoder_jax.judge import extract, tasks
from xcoder_jax.judge.types import Outcome
from xcoder_jax.registry import Registry

RewardFn = Callable[..., list[float]]
REWARD_FUNCTIONS: Registry[RewardFn] = Registry("reward function")
PASS_REWARD = 5.0  # X-Coder: reward = 5 x the fraction of sampled tests passed
FORMAT_PENALTY = -2.0  # no python block after the reasoning, or code that does not parse


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


def judge_rollouts(
  completions: Sequence[str],
  *,
  judge,
  tests: Sequence[Sequence[dict]],
  kind: Sequence[str],
  fn_name: Sequence[str | None],
  step: int,
  rollout_index: Sequence[int] | None = None,
  max_tests: int = 10,
  time_limit_s: float = 10.0,
  memory_mb: int = 256,
  seed: int = 0,
) -> list[RolloutScore]:
  """X-Coder's reward with the details behind it (pass fraction, why no code was judged).

  The program is the last python block after the reasoning; an answer without one, still
  inside ``<think>``, or whose code does not parse scores ``FORMAT_PENALTY``; otherwise
  ``PASS_REWARD`` x the fraction of at most ``max_tests`` sampled tests passed.
  """
  indices = range(len(completions)) if rollout_index is None else rollout_index
  columns = {"tests": tests, "kind": kind, "fn_name": fn_name, "rollout_index": indices}
  for name, column in columns.items():
    if len(column) != len(completions):
      raise ValueError(f"column {name} has {len(column)} rows for {len(completions)} completions")
  scores: list[RolloutScore | None] = [None] * len(completions)
  batch, owners = [], []
  for row, (text, rollout) in enumerate(zip(completions, indices)):
    if not tests[row]:
      raise ValueError(f"rollout {rollout}: its task has no tests to grade against")
    try:
      code = extract.extract_last_python_block(text)
    except extract.ParseError as error:
      scores[row] = RolloutScore(FORMAT_PENALTY, 0.0, error.reason)
      continue
    chosen = sample_tests(len(tests[row]), max_tests, seed, step, rollout)
    batch.append(
      tasks.graded_submission(
        code,
        [tests[row][i] for i in chosen],
        kind[row],
        fn_name[row],
        time_limit_s,
        memory_mb,
      )
    )
    owners.append(row)
  results = judge.run(batch) if batch else []
  for row, result in zip(owners, results):
    errors = sum(v.verdict == Outcome.JUDGE_ERROR for v in result.verdicts)
    fraction = result.pass_fraction
    scores[row] = RolloutScore(PASS_REWARD * fraction, fraction, "judged", errors)
  return scores


_XCODER_OPTIONS = frozenset(inspect.signature(judge_rollouts).parameters) - {"completions"}


@REWARD_FUNCTIONS.register("xcoder")
def xcoder(prompts: Sequence[str], completions: Sequence[str], **columns) -> list[float]:
  """X-Coder's reward: 5 x the pass fraction over at most 10 sampled tests, -2 without a
  parseable last python block (so pass fraction = max(reward, 0) / 5). Takes the keyword
  arguments of ``judge_rollouts``; other task columns are ignored."""
  options = {name: value for name, value in columns.items() if name in _XCODER_OPTIONS}
  return judge_rollouts(completions, **options)
