"""Rollouts: the in-process JAX sampler (KV cache) and a batcher for concurrent callers."""

from xcoder_jax.rollout import sglang_client  # noqa: F401  (registers the "sglang" engine)
from xcoder_jax.rollout.batcher import RequestBatcher
from xcoder_jax.rollout.sampler import Sampler
from xcoder_jax.rollout.types import Completion, SamplingParams

__all__ = ["Completion", "RequestBatcher", "Sampler", "SamplingParams"]
