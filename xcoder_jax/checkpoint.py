"""Orbax checkpoints of models: the format `launch.import_hf` writes and training restores.

A checkpoint directory is an Orbax CheckpointManager directory whose steps hold the model's
parameters under the item "model" (training adds its optimizer and data-iterator items beside
it), plus `model_config.json` and, when known, the tokenizer files under `assets/`. A training
work directory keeps its checkpoint directory under `checkpoints/`; both are accepted.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import jax
import orbax.checkpoint as ocp
from flax import nnx
from jax.experimental import multihost_utils
from jax.sharding import Mesh

from xcoder_jax import sharding
from xcoder_jax.fileio import atomic_write, write_json_atomic
from xcoder_jax.hf.io import copy_tokenizer_files
from xcoder_jax.models.build import abstract_model, model_from_params
from xcoder_jax.models.config import RUNTIME_FIELDS, ModelConfig
from xcoder_jax.models.qwen import Qwen

MODEL_ITEM = "model"
MODEL_CONFIG_FILE = "model_config.json"
ASSETS_DIR = "assets"
WORKDIR_CHECKPOINTS = "checkpoints"
# Where imported weights came from (HF directory, stored dtype, step): export's default dtype.
IMPORT_RECORD_FILE = "hf_import.json"


def checkpoint_root(path: str) -> str:
  """The checkpoint directory at `path`, or under `path/checkpoints` for a training workdir."""
  for candidate in (path, os.path.join(path, WORKDIR_CHECKPOINTS)):
    if os.path.isfile(os.path.join(candidate, MODEL_CONFIG_FILE)):
      return os.path.abspath(candidate)
  raise FileNotFoundError(
    f"no {MODEL_CONFIG_FILE} in {path} or {path}/{WORKDIR_CHECKPOINTS}: "
    "expected a checkpoint written by launch.import_hf or launch.train"
  )


class CheckpointMismatchError(ValueError):
  """A readable checkpoint written for another setup (model, tokenizer, optimizer, data
  pipeline): a configuration error, never corruption, so nothing is moved or rewritten."""


def has_steps(directory: str) -> bool:
  """Whether `directory` holds a committed checkpoint step (a directory named by a number)."""
  return os.path.isdir(directory) and any(
    name.isdigit() and os.path.isdir(os.path.join(directory, name))
    for name in os.listdir(directory)
  )


def check_model_metadata(
  directory: str, config: ModelConfig, tokenizer_dir: str | None = None
) -> None:
  """Raises CheckpointMismatchError when `directory` holds steps of another model (any field
  but the runtime ones differs) or of another tokenizer (tokenizer.json differs); a directory
  without steps may be rewritten freely."""
  path = os.path.join(directory, MODEL_CONFIG_FILE)
  if not has_steps(directory) or not os.path.isfile(path):
    return
  with open(path) as f:
    saved = dataclasses.asdict(ModelConfig.from_json(f.read()))
  wanted = dataclasses.asdict(config)
  differ = [
    f"{k}: {saved.get(k)!r} there, {wanted[k]!r} now"
    for k in wanted
    if k not in RUNTIME_FIELDS and saved.get(k) != wanted[k]
  ]
  if differ:
    raise CheckpointMismatchError(
      f"{directory} holds checkpoints of another model ({'; '.join(differ)}); nothing was "
      "changed. Use the model it was trained with (the same --config.model.preset or "
      "init.source), or a new --workdir/output directory"
    )
  old, new = (
    os.path.join(d, "tokenizer.json") if d else ""
    for d in (os.path.join(directory, ASSETS_DIR), tokenizer_dir)
  )
  if os.path.isfile(old) and os.path.isfile(new) and not _same_bytes(old, new):
    raise CheckpointMismatchError(
      f"{directory} holds checkpoints trained with another tokenizer ({old} differs from "
      f"{new}); nothing was changed. Use its tokenizer (--config.data.tokenizer={os.path.dirname(old)})"
      " or a new --workdir/output directory"
    )


def _same_text(path: str, text: str) -> bool:
  with open(path) as f:
    return f.read() == text


def _same_bytes(a: str, b: str) -> bool:
  with open(a, "rb") as fa, open(b, "rb") as fb:
    return fa.read() == fb.read()


def write_model_metadata(
  directory: str, config: ModelConfig, tokenizer_dir: str | None = None
) -> None:
  """model_config.json and tokenizer assets; written by process 0 only, and only after
  `check_model_metadata` found nothing they would contradict (every process checks)."""
  check_model_metadata(directory, config, tokenizer_dir)
  if jax.process_index() != 0:
    return
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, MODEL_CONFIG_FILE)
  if not (os.path.isfile(path) and _same_text(path, config.to_json())):
    with atomic_write(path) as f:
      f.write(config.to_json())
  assets = os.path.join(directory, ASSETS_DIR)
  # Checked above to be the same tokenizer: the files the steps were trained with stay.
  if tokenizer_dir and not (has_steps(directory) and os.path.isdir(assets)):
    os.makedirs(assets, exist_ok=True)
    copy_tokenizer_files(tokenizer_dir, assets)


def read_model_config(path: str) -> ModelConfig:
  with open(os.path.join(checkpoint_root(path), MODEL_CONFIG_FILE)) as f:
    return ModelConfig.from_json(f.read())


def read_import_record(path: str) -> dict[str, Any] | None:
  """What `launch.import_hf` recorded about the weights of a checkpoint; None if not imported."""
  record = os.path.join(checkpoint_root(path), IMPORT_RECORD_FILE)
  if not os.path.isfile(record):
    return None
  with open(record) as f:
    return json.load(f)


def assets_dir(path: str) -> str | None:
  assets = os.path.join(checkpoint_root(path), ASSETS_DIR)
  return assets if os.path.isdir(assets) else None


def model_state(model: Qwen) -> dict[str, Any]:
  """The model's parameters as a plain nested dict, the layout stored under item "model"."""
  return nnx.to_pure_dict(nnx.state(model))


