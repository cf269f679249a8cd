"""Helpers shared by the benchmarks: timing and this machine's fp32 matmul peak."""

from __future__ import annotations

import statistics
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np


def time_call(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
  """Median wall seconds of `fn()`; `fn` must block until its result is ready."""
  for _ in range(warmup):
    fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def matmul_peak_flops(size: int = 2048, repeats: int = 5) -> dict[str, float]:
  """Achieved fp32 GEMM FLOP/s of JAX and of torch on this machine; the larger is the peak."""
  import torch

  a = np.random.RandomState(0).randn(size, size).astype(np.float32)
  flops = 2 * size**3
  ja = jnp.asarray(a)
  jit_mm = jax.jit(lambda x: x @ x)
  jax_s = time_call(lambda: jit_mm(ja).block_until_ready(), repeats)
  ta = torch.from_numpy(a)
  with torch.inference_mode():
    torch_s = time_call(lambda: ta @ ta, repeats)
  result = {"jax": flops / jax_s, "torch": flops / torch_s}
  result["peak"] = max(result.values())
  return result
