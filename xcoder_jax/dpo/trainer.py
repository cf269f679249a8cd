"""DPO on the shared loop: preference pairs from Grain, reference log-probs, one update a step.

One loop step is one global batch of `data.global_batch_size` pairs and one update. The
reference log-probs come from the frozen starting model (`init.*`), precomputed into the
work directory or scored on the fly (`xcoder_jax.dpo.reference`). The data iterator's
position is saved with every checkpoint, so a resumed run neither repeats nor skips a pair.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import jax
import ml_collections
import numpy as np
from absl import logging

from xcoder_jax import sharding
from xcoder_jax.data import dpo as dpo_data
from xcoder_jax.data import readers
from xcoder_jax.data.shards import shard_files
from xcoder_jax.dpo import losses, reference
from xcoder_jax.train import init, loop
from xcoder_jax.train.checkpointing import data_iterator_item

MEANS = ("reward_margin", "reward_accuracy", "chosen_reward", "rejected_reward")


def check_config(config: ml_collections.ConfigDict) -> None:
  """Refuses settings DPO cannot run with, naming the key and the fix; cheap, so launchers
  call it before any heavy work."""
  dpo, data = config.dpo, config.data
  losses.PREFERENCE_LOSSES.check(dpo.loss, "dpo.loss")
  if dpo.reference not in reference.REFERENCE_MODES:
    raise ValueError(f"dpo.reference={dpo.reference!r}; choose one of {reference.REFERENCE_MODES}")
  if not dpo.beta > 0:
    raise ValueError(f"dpo.beta={dpo.beta} must be > 0 (typical: 0.1)")
  if not 0 <= dpo.label_smoothing < 0.5:
    raise ValueError(f"dpo.label_smoothing={dpo.label_smoothing} must be in [0, 0.5)")
  if not data.train_files:
    raise ValueError("data.train_files is empty; point it at DPO shards or a JSONL/Parquet file")
  if data.packing or data.worker_count:
    raise ValueError(
      "DPO pads one sequence per row in-process: set data.packing=False and data.worker_count=0"
    )
  chunk = min(config.train.loss_chunk, data.seq_len)
  if data.seq_len % chunk:
    raise ValueError(f"data.seq_len={data.seq_len} must be a multiple of train.loss_chunk={chunk}")
  if data.global_batch_size % (config.train.grad_accum * jax.process_count()):
    raise ValueError(
      f"data.global_batch_size={data.global_batch_size} pairs must split into "
      f"train.grad_accum={config.train.grad_accum} micro-batches on {jax.process_count()} hosts"
    )


def resolve_data_files(config: ml_collections.ConfigDict, workdir: str):
  """JSONL/Parquet pair files become ArrayRecord shards under WORKDIR/dpo_data (once; reused
  while the source is unchanged); shard specs pass through. Missing files fail here."""
  config = ml_collections.ConfigDict(config.to_dict())
  for split in ("train", "eval"):
    spec = config.data[f"{split}_files"]
    if spec:
      readers.expand_inputs(spec, what="pair")  # a missing file fails here, naming it
    if spec and "," not in spec and os.path.isfile(spec) and dpo_data.is_pair_file(spec):
      out = os.path.join(workdir, "dpo_data", f"process_{jax.process_index()}", split)
      config.data[f"{split}_files"] = dpo_data.to_shards(spec, out)
    elif spec:
      shard_files(spec)
  return config


def split_files(config, split: str) -> str | None:
  """The files a split reads (``data.train_files`` / ``data.eval_files``); None: no eval.
  Which of their pairs each reads is the pairs' own split field (``make_pair_iterator``)."""
  return config.data[f"{split}_files"] or None


