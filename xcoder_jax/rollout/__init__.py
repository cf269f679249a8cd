"""Rollouts: the in-process JAX sampler (KV cache), a batcher for concurrent callers, and
rollout engines behind one interface (`engine.ENGINES`: "in_process", "sglang", "openai")."""

from xcoder_jax.rollout import openai_client, sglang_client  # noqa: F401  (register engines)
from xcoder_jax.rollout.batcher import RequestBatcher
from xcoder_jax.rollout.engine import ENGINES, RolloutEngine, make_engine
from xcoder_jax.rollout.in_process import InProcessEngine
from xcoder_jax.rollout.sampler import Sampler
from xcoder_jax.rollout.types import Completion, SamplingParams

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
