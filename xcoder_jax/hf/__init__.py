"""Hugging Face interchange: config mapping and safetensors import/export."""

from xcoder_jax.hf.config import HFConfigError, from_hf_config, to_hf_config
from xcoder_jax.hf.io import HFCheckpointError, load_hf, save_hf

__all__ = [
  "HFCheckpointError",
  "HFConfigError",
  "from_hf_config",
  "load_hf",
  "save_hf",
  "to_hf_config",
]
