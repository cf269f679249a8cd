"""Helpers shared by the benchmarks: timing and this machine's fp32 matmul peak."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from xcoder_jax.models import ModelConfig
from xcoder_jax.models.attention import FUSED_KERNEL_BACKENDS


def time_call(
  fn: Callable[[], object],
  repeats: int,
  warmup: int = 1,
  reduce: Callable[[list[float]], float] = statistics.median,
) -> float:
  """Median (or `reduce`) wall seconds of `fn()`; `fn` must block until its result is ready."""
  for _ in range(warmup):
    fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return reduce(times)


def throughput_table(
  rows: list[tuple[str, float]], n_tokens: int, flops: float, peak: dict[str, float]
) -> dict[str, float]:
  """Prints tokens/s, GFLOP/s and share of peak for (name, seconds) rows, ours first and the
  baseline second; returns the comparison fields every throughput benchmark reports."""
  print(
    f"fp32 matmul peak: {peak['peak'] / 1e9:.1f} GFLOP/s (jax {peak['jax'] / 1e9:.1f}, "
    f"torch {peak['torch'] / 1e9:.1f})"
  )
  width = max(len(name) for name, _ in rows) + 2
  print(f"{'':{width}s}{'tokens/s':>10s}{'GFLOP/s':>10s}{'of peak':>9s}")
  for name, seconds in rows:
    print(
      f"{name:{width}s}{n_tokens / seconds:10.0f}{flops / seconds / 1e9:10.1f}"
      f"{flops / seconds / peak['peak']:9.1%}"
    )
  (_, ours_s), (_, theirs_s) = rows[:2]
  return {
    "ours_tokens_per_s": round(n_tokens / ours_s, 1),
    "baseline_tokens_per_s": round(n_tokens / theirs_s, 1),
    "ratio": round(theirs_s / ours_s, 3),
    "share_of_peak": round(flops / ours_s / peak["peak"], 3),
    "baseline_share_of_peak": round(flops / theirs_s / peak["peak"], 3),
    "peak_gflops": round(peak["peak"] / 1e9, 1),
  }


def matmul_peak_flops(size: int = 2048, repeats: int = 5) -> dict[str, float]:
  """Best achieved fp32 GEMM FLOP/s of JAX and of torch here; the larger is the peak.

  The fastest of several repeats, since a peak is what the machine can do when nothing else
  interferes."""
  import torch

  a = np.random.RandomState(0).randn(size, size).astype(np.float32)
  flops = 2 * size**3
  ja = jnp.asarray(a)
  jit_mm = jax.jit(lambda x: x @ x)
  jax_s = time_call(lambda: jit_mm(ja).block_until_ready(), repeats, reduce=min)
  ta = torch.from_numpy(a)
  with torch.inference_mode():
    torch_s = time_call(lambda: ta @ ta, repeats, reduce=min)
  result = {"jax": flops / jax_s, "torch": flops / torch_s}
  result["peak"] = max(result.values())
  return result


def kernel_skip_reason(kernel: str, backend: str) -> str | None:
  """Why `kernel` cannot be timed on `backend` (fused kernels off their own backend run
  interpreted or not at all), or None when it can."""
  needed = FUSED_KERNEL_BACKENDS.get(kernel, backend)
  return None if needed == backend else f"kernel needs backend {needed!r}, this is {backend!r}"


# The ~50M-parameter Qwen2-style config both frameworks run in the benchmarks.
CONFIG = ModelConfig(
  family="qwen2",
  vocab_size=32000,
  hidden_size=512,
  intermediate_size=1408,
  num_layers=8,
  num_heads=8,
  num_kv_heads=2,
  head_dim=64,
  rope_theta=10000.0,
  dtype="float32",
  max_position_embeddings=1024,
)


def torch_qwen_model():
  """The same config as a transformers model (random weights): the PyTorch baseline."""
  import torch
  import transformers

  torch.manual_seed(0)
  config = transformers.Qwen2Config(
    vocab_size=CONFIG.vocab_size,
    hidden_size=CONFIG.hidden_size,
    intermediate_size=CONFIG.intermediate_size,
    num_hidden_layers=CONFIG.num_layers,
    num_attention_heads=CONFIG.num_heads,
    num_key_value_heads=CONFIG.num_kv_heads,
    rope_theta=CONFIG.rope_theta,
    max_position_embeddings=CONFIG.max_position_embeddings,
    tie_word_embeddings=False,
  )
  return transformers.Qwen2ForCausalLM(config).eval()
