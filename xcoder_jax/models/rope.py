"""Rotary-embedding frequencies: plain RoPE, or YaRN context extension as transformers defines
it (rope_type "yarn"), which Qwen2.5-Coder's model card uses beyond its 32K pretraining length.

YaRN keeps the fast-rotating dimensions (many turns within the original context) as they are,
divides the frequencies of the slow ones by `factor` (position interpolation), blends the two
linearly in between (turn counts beta_fast=32 to beta_slow=1 over the original context, bounds
rounded outwards), and scales cos and sin by 0.1 ln(factor) + 1 to keep attention's entropy.
"""

from __future__ import annotations

import math

import numpy as np

BETA_FAST, BETA_SLOW = 32.0, 1.0  # transformers' defaults, which Qwen's configs use


def rope_frequencies(
  head_dim: int, theta: float, yarn_factor: float = 1.0, original_max_position: int = 0
) -> tuple[np.ndarray, float]:
  """(inverse frequencies [head_dim // 2] float32, cos/sin scale) for rotate-half RoPE."""
  exponents = np.arange(0, head_dim, 2, dtype=np.float32) / head_dim
  inv_freq = (1.0 / theta**exponents).astype(np.float32)
  if yarn_factor == 1.0:
    return inv_freq, 1.0

  def dimension(turns: float) -> float:  # the dimension that turns `turns` times in context
    return (
      head_dim * math.log(original_max_position / (turns * 2 * math.pi)) / (2 * math.log(theta))
    )

  low = max(math.floor(dimension(BETA_FAST)), 0)
  high = min(math.ceil(dimension(BETA_SLOW)), head_dim - 1)
  high = high + 0.001 if low == high else high
  ramp = np.clip((np.arange(head_dim // 2, dtype=np.float32) - low) / (high - low), 0, 1)
  keep = 1 - ramp  # 1: extrapolate (unchanged), 0: interpolate (divided by the factor)
  blended = (inv_freq / yarn_factor) * (1 - keep) + inv_freq * keep
  return blended.astype(np.float32), 0.1 * math.log(yarn_factor) + 1.0
