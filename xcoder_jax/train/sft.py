"""Supervised fine-tuning on the shared loop: packed response-only batches from Grain.

One loop step is one global batch and one update. The data iterator's position is saved with
every checkpoint, so a resumed run neither repeats nor skips an example.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import jax
import ml_collections

from xcoder_jax import sharding
from xcoder_jax.data import make_demo_shards, make_sft_iterator
from xcoder_jax.data.batch import BATCH_FIELDS
from xcoder_jax.train import loop
from xcoder_jax.train.checkpointing import data_iterator_item
from xcoder_jax.train.loss import LossFn, sft_loss

DEMO_DATA = "demo"  # data.train_files / eval_files value: the bundled demo set
DEMO_EVAL_SHARDS = 1  # of 4 demo shards, held out for evaluation


def resolve_data_files(
  config: ml_collections.ConfigDict, workdir: str
) -> ml_collections.ConfigDict:
  """Replaces the entry "demo" in data.train_files / data.eval_files (comma-separated lists)
  by shards of the bundled demo set, written under WORKDIR/demo_data: 3 shards for training,
  1 held out for evaluation."""
  specs = {split: str(config.data[f"{split}_files"]).split(",") for split in ("train", "eval")}
  if not any(DEMO_DATA in parts for parts in specs.values()):
    return config
  demo_dir = os.path.join(workdir, "demo_data", f"process_{jax.process_index()}")
  manifest = os.path.join(demo_dir, "manifest.json")
  if os.path.isfile(manifest):
    with open(manifest) as f:
      names = sorted(json.load(f)["shards"])
  else:
    names = sorted(make_demo_shards(demo_dir, num_shards=4)["shards"])
  paths = [os.path.join(demo_dir, n) for n in names]
  demo = {"train": paths[:-DEMO_EVAL_SHARDS], "eval": paths[-DEMO_EVAL_SHARDS:]}
  config = ml_collections.ConfigDict(config.to_dict())
  for split, parts in specs.items():
    resolved = [p for part in parts for p in (demo[split] if part == DEMO_DATA else [part])]
    config.data[f"{split}_files"] = ",".join(resolved)
  return config


class SFTTrainer(loop.Trainer):
  name = "sft"

  def __init__(self, context: loop.RunContext, loss_fn: LossFn | None = None):
    """`loss_fn`: another loss over the same batches (default: SFT's cross-entropy)."""
    self.config = context.config
    self.loss_fn = loss_fn or sft_loss(self.config.train.loss_chunk)
    shape = (self.config.data.global_batch_size, self.config.data.seq_len)
    self.batch_shapes = {k: jax.ShapeDtypeStruct(shape, dtype) for k, dtype in BATCH_FIELDS.items()}
    self._shardings = context.batch_shardings(self.batch_shapes)
    self.train_iter = make_sft_iterator(self.config.data, "train")

  def checkpoint_items(self):
    return {"data_iter": data_iterator_item(self.train_iter)}

  def run_step(self, state, step, train_step):
    batch = next(self.train_iter, None)
    # Packed hosts can run out at different steps: all stop when any one has no batch.
    if not sharding.on_every_process(batch is not None):
      return None
    return train_step(state, loop.global_batch(batch, self._shardings))

  def evaluate(self, params, eval_step) -> Mapping[str, float]:
    if not self.config.data.eval_files:
      return {}
    iterator = make_sft_iterator(self.config.data, "eval")
    total, count = 0.0, 0.0
    for _ in range(self.config.train.eval_batches):
      batch = next(iterator, None)
      if not sharding.on_every_process(batch is not None):  # hosts may hold different counts
        break
      out = eval_step(params, loop.global_batch(batch, self._shardings))
      total, count = total + float(out.numerator), count + float(out.denominator)
    return {"eval_loss": total / max(count, 1.0)}


def train(
  config: ml_collections.ConfigDict, workdir: str, loss_fn: LossFn | None = None
) -> dict[str, Any]:
  """Runs (or resumes) SFT in `workdir` (with another `loss_fn` over the same batches when
  given); returns the last logged metrics."""
  make_trainer = lambda context: SFTTrainer(context, loss_fn)  # noqa: E731
  return loop.run(resolve_data_files(config, workdir), workdir, make_trainer)
