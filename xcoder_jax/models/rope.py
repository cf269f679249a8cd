"""Rotary-embedding frequencies: plain RoPE, or one of the scalings transformers defines for
longer contexts (HF `rope_type`), each an entry of `ROPE_TYPES`:

- "linear" (DeepSeek-Coder 1.x): every frequency divided by `factor` (position interpolation).
- "yarn" (Qwen2.5-Coder beyond its 32K pretraining length): keeps the fast-rotating dimensions
  (many turns within the original context) as they are, divides the frequencies of the slow
  ones by `factor`, blends the two linearly in between (turn counts beta_fast=32 to beta_slow=1
  over the original context, bounds rounded outwards), and scales cos and sin by
  0.1 ln(factor) + 1 to keep attention's entropy.
- "llama3" (Llama 3.1+): by wavelength instead of turns: shorter than
  original / high_freq_factor kept, longer than original / low_freq_factor divided by
  `factor`, and in between a blend whose weight falls linearly in original / wavelength.
"""

from __future__ import annotations

import math

import numpy as np

BETA_FAST, BETA_SLOW = 32.0, 1.0  # transformers' defaults, which Qwen's configs use
ROPE_TYPES = ("default", "linear", "yarn", "llama3")


def rope_frequencies(
  head_dim: int,
  theta: float,
  rope_type: str = "default",
  factor: float = 1.0,
  original_max_position: int = 0,
  low_freq_factor: float = 1.0,
  high_freq_factor: float = 4.0,
) -> tuple[np.ndarray, float]:
  """(inverse frequencies [head_dim // 2] float32, cos/sin scale) for rotate-half RoPE."""
  exponents = np.arange(0, head_dim, 2, dtype=np.float32) / head_dim
  inv_freq = (1.0 / theta**exponents).astype(np.float32)
  if rope_type == "default":
    return inv_freq, 1.0
  if rope_type == "linear":
    return (inv_freq / factor).astype(np.float32), 1.0
  if rope_type == "llama3":
    wavelength = 2 * math.pi / inv_freq
    keep = (original_max_position / wavelength - low_freq_factor) / (
      high_freq_factor - low_freq_factor
    )
    keep = np.clip(keep, 0, 1)  # 1: short wavelengths, unchanged; 0: long ones, divided
    return ((inv_freq / factor) * (1 - keep) + inv_freq * keep).astype(np.float32), 1.0
  if rope_type != "yarn":
    raise ValueError(f"rope_type {rope_type!r}; choose one of {', '.join(ROPE_TYPES)}")

  def dimension(turns: float) -> float:  # the dimension that turns `turns` times in context
    return (
      head_dim * math.log(original_max_position / (turns * 2 * math.pi)) / (2 * math.log(theta))
    )

  low = max(math.floor(dimension(BETA_FAST)), 0)
  high = min(math.ceil(dimension(BETA_SLOW)), head_dim - 1)
  high = high + 0.001 if low == high else high
  ramp = np.clip((np.arange(head_dim // 2, dtype=np.float32) - low) / (high - low), 0, 1)
  keep = 1 - ramp  # 1: extrapolate (unchanged), 0: interpolate (divided by the factor)
  blended = (inv_freq / factor) * (1 - keep) + inv_freq * keep
  return blended.astype(np.float32), 0.1 * math.log(factor) + 1.0
