"""The default rollout engine: the KV-cache sampler running on the trainer's own mesh.

No second copy of the policy and no export: the engine samples from the very parameter
arrays the trainer holds (already sharded on the training mesh). `update_weights` swaps in
new arrays of the same structure, shapes, dtypes and shardings, so the sampler's compiled
prefill and decode loop are reused as they are: a weight update never recompiles.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
from flax import nnx

from xcoder_jax.models.build import param_path
from xcoder_jax.models.qwen import Qwen
from xcoder_jax.rollout.engine import EngineContext, RolloutEngine
from xcoder_jax.rollout.sampler import Sampler, SamplerStats
from xcoder_jax.rollout.types import Completion, SamplingParams


def _is_variable(x: Any) -> bool:
  return isinstance(x, nnx.Variable)


class InProcessEngine(RolloutEngine):
  """Samples from `model`'s parameters in this process, on `mesh` (default: the active one).

  `max_batch` caps the rows (prompts x n) decoding at once: the sampler's slots; more rows
  wait for a free slot (continuous batching), with the same results, since every row has its
  own seed. Prompt i of a `generate` call uses seed `sampling.seed + i`, its n samples
  `SamplingParams.samples()`.
  """

  defaults = {"max_batch": 0}  # decode slots (rows at once); 0: every row of a call
  syncs_weights = True

  @classmethod
  def from_config(cls, section, context: EngineContext) -> InProcessEngine:
    if context.load_model is None or context.tokenizer is None:
      raise ValueError("the in_process engine needs the policy model and its tokenizer")
    return cls(
      context.load_model(),
      context.tokenizer,
      context.mesh,
      max_batch=section.max_batch or None,
      weights_version=context.weights_version,
    )

  def __init__(
    self,
    model: Qwen,
    tokenizer,
    mesh: jax.sharding.Mesh | None = None,
    max_batch: int | None = None,
    weights_version: int = 0,
  ):
    if max_batch is not None and max_batch < 1:
      raise ValueError(f"max_batch must be >= 1 or None (no limit), got {max_batch}")
    self.sampler = Sampler(model, tokenizer, mesh, max_slots=max_batch)
    self._last_stats = SamplerStats()
    self._version = weights_version

  @property
  def weights_version(self) -> int:
    return self._version

  def generate(
    self, prompts: Sequence[Sequence[int]], sampling: SamplingParams
  ) -> list[list[Completion]]:
    if any(leaf.is_deleted() for leaf in jax.tree.leaves(self.sampler.state)):
      raise RuntimeError(
        "the engine's parameters were deleted (donated to a train step?); call "
        "update_weights(params, version) with the live parameters before generate"
      )
    before = dataclasses.replace(self.sampler.stats)
    flat = self.sampler.generate(prompts, sampling)
    self._last_stats = self.sampler.stats.since(before)
    return [flat[i : i + sampling.n] for i in range(0, len(flat), sampling.n)]

  def metrics(self) -> dict[str, float]:
    return self._last_stats.summary()

  def update_weights(self, params: Any, version: int) -> None:
    """`params`: the checkpoint item "model" layout (a nested dict of arrays) or an
    nnx.State of the same model. Each array is cast and resharded onto the current
    parameter's dtype and sharding only where it differs (no copy otherwise)."""
    if isinstance(params, nnx.State):
      params = nnx.to_pure_dict(params)
    new = {param_path(p): v for p, v in jax.tree_util.tree_leaves_with_path(params)}
    current = {
      param_path(p): var
      for p, var in jax.tree_util.tree_leaves_with_path(self.sampler.state, is_leaf=_is_variable)
    }
    missing, unexpected = sorted(set(current) - set(new)), sorted(set(new) - set(current))
    if missing or unexpected:
      raise ValueError(
        f"update_weights: parameters do not match the model (missing {missing}, unexpected "
        f"{unexpected}); pass the checkpoint item 'model' layout, nnx.to_pure_dict(state)"
      )
    wrong = [
      f"{'/'.join(k)} {tuple(new[k].shape)} != {var.get_value().shape}"
      for k, var in current.items()
      if tuple(new[k].shape) != var.get_value().shape
    ]
    if wrong:
      raise ValueError(f"update_weights: shape mismatch: {'; '.join(wrong)}")

    def swap(path, var: nnx.Variable) -> nnx.Variable:
      value, old = new[param_path(path)], var.get_value()
      if value.dtype != old.dtype:
        value = value.astype(old.dtype)
      return var.replace(jax.device_put(value, old.sharding))

    self.sampler.state = jax.tree_util.tree_map_with_path(
      swap, self.sampler.state, is_leaf=_is_variable
    )
    self._version = version
