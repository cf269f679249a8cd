"""Attention kernels behind one signature (see `base` for the table of which to use where).

`base` holds the signature, the masking rule and the XLA kernels; `flash_gpu` (Pallas on
GPUs) and `splash_tpu` (splash attention on TPUs) register themselves on import.
"""

from xcoder_jax.models.attention import flash_gpu, splash_tpu  # noqa: F401  (register kernels)
from xcoder_jax.models.attention.base import (
  ATTENTION_KERNELS,
  FUSED_KERNEL_BACKENDS,
  AttentionKernel,
  Segments,
  attend,
  chunked_attention,
)

__all__ = [
  "ATTENTION_KERNELS",
  "FUSED_KERNEL_BACKENDS",
  "AttentionKernel",
  "Segments",
  "attend",
  "chunked_attention",
]
