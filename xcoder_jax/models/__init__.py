"""Qwen-family models."""

from xcoder_jax.models.config import PRESETS, RUNTIME_FIELDS, ModelConfig, get_preset
from xcoder_jax.models.qwen import KVCache, Qwen

__all__ = ["PRESETS", "RUNTIME_FIELDS", "KVCache", "ModelConfig", "Qwen", "get_preset"]
