"""Forward+backward tokens/s and model-FLOPs utilisation (MFU) of the SFT loss's gradient, for
every attention kernel and remat policy this backend can run, side by side.

Accelerators: a 1.5B Qwen2.5-shaped model (`--size=1b`) in bfloat16 (float32 master weights)
at 4k and 32k tokens per step, against the chip's bf16 dense peak from
`xcoder_jax.train.metrics.PEAK_FLOPS`. CPU: the `tiny` preset in float32 (`--size=tiny`, the
default there) against this machine's measured fp32 GEMM peak, so the command stays tested.

FLOP convention (model FLOPs, as in MFU: remat's recomputation is not counted): the matmuls
of `ModelConfig.flops_per_token` (6 x matmul parameters per token incl. the LM head, for
forward + backward), plus causal attention counted honestly: QK^T and PV only over the keys a
query sees under the causal mask, (seq_len + 1) / 2 on average, i.e. half of the full-square
attention term that `flops_per_token` counts. Weights are constants (timing does not depend on
their values) and there is no optimizer update: this is the model's forward and backward. `--budget_s` stops starting new measurements
(they are reported as skipped), so a GPU run ends within about 8 minutes.

  python benchmarks/mfu.py                      # whatever backend jax finds
  python benchmarks/mfu.py --kernels=cudnn --policies=save_attention --seq_lens=32768
"""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from flax import nnx  # noqa: E402

from benchmarks.common import kernel_skip_reason, matmul_peak_flops, time_call  # noqa: E402
from xcoder_jax.models import ModelConfig, get_preset  # noqa: E402
from xcoder_jax.models.attention import ATTENTION_KERNELS  # noqa: E402
from xcoder_jax.models.build import abstract_model  # noqa: E402
from xcoder_jax.train.loss import sft_loss  # noqa: E402
from xcoder_jax.train.metrics import device_peak_flops  # noqa: E402

# Qwen2.5-1.5B's shapes (1.54B parameters): the 1B-class model of the GPU/TPU table.
ONE_B = ModelConfig(
  family="qwen2",
  vocab_size=151936,
  hidden_size=1536,
  intermediate_size=8960,
  num_layers=28,
  num_heads=12,
  num_kv_heads=2,
  head_dim=128,
  tie_embeddings=True,
  dtype="bfloat16",
)
SIZES = {
  "1b": (ONE_B, (4096, 32768), 32768),  # (config, sequence lengths, tokens per step)
  "tiny": (get_preset("tiny"), (64, 256), 512),
}

_SIZE = flags.DEFINE_enum("size", None, list(SIZES), "Model size; default: tiny on CPU, else 1b.")
_SEQ_LENS = flags.DEFINE_list("seq_lens", [], "Tokens per row; default: the size's.")
_KERNELS = flags.DEFINE_list("kernels", [], "Attention kernels; default: every registered one.")
_POLICIES = flags.DEFINE_list(
  "policies",
  ["full", "save_qkv_proj", "save_attention", "save_all_but_mlp", "offload_qkv", "none"],
  "Remat policies (xcoder_jax.models.remat.REMAT_POLICIES), in order of priority.",
)
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed steps per measurement (median).")
_PEAK_GEMM = flags.DEFINE_integer("peak_gemm", 2048, "CPU: side of the GEMM that measures peak.")
_BUDGET = flags.DEFINE_float("budget_s", 420.0, "Start no new measurement after this long.")


def causal_flops_per_token(config: ModelConfig, seq_len: int) -> float:
  """Forward+backward model FLOPs per token with the attention term of `flops_per_token`
  scaled from all seq_len keys to the (seq_len + 1) / 2 a causal query sees on average."""
  dense = config.flops_per_token(0, backward=True)
  attention = config.flops_per_token(seq_len, backward=True) - dense
  return dense + attention * (seq_len + 1) / (2 * seq_len)


def _batch(rows: int, seq_len: int, vocab: int) -> dict[str, jax.Array]:
  tokens = np.random.RandomState(0).randint(0, vocab, (rows, seq_len + 1)).astype(np.int32)
  shape = (rows, seq_len)
  return {
    "inputs": jnp.asarray(tokens[:, :-1]),
    "targets": jnp.asarray(tokens[:, 1:]),
    "loss_mask": jnp.ones(shape, jnp.float32),
    "segment_ids": jnp.ones(shape, jnp.int32),
    "positions": jnp.broadcast_to(jnp.arange(seq_len, dtype=jnp.int32), shape),
  }


