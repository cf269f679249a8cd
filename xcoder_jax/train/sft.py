"""The SFT loop: data in, sharded steps, metrics, evaluation and checkpoints out.

Everything with side effects lives here; the step itself is pure (`xcoder_jax.train.step`).
Rerunning with the same work directory resumes from its newest good checkpoint: the model,
the optimizer and the position of the data iterator, so no example is repeated or skipped.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import jax
import ml_collections
import numpy as np
from absl import logging
from flax import nnx
from jax.sharding import Mesh

from xcoder_jax import checkpoint, sharding
from xcoder_jax.data import load_tokenizer, make_demo_shards, make_sft_iterator
from xcoder_jax.data.tokenizer import tiny_tokenizer_dir
from xcoder_jax.hf import load_hf
from xcoder_jax.hf.config import from_hf_config, read_hf_config
from xcoder_jax.models import ModelConfig, get_preset
from xcoder_jax.models.build import abstract_model, create_model
from xcoder_jax.train import step as step_lib
from xcoder_jax.train.checkpointing import TrainCheckpointer
from xcoder_jax.train.metrics import MetricsWriter, device_peak_flops
from xcoder_jax.train.optimizer import make_optimizer

INIT_SOURCES = ("random", "hf", "checkpoint")
DEMO_DATA = "demo"  # data.train_files / eval_files value: the bundled demo set
DEMO_EVAL_SHARDS = 1  # of 4 demo shards, held out for evaluation
NUMERICS = ("dtype", "param_dtype", "remat_policy", "scan_layers", "attention_impl")


def mesh_from_config(config: ml_collections.ConfigDict) -> Mesh:
  ici = {axis: config.mesh[axis] for axis in sharding.MESH_AXES}
  dcn = {
    axis: config.mesh[f"dcn_{axis}"]
    for axis in sharding.MESH_AXES
    if config.mesh[f"dcn_{axis}"] != 1
  }
  return sharding.make_mesh(sharding.MeshConfig(ici=ici, dcn=dcn))


def model_config_from(config: ml_collections.ConfigDict) -> ModelConfig:
  """Shapes from the preset, the HF directory or the checkpoint; numerics from config.model."""
  numerics = {k: config.model[k] for k in NUMERICS}
  source, path = config.init.source, config.init.path
  if source not in INIT_SOURCES:
    raise ValueError(f"init.source={source!r}; choose one of {INIT_SOURCES}")
  if source != "random" and not path:
    raise ValueError(f"init.source={source!r} needs --config.init.path=DIR")
  if source == "hf":
    return from_hf_config(read_hf_config(path), **numerics)
  if source == "checkpoint":
    return checkpoint.read_model_config(path).replace(**numerics)
  return get_preset(config.model.preset, **numerics)


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


def _initial_params(config, model_config: ModelConfig, mesh: Mesh) -> Any:
  source, path = config.init.source, config.init.path
  if source == "hf":
    model = load_hf(path, mesh, **{k: config.model[k] for k in NUMERICS})
  elif source == "checkpoint":
    model, _ = checkpoint.load_model(path, mesh, **{k: config.model[k] for k in NUMERICS})
  else:
    model = create_model(model_config, mesh, seed=config.init.seed)
  return nnx.to_pure_dict(nnx.state(model))


def _global_batch(batch: dict[str, np.ndarray], batch_sharding) -> dict[str, jax.Array]:
  return {
    k: jax.make_array_from_process_local_data(batch_sharding, np.asarray(batch[k]))
    for k in step_lib.BATCH_KEYS
  }


def _evaluate(eval_step, params, config, batch_sharding) -> float | None:
  if not config.data.eval_files:
    return None
  iterator = make_sft_iterator(config.data, "eval")
  total, count = 0.0, 0.0
  for _ in range(config.train.eval_batches):
    batch = next(iterator, None)
    if not sharding.on_every_process(batch is not None):  # hosts may hold different counts
      break
    loss_sum, n = eval_step(params, _global_batch(batch, batch_sharding))
    total, count = total + float(loss_sum), count + float(n)
  return total / max(count, 1.0)


def train(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Runs (or resumes) SFT in `workdir`; returns the last logged metrics."""
  os.makedirs(workdir, exist_ok=True)
  if not config.data.tokenizer:  # the model's own tokenizer, from what training starts from
    config = ml_collections.ConfigDict(config.to_dict())
    source, path = config.init.source, config.init.path
    config.data.tokenizer = checkpoint.assets_dir(path) if source == "checkpoint" else path
    if not config.data.tokenizer:
      raise ValueError(
        "data.tokenizer is empty and init.source has no tokenizer files; set "
        "--config.data.tokenizer=tiny or an HF tokenizer directory"
      )
  config = resolve_data_files(config, workdir)
  mesh = mesh_from_config(config)
  model_config = model_config_from(config)
  tokenizer = load_tokenizer(config.data.tokenizer)
  if tokenizer.vocab_size > model_config.vocab_size:
    raise ValueError(
      f"tokenizer has {tokenizer.vocab_size} tokens but the model only "
      f"{model_config.vocab_size} embeddings; use a matching tokenizer/model"
    )
  total_steps = config.train.steps
  optimizer, schedule = make_optimizer(config.optimizer, total_steps)
  # Tokenizer files travel with the checkpoint, so an exported model is usable as it is.
  tokenizer_dir = tiny_tokenizer_dir() if config.data.tokenizer == "tiny" else config.data.tokenizer

  with sharding.use_mesh(mesh):
    graphdef, abstract_state = abstract_model(model_config, mesh)
    abstract_params = nnx.to_pure_dict(abstract_state)
    params_sh = jax.tree.map(lambda x: x.sharding, abstract_params)
    state_sh = step_lib.state_shardings(params_sh, optimizer, abstract_params, mesh)
    train_iter = make_sft_iterator(config.data, "train")
    checkpointer = TrainCheckpointer(
      workdir,
      model_config,
      config.train.save_every,
      config.train.keep,
      config.train.async_checkpoint,
      tokenizer_dir,
    )
    restored = None
    if checkpointer.latest_step() is not None:
      restored = checkpointer.restore(
        step_lib.abstract_train_state(state_sh, optimizer, abstract_params), train_iter
      )
    if restored is not None:
      state, start = restored
      logging.info("resumed from step %d in %s", start, checkpointer.directory)
    else:
      state = step_lib.init_train_state(
        _initial_params(config, model_config, mesh), optimizer, state_sh
      )
      start = 0
    train_step, eval_step = step_lib.compile_steps(
      graphdef,
      optimizer,
      schedule,
      state_sh,
      mesh,
      config.train.grad_accum,
      config.train.loss_chunk,
    )
    batch_sh = step_lib.batch_sharding(mesh)
    compile_start = time.perf_counter()
    shape = (config.data.global_batch_size, config.data.seq_len)
    batch_spec = {
      k: jax.ShapeDtypeStruct(
        shape, np.float32 if k == "loss_mask" else np.int32, sharding=batch_sh
      )
      for k in step_lib.BATCH_KEYS
    }
    train_step = train_step.lower(state, batch_spec).compile()
    logging.info("compiled the train step in %.1f s", time.perf_counter() - compile_start)
    writer = MetricsWriter(workdir, resume_step=start)
    peak = device_peak_flops(config.train.peak_flops_per_device)
    flops_per_token = model_config.flops_per_token(config.data.seq_len, backward=True)
    last: dict[str, Any] = {}
    progress = _progress(start, total_steps, config)
    window_start, window_metrics = time.perf_counter(), []
    step = start
    try:
      while step < total_steps:
        batch = next(train_iter, None)
        # Packed hosts can run out at different steps: all stop when any one has no batch.
        if not sharding.on_every_process(batch is not None):
          logging.info(
            "data exhausted after %d steps (data.num_epochs=%s)", step, config.data.num_epochs
          )
          break
        state, metrics = train_step(state, _global_batch(batch, batch_sh))
        step += 1
        window_metrics.append(metrics)
        checkpointer.save(step, state, train_iter)
        if step % config.train.log_every == 0 or step == total_steps:
          fetched = jax.device_get(window_metrics)
          elapsed = time.perf_counter() - window_start
          window_tokens = sum(float(m["tokens"]) for m in fetched)
          last = {k: float(v) for k, v in fetched[-1].items()}
          last["tokens_per_s"] = window_tokens / elapsed
          if peak:
            last["mfu"] = last["tokens_per_s"] * flops_per_token / (peak * jax.device_count())
          if config.train.eval_every and step % config.train.eval_every == 0:
            eval_loss = _evaluate(eval_step, state.params, config, batch_sh)
            if eval_loss is not None:
              last["eval_loss"] = eval_loss
          writer.write(step, last)
          progress.update(len(window_metrics))
          progress.set_postfix(loss=f"{last['loss']:.4f}", tok_s=f"{last['tokens_per_s']:.0f}")
          window_start, window_metrics = time.perf_counter(), []
      if step not in checkpointer.manager.all_steps():
        checkpointer.save(step, state, train_iter, force=True)
    finally:
      checkpointer.close()
      writer.close()
      progress.close()
  return last


def _progress(start: int, total: int, config):
  from tqdm import tqdm

  return tqdm(
    total=total,
    initial=start,
    desc="sft",
    unit="step",
    dynamic_ncols=True,
    disable=jax.process_index() != 0 or not config.train.progress_bar,
  )