class DPOTrainer(loop.Trainer):
  name = "dpo"

  def __init__(self, context: loop.RunContext):
    config = self.config = context.config
    check_config(config)
    pairs, seq_len = config.data.global_batch_size, config.data.seq_len
    self.host_batch = pairs // jax.process_count()
    self.batch_shapes = {
      k: jax.ShapeDtypeStruct((pairs,) if k in dpo_data.REF_FIELDS else (pairs, seq_len), dtype)
      for k, dtype in dpo_data.PAIR_FIELDS.items()
    }
    self._shardings = context.batch_shardings(self.batch_shapes)
    self.loss_fn = losses.dpo_loss(config)
    inputs = {k: v for k, v in self._shardings.items() if k not in dpo_data.REF_FIELDS}
    ref_sh = self._shardings["chosen_ref_logprob"]
    self._reference = jax.jit(
      reference.reference_fn(context.graphdef, config.train.loss_chunk),
      in_shardings=(context.state_shardings.params, inputs),
      out_shardings=(ref_sh, ref_sh),
    )
    # The frozen starting policy, re-derived from the init source on resume.
    self.ref_params = init.initial_params(config, context.model_config, context.mesh)
    self.tables: dict[str, Mapping[str, tuple[float, float]] | None] = {"train": None, "eval": None}
    if config.dpo.reference == "precompute":
      for split in self.tables:
        self.tables[split] = self._precompute(context, split)
      self.ref_params = None  # the table replaces the second model
    self.train_iter = self._iterator("train")

  def checkpoint_items(self):
    return {"data_iter": data_iterator_item(self.train_iter)}

  def _iterator(self, split: str, train: bool | None = None, with_table: bool = True):
    return dpo_data.make_pair_iterator(
      self.config.data,
      split_files(self.config, split),
      host_batch=self.host_batch,
      process_index=jax.process_index(),
      process_count=jax.process_count(),
      train=split == "train" if train is None else train,
      role=split,
      reference=self.tables[split] if with_table else None,
    )

  def _precompute(self, context: loop.RunContext, split: str):
    files = split_files(self.config, split)
    if files is None:
      return None
    meta = reference.fingerprint(
      self.config,
      context.model_config,
      self.ref_params,
      files,
      {"split": split, "train_on_heldout": bool(self.config.data.train_on_heldout)},
    )
    directory = reference.table_dir(context.workdir, split)
    logging.info("reference log-probs of the %s pairs in %s", split, directory)
    ref_sh = self._shardings["chosen_ref_logprob"]
    return reference.precompute(
      directory,
      meta,
      self._iterator(split, train=False, with_table=False),
      lambda batch: self._reference(self.ref_params, self._device_batch(batch, with_ref=False)),
      lambda values: jax.make_array_from_process_local_data(ref_sh, values),
      self.host_batch,
    )

  def _device_batch(self, batch, with_ref: bool = True) -> dict[str, jax.Array]:
    names = [k for k in self._shardings if with_ref or k not in dpo_data.REF_FIELDS]
    inputs = loop.global_batch(batch, {k: self._shardings[k] for k in names})
    if with_ref and self.ref_params is not None:
      chosen, rejected = self._reference(
        self.ref_params, {k: v for k, v in inputs.items() if k not in dpo_data.REF_FIELDS}
      )
      inputs.update(chosen_ref_logprob=chosen, rejected_ref_logprob=rejected)
    return inputs

  def run_step(self, state, step, train_step):
    batch = next(self.train_iter, None)
    if not sharding.on_every_process(batch is not None):
      return None
    return train_step(state, self._device_batch(batch))

  def evaluate(self, params, eval_step) -> Mapping[str, float]:
    """Loss and reward metrics over the held-out pairs (at most train.eval_batches batches)."""
    if split_files(self.config, "eval") is None:
      return {}
    iterator = self._iterator("eval")
    total = None
    for _ in range(self.config.train.eval_batches):
      batch = next(iterator, None)
      if not sharding.on_every_process(batch is not None):
        break
      out = jax.device_get(eval_step(params, self._device_batch(batch)))
      total = out if total is None else jax.tree.map(np.add, total, out)
    if total is None:
      return {}
    pairs = max(float(total.denominator), 1.0)
    metrics = {"eval_loss": float(total.numerator) / pairs}
    metrics.update({f"eval_{k}": float(total.means[k][0]) / pairs for k in MEANS})
    return metrics


def train(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Runs (or resumes) DPO in `workdir`; returns the last logged metrics."""
  check_config(config)
  return loop.run(resolve_data_files(config, workdir), workdir, DPOTrainer)