def check_new_directory(directory: str) -> None:
  """A new checkpoint goes into a new (or empty) directory: nothing existing is modified."""
  if os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
    raise FileExistsError(
      f"{directory} already exists and is not an empty directory; choose a new --output "
      "(an existing checkpoint is never modified)"
    )


def save_model(
  directory: str,
  model: Qwen,
  step: int = 0,
  tokenizer_dir: str | None = None,
  import_record: dict[str, Any] | None = None,
) -> str:
  """Saves the model as step `step` of a new checkpoint directory and waits until it is
  durable. Every process checks the directory before process 0 writes into it."""
  directory = os.path.abspath(directory)
  check_new_directory(directory)
  if jax.process_count() > 1:  # no process may check after process 0 has written
    multihost_utils.sync_global_devices("save_model: output checked")
  write_model_metadata(directory, model.config, tokenizer_dir)
  if import_record is not None and jax.process_index() == 0:
    write_json_atomic(os.path.join(directory, IMPORT_RECORD_FILE), {**import_record, "step": step})
  with ocp.CheckpointManager(directory, item_names=(MODEL_ITEM,)) as manager:
    manager.save(
      step, args=ocp.args.Composite(**{MODEL_ITEM: ocp.args.StandardSave(model_state(model))})
    )
    manager.wait_until_finished()
  return directory


def load_model(
  path: str, mesh: Mesh | None = None, step: int | None = None, **config_overrides: Any
) -> tuple[Qwen, int]:
  """Restores (model, step) from a checkpoint or training work directory, sharded on `mesh`."""
  root = checkpoint_root(path)
  config = read_model_config(root).replace(**config_overrides)
  mesh = mesh or sharding.make_mesh(devices=jax.local_devices()[:1])
  target = nnx.to_pure_dict(abstract_model(config, mesh)[1])
  with ocp.CheckpointManager(
    root, item_names=(MODEL_ITEM,), options=ocp.CheckpointManagerOptions(read_only=True)
  ) as manager:
    step = manager.latest_step() if step is None else step
    if step is None or step not in manager.all_steps():
      raise FileNotFoundError(
        f"no checkpoint step {'' if step is None else step} in {root}; "
        f"available: {list(manager.all_steps())}"
      )
    restored = manager.restore(
      step,
      args=ocp.args.Composite(**{MODEL_ITEM: ocp.args.StandardRestore(target)}),
    )
  return model_from_params(config, restored[MODEL_ITEM], mesh), step
