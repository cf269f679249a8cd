"""Rollouts: the in-process JAX sampler (KV cache) and a batcher for concurrent callers."""

from xcoder_jax.rollout.batcher import RequestBatcher
from xcoder_jax.rollout.sampler import Completion, Sampler, SamplingParams

__all__ = ["Completion", "RequestBatcher", "Sampler", "SamplingParams"]
