"""Forward throughput of our Qwen model vs transformers (PyTorch) on the CPU, same run.

Both run the same ~50M-parameter Qwen2-style config in float32 on batch 8 x 256, computing
full logits. Also reports the model FLOP/s of each as a share of this machine's fp32 matmul
peak (the faster of a JAX and a torch 2048^3 GEMM, measured here). Ends with one JSON line.

  python benchmarks/forward.py [--repeats=5]
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from benchmarks.common import (
  CONFIG,
  matmul_peak_flops,
  throughput_table,
  time_call,
  torch_qwen_model,  # noqa: E402
)
from xcoder_jax.models.build import create_model  # noqa: E402

_BATCH = flags.DEFINE_integer("batch", 8, "Sequences per forward.")
_SEQ = flags.DEFINE_integer("seq_len", 256, "Tokens per sequence.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed forwards per side (median reported).")


def main(argv):
  del argv
  import torch

  tokens = (
    np.random.RandomState(0)
    .randint(0, CONFIG.vocab_size, (_BATCH.value, _SEQ.value))
    .astype(np.int32)
  )
  n_tokens = tokens.size
  flops = CONFIG.flops_per_token(_SEQ.value) * n_tokens

  model = create_model(CONFIG, seed=0)
  forward = jax.jit(lambda m, t: m(t))
  ours_s = time_call(lambda: forward(model, tokens).block_until_ready(), _REPEATS.value)

  reference = torch_qwen_model()
  torch_tokens = torch.as_tensor(tokens, dtype=torch.long)
  with torch.inference_mode():
    theirs_s = time_call(lambda: reference(torch_tokens).logits, _REPEATS.value)

  peak = matmul_peak_flops()
  rows = [("ours (JAX/XLA)", ours_s), ("transformers (PyTorch)", theirs_s)]
  print(
    f"Qwen2-style {CONFIG.num_params() / 1e6:.1f}M params, batch {_BATCH.value} x "
    f"{_SEQ.value}, fp32, {jax.device_count()} {jax.default_backend()} device(s), "
    f"torch threads {torch.get_num_threads()}"
  )
  result = {
    "benchmark": "forward",
    **throughput_table(rows, n_tokens, flops, peak),
    "params_m": round(CONFIG.num_params() / 1e6, 1),
    "batch": _BATCH.value,
    "seq_len": _SEQ.value,
  }
  print(json.dumps(result))


if __name__ == "__main__":
  app.run(main)
