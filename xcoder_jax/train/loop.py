"""The loop every trainer shares: mesh, init or resume, one compiled step, metrics,
evaluation cadence and checkpoints. A trainer (SFT, GRPO, DPO) only says what one step does.

    last_metrics = loop.run(config, workdir, make_trainer)

`make_trainer(context)` returns a `Trainer`: its loss function (the step is built from it),
the global batch shapes the step is compiled for, its checkpoint items (data position,
sampling state, ...) and `run_step`, which turns the current state into the next one (SFT:
one batch, one update; GRPO: rollouts, rewards, several updates). Everything with side
effects lives here or in the trainer; the step itself is pure (`xcoder_jax.train.step`).
Rerunning with the same work directory resumes from its newest good checkpoint.

What a run refuses, so that no work is lost: a second run in the same work directory (the
first holds `WORKDIR/run.lock`, `xcoder_jax.train.lock`), a checkpoint of another setup
(`CheckpointMismatchError`, nothing touched), a non-finite loss or gradient norm
(`NonFiniteError` at the first such step; that state is never saved) and data that gives not
one batch (`NoDataError`, instead of an empty run that exits cleanly).
"""

from __future__ import annotations

import abc
import dataclasses
import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import jax
import ml_collections
import numpy as np
import optax
from absl import logging
from flax import nnx
from jax.sharding import Mesh, NamedSharding

from xcoder_jax import sharding
from xcoder_jax.data import load_tokenizer
from xcoder_jax.data.tokenizer import Tokenizer, tiny_tokenizer_dir
from xcoder_jax.fileio import write_json_atomic
from xcoder_jax.models import ModelConfig
from xcoder_jax.models.build import abstract_model
from xcoder_jax.train import init, lock
from xcoder_jax.train import step as step_lib
from xcoder_jax.train.checkpointing import CheckpointItem, TrainCheckpointer
from xcoder_jax.train.loss import LossFn
from xcoder_jax.train.metrics import MetricsWriter, device_peak_flops
from xcoder_jax.train.optimizer import make_optimizer

CONFIG_FILE = "config.json"  # the config of the newest run in a work directory


@dataclasses.dataclass
class RunContext:
  """What the loop has set up before the trainer is made."""

  config: ml_collections.ConfigDict
  workdir: str
  mesh: Mesh
  model_config: ModelConfig
  tokenizer: Tokenizer
  tokenizer_dir: str | None
  graphdef: nnx.GraphDef
  state_shardings: step_lib.TrainState
  optimizer: optax.GradientTransformation
  schedule: optax.Schedule

  def batch_shardings(self, shapes: Mapping[str, Any]) -> dict[str, NamedSharding]:
    return step_lib.batch_shardings(self.mesh, {k: len(v.shape) for k, v in shapes.items()})


class Trainer(abc.ABC):
  """One kind of training on the shared loop. A subclass sets `loss_fn` (the step is built
  from it) and `batch_shapes` (global shapes and dtypes of one train-step batch: the step is
  compiled for these) in its constructor."""

  name: str = "train"  # the progress bar's label
  updates_per_step: int = 1  # optimizer updates per loop step (GRPO: mini-batches x epochs)
  loss_fn: LossFn
  batch_shapes: Mapping[str, jax.ShapeDtypeStruct]

  def checkpoint_items(self) -> Mapping[str, CheckpointItem]:
    return {}

  @abc.abstractmethod
  def run_step(
    self, state: step_lib.TrainState, step: int, train_step: Callable
  ) -> tuple[step_lib.TrainState, Mapping[str, Any]] | None:
    """Loop step `step` (0-based): the new state and its metrics (device arrays or numbers),
    or None when the data is exhausted on any process (all processes then stop together)."""

  def evaluate(self, params: Any, eval_step: Callable) -> Mapping[str, float]:
    """Held-out metrics, every `train.eval_every` steps; none by default."""
    return {}

  def close(self) -> None:  # noqa: B027 - optional hook
    """Releases engines, threads or files the trainer holds."""


def mesh_from_config(config: ml_collections.ConfigDict) -> Mesh:
  return sharding.mesh_from_settings(config.mesh)