def step_seconds(config: ModelConfig, seq_len: int, rows: int) -> float:
  """Median seconds of one compiled value-and-gradient of the SFT loss."""
  # Constant weights: the step's time does not depend on their values, and random
  # initialisation would take longer than the measurement on a CPU.
  graphdef, abstract = abstract_model(config)
  params = jax.tree.map(lambda s: jnp.full(s.shape, 0.02, s.dtype), abstract)
  loss_fn = sft_loss(min(seq_len, 4096))

  def objective(params, batch):
    return loss_fn(nnx.merge(graphdef, params), batch).numerator

  grad = jax.jit(jax.value_and_grad(objective))
  batch = _batch(rows, seq_len, config.vocab_size)
  return time_call(lambda: jax.block_until_ready(grad(params, batch)), _REPEATS.value)


def _error_line(error: Exception) -> str:
  lines = [line for line in str(error).splitlines() if line.strip()]
  return f"{type(error).__name__}: {lines[0][:160] if lines else ''}"


def main(argv):
  del argv
  backend = jax.default_backend()
  size = _SIZE.value or ("tiny" if backend == "cpu" else "1b")
  base, default_lens, tokens_per_step = SIZES[size]
  if backend == "cpu":
    peak, peak_source = matmul_peak_flops(_PEAK_GEMM.value)["peak"], "measured fp32 GEMM"
    base = base.replace(dtype="float32")
  else:
    peak, peak_source = device_peak_flops(), f"table ({jax.devices()[0].device_kind}, bf16)"
    if peak is None:
      raise ValueError(f"no peak FLOP/s known for {jax.devices()[0].device_kind!r}")
  seq_lens = [int(s) for s in _SEQ_LENS.value] or list(default_lens)
  kernels = _KERNELS.value or ATTENTION_KERNELS.names()
  results, skipped, start = [], {}, time.perf_counter()
  # policies outermost: when the budget runs out, every kernel and length has the first ones
  for policy in _POLICIES.value:
    for seq_len in seq_lens:
      rows = max(1, tokens_per_step // seq_len)
      flops = causal_flops_per_token(base, seq_len) * rows * seq_len
      for kernel in kernels:
        key = f"{kernel}/{policy}/{seq_len}"
        reason = kernel_skip_reason(kernel, backend)
        if reason is None and time.perf_counter() - start > _BUDGET.value:
          reason = f"time budget of {_BUDGET.value:.0f} s spent"
        if reason is not None:
          skipped[key] = reason
          continue
        config = base.replace(
          attention_impl=kernel, remat_policy=policy, max_position_embeddings=seq_len
        )
        try:
          seconds = step_seconds(config, seq_len, rows)
        except Exception as e:  # out of memory, or a kernel refusing these shapes: say which
          skipped[key] = _error_line(e)
          continue
        results.append(
          dict(
            kernel=kernel,
            remat=policy,
            seq_len=seq_len,
            rows=rows,
            tokens_per_s=rows * seq_len / seconds,
            mfu=flops / seconds / peak,
          )
        )
  if backend == "cpu":  # a shared CPU's load varies: the best GEMM seen, before or after
    peak = max(peak, matmul_peak_flops(_PEAK_GEMM.value)["peak"])
  print(
    f"MFU of forward+backward, {size} ({base.num_params() / 1e9:.3g}B params, {base.dtype}), "
    f"{backend}; peak {peak / 1e12:.3g} TFLOP/s ({peak_source}); causal attention FLOPs"
  )
  print(f"{'kernel':14s}{'remat':18s}{'seq_len':>8s}{'rows':>6s}{'tokens/s':>12s}{'MFU':>8s}")
  for r in results:
    print(
      f"{r['kernel']:14s}{r['remat']:18s}{r['seq_len']:8d}{r['rows']:6d}"
      f"{r['tokens_per_s']:12.0f}{r['mfu']:8.1%}"
    )
  for key, reason in skipped.items():
    print(f"skipped {key}: {reason}")
  best = {}
  for r in results:  # each kernel's best policy at each length
    slot = best.setdefault(r["kernel"], {}).get(str(r["seq_len"]))
    if slot is None or r["mfu"] > slot["mfu"]:
      best[r["kernel"]][str(r["seq_len"])] = r
  print(
    json.dumps(
      {
        "benchmark": "mfu",
        "backend": backend,
        "device_kind": jax.devices()[0].device_kind,
        "size": size,
        "peak_flops": peak,
        "peak_source": peak_source,
        "mfu": {k: {s: round(r["mfu"], 4) for s, r in v.items()} for k, v in best.items()},
        "tokens_per_s": {
          k: {s: round(r["tokens_per_s"], 1) for s, r in v.items()} for k, v in best.items()
        },
        "best_remat": {k: {s: r["remat"] for s, r in v.items()} for k, v in best.items()},
        "results": results,
        "skipped": skipped,
      }
    )
  )


if __name__ == "__main__":
  app.run(main)
