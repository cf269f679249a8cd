"""Train-state checkpoints: model, optimizer and data-iterator state saved together.

Orbax's CheckpointManager writes each step under `WORKDIR/checkpoints/<step>/` with the items
"model" (the layout `xcoder_jax.checkpoint` and `launch.export_hf` read), "opt_state", and the
trainer's own items (`CheckpointItem`s: SFT saves "data_iter", Grain's per-process iterator
state; GRPO adds its sampling state). Saves are asynchronous: the call returns
once arrays are copied off the devices (so the next step may donate them), and failures are
raised at the next save or at `close`. On resume the newest step that restores cleanly wins;
a step that fails to restore is reported and moved to `WORKDIR/corrupt_checkpoints/` so that
it is neither used nor silently overwritten. All processes agree on the step they restore.
A checkpoint written by a different model or optimizer setup is not corruption: it stops the
run with an error instead of being moved aside, and a work directory whose checkpoints are
all unusable is never silently restarted from scratch.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Callable, Mapping
from typing import Any

import grain
import jax
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from jax.experimental import multihost_utils

from xcoder_jax import checkpoint, sharding
from xcoder_jax.models.config import ModelConfig
from xcoder_jax.train.step import TrainState

QUARANTINE_DIR = "corrupt_checkpoints"


def has_step(workdir: str, step: int) -> bool:
  """Whether a run in `workdir` completed a checkpoint at `step` (Orbax renames a step's
  directory into place only once everything in it is written); lets a finished phase be
  skipped without building its trainer."""
  return os.path.isdir(os.path.join(workdir, checkpoint.WORKDIR_CHECKPOINTS, str(step)))


@dataclasses.dataclass(frozen=True)
class CheckpointItem:
  """A trainer's item saved beside the model and optimizer: its Orbax handler, the save
  arguments of its current value, the restore arguments, and what to do with the restored
  value (Grain restores an iterator in place, so `apply` may do nothing)."""

  handler: Any
  save_args: Callable[[], Any]
  restore_args: Callable[[], Any]
  apply: Callable[[Any], None] = lambda restored: None


def data_iterator_item(data_iter: Any) -> CheckpointItem:
  """A Grain iterator's position (per process), restored in place."""
  return CheckpointItem(
    grain.checkpoint.CheckpointHandler(),
    lambda: grain.checkpoint.CheckpointSave(data_iter),
    lambda: grain.checkpoint.CheckpointRestore(data_iter),
  )


def json_item(get: Callable[[], Any], set_: Callable[[Any], None]) -> CheckpointItem:
  """A small JSON-serialisable host value (written by process 0, read by every process)."""
  return CheckpointItem(
    ocp.JsonCheckpointHandler(),
    lambda: ocp.args.JsonSave(get()),
    ocp.args.JsonRestore,
    set_,
  )