def resolve_tokenizer(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Fills an empty data.tokenizer with the tokenizer of what training starts from."""
  if config.data.tokenizer:
    return config
  config = ml_collections.ConfigDict(config.to_dict())
  config.data.tokenizer = init.default_tokenizer(config) or ""
  if not config.data.tokenizer:
    raise ValueError(
      "data.tokenizer is empty and init.source has no tokenizer files; set "
      "--config.data.tokenizer=tiny or an HF tokenizer directory"
    )
  return config


def global_batch(batch: Mapping[str, np.ndarray], shardings: Mapping[str, NamedSharding]):
  """Host-local rows of every process -> one global array per field."""
  return {
    k: jax.make_array_from_process_local_data(sh, np.asarray(batch[k]))
    for k, sh in shardings.items()
  }


def run(
  config: ml_collections.ConfigDict,
  workdir: str,
  make_trainer: Callable[[RunContext], Trainer],
) -> dict[str, Any]:
  """Runs (or resumes) training in `workdir`; returns the last logged metrics."""
  os.makedirs(workdir, exist_ok=True)
  with lock.hold(workdir):
    return _run_locked(config, workdir, make_trainer)


def _run_locked(config, workdir, make_trainer) -> dict[str, Any]:
  config = resolve_tokenizer(config)
  mesh = mesh_from_config(config)
  model_config = init.model_config_from(config)
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
    context = RunContext(
      config,
      workdir,
      mesh,
      model_config,
      tokenizer,
      tokenizer_dir,
      graphdef,
      state_sh,
      optimizer,
      schedule,
    )
    trainer = make_trainer(context)
    try:
      return _train(context, trainer, abstract_params)
    finally:
      trainer.close()


def _train(context: RunContext, trainer: Trainer, abstract_params: Any) -> dict[str, Any]:
  config, workdir = context.config, context.workdir
  total_steps = config.train.steps
  checkpointer = TrainCheckpointer(
    workdir,
    context.model_config,
    config.train.save_every,
    config.train.keep,
    config.train.async_checkpoint,
    context.tokenizer_dir,
    items=trainer.checkpoint_items(),
    settings={"data": config.data.to_dict(), "process_count": jax.process_count()},
  )
  abstract = step_lib.abstract_train_state(
    context.state_shardings, context.optimizer, abstract_params
  )
  restored = checkpointer.restore(abstract, trainer.updates_per_step)
  if jax.process_index() == 0:  # what this run trains on (the leak check reads it); written
    # once the run is known to fit the work directory, so a refused run changes nothing
    write_json_atomic(
      os.path.join(workdir, CONFIG_FILE), json.loads(config.to_json_best_effort()), indent=1
    )
  if restored is not None:
    state, start = restored
    logging.info("resumed from step %d in %s", start, checkpointer.directory)
  else:
    params = init.initial_params(config, context.model_config, context.mesh)
    state = step_lib.init_train_state(params, context.optimizer, context.state_shardings)
    start = 0
  shapes = trainer.batch_shapes
  batch_sh = context.batch_shardings(shapes)
  train_step, eval_step = step_lib.compile_loss_steps(
    context.graphdef,
    context.optimizer,
    context.schedule,
    context.state_shardings,
    context.mesh,
    config.train.grad_accum,
    trainer.loss_fn,
    {k: len(v.shape) for k, v in shapes.items()},
  )
  compile_start = time.perf_counter()
  spec = {
    k: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=batch_sh[k]) for k, v in shapes.items()
  }
  train_step = train_step.lower(state, spec).compile()
  logging.info("compiled the train step in %.1f s", time.perf_counter() - compile_start)
  writer = MetricsWriter(workdir, resume_step=start)
  peak = device_peak_flops(config.train.peak_flops_per_device)
  seq_len = max((v.shape[1] for v in shapes.values() if len(v.shape) > 1), default=0)
  flops_per_token = context.model_config.flops_per_token(seq_len, backward=True)
  last: dict[str, Any] = {}
  progress = _progress(trainer.name, start, total_steps, config)
  window_start, window_metrics = time.perf_counter(), []
  step = start
  unchecked: tuple[int, Mapping[str, Any]] | None = None
  try:
    while step < total_steps:
      result = trainer.run_step(state, step, train_step)
      if result is None:
        if step == 0:
          raise NoDataError(_no_data_message(trainer.name, config))
        logging.info(
          "data exhausted after %d steps (data.num_epochs=%s)", step, config.data.num_epochs
        )
        break
      state, metrics = result
      step += 1
      window_metrics.append(metrics)
      # A step's metrics are checked once the next step is queued (a check waits for the
      # device), and before any save: a non-finite state is never written.
      if unchecked is not None:
        check_finite(*unchecked, checkpointer.directory)
      unchecked = (step, metrics)
      if checkpointer.should_save(step):
        check_finite(step, metrics, checkpointer.directory)
        unchecked = None
      checkpointer.save(step, state)
      if step % config.train.log_every == 0 or step == total_steps:
        fetched = jax.device_get(window_metrics)
        for offset, logged in enumerate(fetched, step - len(fetched) + 1):
          check_finite(offset, logged, checkpointer.directory)  # never log a NaN as a result
        unchecked = None
        elapsed = time.perf_counter() - window_start
        last = {k: float(v) for k, v in fetched[-1].items()}
        if "tokens" in last:
          last["tokens_per_s"] = sum(float(m["tokens"]) for m in fetched) / elapsed
          if peak:
            last["mfu"] = last["tokens_per_s"] * flops_per_token / (peak * jax.device_count())
        last["step_seconds"] = elapsed / len(fetched)
        if config.train.eval_every and step % config.train.eval_every == 0:
          last.update(trainer.evaluate(state.params, eval_step))
        writer.write(step, last)
        progress.update(len(window_metrics))
        progress.set_postfix({k: f"{last[k]:.4g}" for k in _postfix_keys(last)})
        window_start, window_metrics = time.perf_counter(), []
    if unchecked is not None:
      check_finite(*unchecked, checkpointer.directory)
    if step not in checkpointer.manager.all_steps():
      checkpointer.save(step, state, force=True)
  finally:
    checkpointer.close()
    writer.close()
    progress.close()
  return last


class NoDataError(ValueError):
  """The training data yields no batch at all: every record was dropped or filtered."""


class NonFiniteError(FloatingPointError):
  """The loss or gradient norm of a step is NaN or infinite."""


FINITE_KEYS = ("loss", "grad_norm")


def check_finite(step: int, metrics: Mapping[str, Any], directory: str) -> None:
  """Raises NonFiniteError naming `step` when its loss or gradient norm is not finite."""
  fetched = jax.device_get({k: metrics[k] for k in FINITE_KEYS if k in metrics})
  values = {k: float(fetched[k]) for k in FINITE_KEYS if k in fetched}
  bad = {k: v for k, v in values.items() if not np.isfinite(v)}
  if bad:
    raise NonFiniteError(
      f"step {step}: {', '.join(f'{k} = {v}' for k, v in values.items())}; training stopped "
      f"without saving this state (the newest checkpoint in {directory} is the last finite "
      "one). Lower optimizer.lr, check optimizer.clip_norm and the data, then resume"
    )


def _no_data_message(name: str, config: ml_collections.ConfigDict) -> str:
  data = config.data
  settings = ", ".join(
    f"data.{k}={data[k]!r}"
    for k in ("train_files", "seq_len", "truncate", "long_prompt", "train_on_heldout")
    if k in data
  )
  return (
    f"{name}: the training data gave no batch for step 1: every record was dropped or "
    f"filtered out, or fewer records remain than one batch ({settings}). Check the shards, "
    "raise data.seq_len, or relax the setting that drops records"
  )


def _postfix_keys(metrics: Mapping[str, float]) -> list[str]:
  return [k for k in ("loss", "reward_mean", "tokens_per_s") if k in metrics]


def _progress(name: str, start: int, total: int, config):
  from tqdm import tqdm

  return tqdm(
    total=total,
    initial=start,
    desc=name,
    unit="step",
    dynamic_ncols=True,
    disable=jax.process_index() != 0 or not config.train.progress_bar,
  )
