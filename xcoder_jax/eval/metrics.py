"""Sample-based code metrics: unbiased pass@k and avg@k (X-Coder's headline number).

pass@k is the probability that at least one of k samples drawn without replacement from a
problem's n graded samples is correct: 1 - C(n-c, k) / C(n, k) (Chen et al. 2021; the same
estimator as lcb_runner's pass_k_utils). avg@k is the mean pass@1 over exactly k samples,
i.e. the fraction of correct samples; X-Coder reports avg@8 on LiveCodeBench.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def pass_at_k(num_samples: int, num_correct: int, k: int) -> float:
  """Unbiased pass@k of one problem with ``num_correct`` of ``num_samples`` correct."""
  if not 0 <= num_correct <= num_samples:
    raise ValueError(f"need 0 <= correct <= samples, got {num_correct} of {num_samples}")
  if not 1 <= k <= num_samples:
    raise ValueError(f"pass@{k} needs 1 <= k <= {num_samples} samples")
  if num_samples - num_correct < k:
    return 1.0  # every k-subset holds a correct sample
  return 1.0 - math.comb(num_samples - num_correct, k) / math.comb(num_samples, k)


def k_values(num_samples: int) -> list[int]:
  """The k reported for n samples: 1, 2, 4, ... up to n, and n itself."""
  if num_samples < 1:
    raise ValueError(f"need at least one sample per problem, got {num_samples}")
  ks = [1 << i for i in range(num_samples.bit_length()) if 1 << i <= num_samples]
  return ks if ks[-1] == num_samples else ks + [num_samples]


def avg_at_k(correct: Sequence[Sequence[bool]]) -> float:
  """Mean over problems of the fraction of correct samples (each problem weighs the same)."""
  if not correct:
    return 0.0
  return sum(sum(flags) / len(flags) for flags in correct) / len(correct)


def summary(correct: Sequence[Sequence[bool]]) -> dict:
  """avg@k and pass@k (k = 1, 2, 4, ..., n) over problems that all have n samples."""
  if not correct:
    return {"num_problems": 0, "avg_at_k": 0.0, "pass_at_k": {}}
  sizes = {len(flags) for flags in correct}
  if len(sizes) != 1:
    raise ValueError(f"every problem needs the same number of samples, got {sorted(sizes)}")
  (n,) = sizes
  return {
    "num_problems": len(correct),
    "avg_at_k": avg_at_k(correct),
    "pass_at_k": {
      str(k): sum(pass_at_k(n, sum(flags), k) for flags in correct) / len(correct)
      for k in k_values(n)
    },
  }
