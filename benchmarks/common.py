"""Helpers shared by the benchmarks: timing and this machine's fp32 matmul peak."""

from __future__ import annotations

import statistics
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from xcoder_jax.models import ModelConfig


def time_call(fn: Callable[[], object], repeats: int, warmup: int = 1,
              reduce: Callable[[list[float]], float] = statistics.median) -> float:
  """Median (or `reduce`) wall seconds of `fn()`; `fn` must block until its result is ready."""
  for _ in range(warmup):
    fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return reduce(times)


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


# The ~50M-parameter Qwen2-style config both frameworks run in the benchmarks.
CONFIG = ModelConfig(vocab_size=32000, hidden_size=512, intermediate_size=1408, num_layers=8,
                     num_heads=8, num_kv_heads=2, head_dim=64, qkv_bias=True,
                     rope_theta=10000.0, dtype="float32", max_position_embeddings=1024)


def torch_qwen_model():
  """The same config as a transformers model (random weights): the PyTorch baseline."""
  import torch
  import transformers

  torch.manual_seed(0)
  config = transformers.Qwen2Config(
      vocab_size=CONFIG.vocab_size, hidden_size=CONFIG.hidden_size,
      intermediate_size=CONFIG.intermediate_size, num_hidden_layers=CONFIG.num_layers,
      num_attention_heads=CONFIG.num_heads, num_key_value_heads=CONFIG.num_kv_heads,
      rope_theta=CONFIG.rope_theta, max_position_embeddings=CONFIG.max_position_embeddings,
      tie_word_embeddings=False)
  return transformers.Qwen2ForCausalLM(config).eval()
