"""Qwen-family models."""

from xcoder_jax.models.config import PRESETS, ModelConfig, get_preset
from xcoder_jax.models.qwen import KVCache, Qwen

__all__ = ["PRESETS", "KVCache", "ModelConfig", "Qwen", "get_preset"]
