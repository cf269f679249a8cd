"""Rollout engines: one interface over every way of sampling from the policy.

GRPO, evaluation and SynthSmith's in-process teacher only see this interface, so the same
trainer runs with the in-process JAX sampler (CPU, TPU, any mesh) or with SGLang servers on
GPU hosts. Engines register by name in `ENGINES`; configs pick one with `rollout.engine`.

Contract:
- `generate(prompts, sampling)` takes token-id prompts and returns, per prompt, `sampling.n`
  completions (one list per prompt, in prompt order). `Completion.logprobs` are the model's
  own untempered log-probabilities of the sampled tokens (what GRPO's ratio needs);
  `Completion.tokens` keep a stop token that ended the answer.
- `update_weights(params, version)` makes the engine sample from new policy parameters
  (a pytree in the layout of checkpoint item "model"); afterwards `weights_version == version`.
  Engines may copy, reshard or export the parameters, but never recompile for new values.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from xcoder_jax.registry import Registry
from xcoder_jax.rollout.types import Completion, SamplingParams

ENGINES: Registry[type[RolloutEngine]] = Registry("rollout engine")


class RolloutEngine(abc.ABC):
  """Samples completions of token-id prompts from the current policy weights."""

  @abc.abstractmethod
  def generate(
    self, prompts: Sequence[Sequence[int]], sampling: SamplingParams
  ) -> list[list[Completion]]:
    """`sampling.n` completions for each prompt, grouped by prompt."""

  @abc.abstractmethod
  def update_weights(self, params: Any, version: int) -> None:
    """Samples from `params` from now on; `weights_version` becomes `version`."""

  @property
  @abc.abstractmethod
  def weights_version(self) -> int:
    """The version of the weights the next `generate` samples from."""

  def close(self) -> None:  # noqa: B027 - optional hook, most engines hold nothing
    """Releases servers, threads or device memory the engine holds."""


def make_engine(name: str, **kwargs) -> RolloutEngine:
  return ENGINES.get(name)(**kwargs)
