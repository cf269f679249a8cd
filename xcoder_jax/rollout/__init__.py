"""Rollouts: the in-process JAX sampler (KV cache), a batcher for concurrent callers, and
rollout engines behind one interface (`engine.ENGINES`: "in_process", "sglang", "openai").

The JAX side (sampler, batcher, in-process engine) is imported on first use, so that
processes needing only the vocabulary (`Completion`, `SamplingParams`) or an HTTP engine,
such as SynthSmith's workers, do not import JAX.
"""

import importlib

from xcoder_jax.rollout import openai_client, sglang_client  # noqa: F401  (register engines)
from xcoder_jax.rollout.engine import ENGINES, RolloutEngine, make_engine
from xcoder_jax.rollout.types import Completion, SamplingParams

ENGINES.register_lazy("in_process", "xcoder_jax.rollout.in_process:InProcessEngine")
_LAZY = {
  "InProcessEngine": "xcoder_jax.rollout.in_process",
  "RequestBatcher": "xcoder_jax.rollout.batcher",
  "Sampler": "xcoder_jax.rollout.sampler",
}


def __getattr__(name: str):
  if name in _LAZY:
    return getattr(importlib.import_module(_LAZY[name]), name)
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
  "ENGINES",
  "Completion",
  "InProcessEngine",
  "RequestBatcher",
  "RolloutEngine",
  "Sampler",
  "SamplingParams",
  "make_engine",
]
