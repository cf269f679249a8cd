"""Rollout engines: one interface over every way of sampling from the policy.

GRPO, evaluation and SynthSmith's in-process teacher only see this interface, so the same
trainer runs with the in-process JAX sampler (CPU, TPU, any mesh) or with SGLang servers on
GPU hosts. Engines register by name in `ENGINES`; configs pick one with `rollout.engine`
and give it its own section, `rollout.<name>` (the engine's `defaults`, overridden by the
config). Every caller builds engines the same way, `make_engine(name, section, context)`:
the engine reads its settings from its section and takes what it needs from the
`EngineContext` (the tokenizer, a way to build the policy model, where to export weights).

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
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import ml_collections

from xcoder_jax.registry import Registry
from xcoder_jax.rollout.types import Completion, SamplingParams

ENGINES: Registry[type[RolloutEngine]] = Registry("rollout engine")


@dataclasses.dataclass(frozen=True)
class EngineContext:
  """What a caller offers every engine; each engine takes the parts it needs.

  `load_model` builds the policy as a model (the in-process sampler's weights); `model_name`
  is what a served model is called (the OpenAI API's `model`); `model_config` and
  `tokenizer_dir` let an engine export weights for servers to reload; `weights_version` is
  the version of the weights the engine starts from.
  """

  tokenizer: Any = None
  load_model: Callable[[], Any] | None = None
  model_name: str = ""
  model_config: Any = None
  tokenizer_dir: str | None = None
  mesh: Any = None
  weights_version: int = 0


class RolloutEngine(abc.ABC):
  """Samples completions of token-id prompts from the current policy weights.

  `defaults`: the engine's config section, every setting with its default. `syncs_weights`:
  whether `update_weights` works, i.e. whether the engine can serve a trainer (GRPO).
  """

  defaults: ClassVar[Mapping[str, Any]] = {}
  syncs_weights: ClassVar[bool] = False

  @classmethod
  @abc.abstractmethod
  def from_config(cls, section: ml_collections.ConfigDict, context: EngineContext) -> RolloutEngine:
    """The engine built from its settings (`defaults` with the config's values)."""

  @classmethod
  def cannot_train(cls, section: ml_collections.ConfigDict) -> str:
    """Why this engine, so configured, cannot serve a trainer; "" when it can."""
    return "" if cls.syncs_weights else "it has no way to take new weights"

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

  def metrics(self) -> dict[str, float]:
    """What the last `generate` measured inside the engine (the in-process sampler: prefill
    sharing, slot occupancy, cache bytes per live token); {} when it measures nothing."""
    return {}

  def close(self) -> None:  # noqa: B027 - optional hook, most engines hold nothing
    """Releases servers, threads or device memory the engine holds."""


def engine_section(name: str, overrides: Mapping[str, Any] | None = None):
  """Engine `name`'s settings: its `defaults` updated with `overrides`; ValueError naming the
  setting when an override is not one of them."""
  section = ml_collections.ConfigDict(dict(ENGINES.get(name).defaults))
  for key, value in (overrides or {}).items():
    if key not in section:
      raise ValueError(
        f"rollout engine {name!r} has no setting {key!r}; its settings are "
        f"{', '.join(sorted(section)) or '(none)'}"
      )
    section[key] = value
  return section


def config_sections() -> ml_collections.ConfigDict:
  """A config's `rollout` section: the engine's name and one section per registered engine."""
  sections = {name: dict(ENGINES.get(name).defaults) for name in ENGINES}
  return ml_collections.ConfigDict({"engine": "in_process", **sections})


def make_engine(
  name: str, section: Mapping[str, Any] | None = None, context: EngineContext | None = None
) -> RolloutEngine:
  """Engine `name` built from `section` (its settings; defaults where missing) and `context`."""
  return ENGINES.get(name).from_config(engine_section(name, section), context or EngineContext())


def check_trainable(name: str, section: Mapping[str, Any] | None = None) -> None:
  """ValueError unless engine `name` with settings `section` can take new weights every step
  (what GRPO needs); the message says why not and names the engines that can."""
  ENGINES.check(name, "rollout.engine")
  problem = ENGINES.get(name).cannot_train(engine_section(name, section))
  if problem:
    able = ", ".join(n for n in ENGINES if ENGINES.get(n).syncs_weights)
    raise ValueError(
      f"rollout.engine={name!r} cannot serve GRPO: {problem}; engines that can: {able}"
    )