class TrainCheckpointer:
  def __init__(
    self,
    workdir: str,
    model_config: ModelConfig,
    save_every: int,
    keep: int,
    async_save: bool = True,
    tokenizer_dir: str | None = None,
    items: Mapping[str, CheckpointItem] | None = None,
  ):
    self.workdir = os.path.abspath(workdir)
    self.directory = os.path.join(self.workdir, checkpoint.WORKDIR_CHECKPOINTS)
    checkpoint.write_model_metadata(self.directory, model_config, tokenizer_dir)
    self._options = ocp.CheckpointManagerOptions(
      max_to_keep=keep,
      save_interval_steps=save_every,
      enable_async_checkpointing=async_save,
      cleanup_tmp_directories=True,
    )
    self.items = dict(items or {})
    handlers = {
      checkpoint.MODEL_ITEM: ocp.StandardCheckpointHandler(),
      "opt_state": ocp.StandardCheckpointHandler(),
      **{name: item.handler for name, item in self.items.items()},
    }
    self.manager = ocp.CheckpointManager(
      self.directory, item_handlers=handlers, options=self._options
    )

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state: TrainState, force: bool = False) -> bool:
    args = ocp.args.Composite(
      **{
        checkpoint.MODEL_ITEM: ocp.args.StandardSave(state.params),
        "opt_state": ocp.args.StandardSave(state.opt_state),
        **{name: item.save_args() for name, item in self.items.items()},
      }
    )
    return self.manager.save(step, args=args, force=force)

  def restore(
    self, abstract_state: TrainState, updates_per_step: int = 1
  ) -> tuple[TrainState, int] | None:
    """The newest state that restores cleanly on every process (and every item applied, e.g.
    a data iterator moved to its position); None when the directory holds no checkpoint yet.
    The optimizer step restarts at `step * updates_per_step`."""
    steps = sorted(self.manager.all_steps(), reverse=True)
    for step in steps:
      self._check_layout(step, abstract_state)
      args = ocp.args.Composite(
        **{
          checkpoint.MODEL_ITEM: ocp.args.StandardRestore(abstract_state.params),
          "opt_state": ocp.args.StandardRestore(abstract_state.opt_state),
          **{name: item.restore_args() for name, item in self.items.items()},
        }
      )
      try:
        restored, error = self.manager.restore(step, args=args), None
      except Exception as e:  # noqa: BLE001 - any read failure makes this step unusable
        restored, error = None, e
      if sharding.on_every_process(error is None):
        for name, item in self.items.items():
          item.apply(restored[name])
        optimizer_step = np.asarray(step * updates_per_step, np.int32)
        step_array = jax.device_put(optimizer_step, abstract_state.step.sharding)
        return TrainState(step_array, restored[checkpoint.MODEL_ITEM], restored["opt_state"]), step
      logging.error(
        "checkpoint step %d in %s failed to restore on at least one process (%s); "
        "falling back to the previous one",
        step,
        self.directory,
        f"{type(error).__name__}: {error}" if error else "failed elsewhere",
      )
      self._quarantine(step)
    if steps:
      raise RuntimeError(
        f"no checkpoint in {self.directory} could be restored (all moved to "
        f"{os.path.join(self.workdir, QUARANTINE_DIR)}); refusing to start "
        "over silently: inspect them, or use a new --workdir"
      )
    return None

  def _check_layout(self, step: int, abstract_state: TrainState) -> None:
    """Raises if `step` was written for other parameter or optimizer shapes."""
    try:
      metadata = self.manager.item_metadata(step)
    except Exception:  # noqa: BLE001 - unreadable metadata: let the restore report it
      return
    for item, target in (
      (checkpoint.MODEL_ITEM, abstract_state.params),
      ("opt_state", abstract_state.opt_state),
    ):
      saved = metadata.get(item) if metadata is not None else None
      if saved is None:
        continue
      have, want = _layout(saved), _layout(target)
      if have != want:
        diff = sorted(set(have) ^ set(want))[:3]
        raise ValueError(
          f"checkpoint step {step} in {self.directory} holds a different {item} layout "
          f"than this config (e.g. {diff}): it was written by another model or optimizer "
          "setup. Resume with the config it was trained with, or use a new --workdir."
        )

  def _quarantine(self, step: int) -> None:
    if jax.process_index() == 0:
      target = os.path.join(self.workdir, QUARANTINE_DIR, f"{step}-{int(time.time())}")
      os.makedirs(os.path.dirname(target), exist_ok=True)
      shutil.move(os.path.join(self.directory, str(step)), target)
      logging.error("moved unusable checkpoint step %d to %s", step, target)
    if jax.process_count() > 1:
      multihost_utils.sync_global_devices(f"quarantined checkpoint {step}")
    self.manager.reload()

  def close(self) -> None:
    """Waits for pending saves; raises if one failed."""
    self.manager.wait_until_finished()
    self.manager.close()


def _layout(tree: Any) -> list[tuple[str, tuple[int, ...]]]:
  """(path, shape) of every array, with tuple/namedtuple/dict keys spelled alike, so a tree
  and Orbax's metadata of it (which stores namedtuples as dicts) compare equal."""

  def name(key):
    for attr in ("key", "name", "idx"):
      if hasattr(key, attr):
        return str(getattr(key, attr))
    return str(key)

  return [
    ("/".join(name(k) for k in path), tuple(leaf.shape))
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree)
  ]
