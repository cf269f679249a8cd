"""Training throughput of our SFT step vs transformers + torch AdamW on the CPU, same run.

Same ~50M Qwen2-style config as benchmarks/forward.py, batch 8 x 256, float32, AdamW, loss on
all tokens but padding. Also: the Grain input pipeline's tokens/s against what the step
consumes, and packing efficiency (non-pad share) vs pad-to-longest on the bundled demo data.
Ends with one JSON line.

  python benchmarks/train_step.py [--repeats=5]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from benchmarks.common import (
  CONFIG,
  matmul_peak_flops,
  throughput_table,
  time_call,
  torch_qwen_model,  # noqa: E402
)
from xcoder_jax import sharding  # noqa: E402
from xcoder_jax.models.build import create_model  # noqa: E402
from xcoder_jax.train.optimizer import make_optimizer  # noqa: E402
from xcoder_jax.train.step import compile_steps, create_train_state  # noqa: E402

_BATCH = flags.DEFINE_integer("batch", 8, "Sequences per step.")
_SEQ = flags.DEFINE_integer("seq_len", 256, "Tokens per sequence.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed steps per side (median reported).")
_PIPELINE_BATCHES = flags.DEFINE_integer("pipeline_batches", 50, "Batches read from Grain.")

OPTIMIZER = ml_collections.ConfigDict(
  dict(
    lr=1e-4,
    schedule="constant",
    warmup_ratio=0.0,
    min_lr_ratio=0.0,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    weight_decay=0.1,
    clip_norm=1.0,
  )
)


def _batch(rng):
  shape = (_BATCH.value, _SEQ.value)
  inputs = rng.randint(0, CONFIG.vocab_size, shape).astype(np.int32)
  return {
    "inputs": inputs,
    "targets": np.roll(inputs, -1, axis=1),
    "loss_mask": np.ones(shape, np.float32),
    "segment_ids": np.ones(shape, np.int32),
    "positions": np.broadcast_to(np.arange(shape[1], dtype=np.int32), shape).copy(),
  }


def ours_step_seconds(batch) -> float:
  mesh = sharding.make_mesh(devices=jax.devices()[:1])
  model = create_model(CONFIG, mesh, seed=0)
  optimizer, schedule = make_optimizer(OPTIMIZER, total_steps=1000)
  graphdef, state, state_sh = create_train_state(model, optimizer, mesh)
  del model
  train, _ = compile_steps(
    graphdef, optimizer, schedule, state_sh, mesh, grad_accum=1, loss_chunk=_SEQ.value
  )
  holder = [state]

  def run():
    holder[0], metrics = train(holder[0], batch)
    jax.block_until_ready(metrics)

  return time_call(run, _REPEATS.value, warmup=2)


def torch_step_seconds(batch) -> float:
  import torch

  model = torch_qwen_model().train()
  optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
  inputs = torch.as_tensor(batch["inputs"], dtype=torch.long)

  def run():
    optimizer.zero_grad(set_to_none=True)
    loss = model(inputs, labels=inputs).loss  # shifts internally: same token count
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()

  return time_call(run, _REPEATS.value, warmup=2)


def pipeline_numbers() -> dict[str, float]:
  """Grain tokens/s on the bundled demo data, and packing efficiency vs pad-to-longest."""
  from configs.data import data_config
  from xcoder_jax.data import make_demo_shards, make_sft_iterator, packing_stats

  with tempfile.TemporaryDirectory() as tmp:
    manifest = make_demo_shards(tmp)
    data = data_config()
    data.train_files = ",".join(os.path.join(tmp, name) for name in sorted(manifest["shards"]))
    data.tokenizer = "tiny"
    data.seq_len = _SEQ.value
    data.global_batch_size = _BATCH.value
    data.num_epochs = 1000
    iterator = make_sft_iterator(data, "train", process_index=0, process_count=1)
    next(iterator)
    start = time.perf_counter()
    tokens = 0
    for _ in range(_PIPELINE_BATCHES.value):
      tokens += next(iterator)["inputs"].size
    seconds = time.perf_counter() - start
    stats = packing_stats(data)
  return {
    "pipeline_tokens_per_s": tokens / seconds,
    "packed_efficiency": stats["packed_efficiency"],
    "padded_efficiency": stats["pad_to_longest_efficiency"],
  }


def main(argv):
  del argv
  batch = _batch(np.random.RandomState(0))
  n_tokens = batch["inputs"].size
  flops = CONFIG.flops_per_token(_SEQ.value, backward=True) * n_tokens
  ours_s = ours_step_seconds(batch)
  theirs_s = torch_step_seconds(batch)
  peak = matmul_peak_flops()
  pipeline = pipeline_numbers()
  print(
    f"train step, Qwen2-style {CONFIG.num_params() / 1e6:.1f}M params, batch "
    f"{_BATCH.value} x {_SEQ.value}, fp32 AdamW, {jax.default_backend()}"
  )
  rows = [("ours (JAX step)", ours_s), ("transformers + torch AdamW", theirs_s)]
  comparison = throughput_table(rows, n_tokens, flops, peak)
  print(
    f"input pipeline: {pipeline['pipeline_tokens_per_s']:.0f} tokens/s "
    f"({pipeline['pipeline_tokens_per_s'] / (n_tokens / ours_s):.1f}x what the step consumes)"
  )
  print(
    f"packing efficiency on the demo data: packed {pipeline['packed_efficiency']:.1%} vs "
    f"pad-to-longest {pipeline['padded_efficiency']:.1%} non-pad tokens"
  )
  print(
    json.dumps(
      {
        "benchmark": "train_step",
        **comparison,
        "pipeline_tokens_per_s": round(pipeline["pipeline_tokens_per_s"], 1),
        "pipeline_over_step": round(pipeline["pipeline_tokens_per_s"] / (n_tokens / ours_s), 2),
        "packed_efficiency": round(pipeline["packed_efficiency"], 4),
        "padded_efficiency": round(pipeline["padded_efficiency"], 4),
      }
    )
  )


if __name__ == "__main__":
  app.run(main)
