"""Train-state checkpoints: model, optimizer and data-iterator state saved together.

Orbax's CheckpointManager writes each step under `WORKDIR/checkpoints/<step>/` with the items
"model" (the layout `xcoder_jax.checkpoint` and `launch.export_hf` read), "opt_state", and the
trainer's own items (`CheckpointItem`s: SFT saves "data_iter", Grain's per-process iterator
state; GRPO adds its sampling state). Saves are asynchronous: the call returns
once arrays are copied off the devices (so the next step may donate them), and failures are
raised at the next save or at `close`. On resume the newest step that restores cleanly wins;
a step that cannot be read is reported and moved to `WORKDIR/corrupt_checkpoints/` so that
it is neither used nor silently overwritten. All processes agree on the step they restore.
A readable checkpoint that does not fit the run (another model, tokenizer or optimizer, a
data pipeline whose iterator state no longer applies, another process count) is not
corruption: `CheckpointMismatchError` stops the run, names what differs and touches nothing.
Every step also records the data settings it was written with ("data_settings"), so such an
error names the data keys that changed. A work directory holding checkpoints (its own or
quarantined ones) is never silently restarted from scratch.
"""

from __future__ import annotations

import dataclasses
import json
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
from xcoder_jax.checkpoint import CheckpointMismatchError
from xcoder_jax.models.config import ModelConfig
from xcoder_jax.train.step import TrainState

QUARANTINE_DIR = "corrupt_checkpoints"
SETTINGS_ITEM = "data_settings"


class NothingToResumeError(FileExistsError):
  """The work directory holds checkpoints but none can be resumed: starting over would
  overwrite the run's metrics and, at the first save, its history."""


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


class IteratorStateHandler(grain.checkpoint.CheckpointHandler):
  """Grain's iterator checkpoints (same files: `process_<i>-of-<n>.json`), restored as the
  saved state instead of being applied inside Orbax: a file that cannot be read is corruption,
  a readable state that the iterator rejects (a changed data pipeline) is a mismatch."""

  def restore(self, directory, item=None, args=None) -> dict[str, Any]:
    index, count = jax.process_index(), jax.process_count()
    path = directory / f"process_{index}-of-{count}.json"
    if not path.exists():
      written = sorted(p.name for p in directory.glob("process_*-of-*.json"))
      if written:
        raise CheckpointMismatchError(
          f"the data iterator state in {directory} was written by a run with another number "
          f"of processes ({written[0]}, this run has {count}); resume with the same process "
          "count, or use a new --workdir"
        )
      raise FileNotFoundError(f"{path} is missing")
    return json.loads(path.read_text())


@ocp.args.register_with_handler(IteratorStateHandler, for_save=True)
@dataclasses.dataclass
class IteratorStateSave(ocp.args.CheckpointArgs):
  item: Any


@ocp.args.register_with_handler(IteratorStateHandler, for_restore=True)
@dataclasses.dataclass
class IteratorStateRestore(ocp.args.CheckpointArgs):
  pass


def data_iterator_item(data_iter: Any) -> CheckpointItem:
  """A Grain iterator's position (per process), set on the iterator after it is read."""
  return CheckpointItem(
    IteratorStateHandler(),
    lambda: IteratorStateSave(data_iter),
    IteratorStateRestore,
    lambda state: (data_iter.set_state(state), data_iter.start_prefetch()),
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
  """The checkpoints of one work directory. `settings` (JSON) is recorded with every step; it
  names what changed when a step does not fit the run."""

  def __init__(
    self,
    workdir: str,
    model_config: ModelConfig,
    save_every: int,
    keep: int,
    async_save: bool = True,
    tokenizer_dir: str | None = None,
    items: Mapping[str, CheckpointItem] | None = None,
    settings: Mapping[str, Any] | None = None,
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
    self.settings = json.loads(json.dumps(dict(settings or {})))  # as it reads back
    self.items = dict(items or {})
    handlers = {
      checkpoint.MODEL_ITEM: ocp.StandardCheckpointHandler(),
      "opt_state": ocp.StandardCheckpointHandler(),
      SETTINGS_ITEM: ocp.JsonCheckpointHandler(),
      **{name: item.handler for name, item in self.items.items()},
    }
    self.manager = ocp.CheckpointManager(
      self.directory, item_handlers=handlers, options=self._options
    )

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def should_save(self, step: int) -> bool:
    return self.manager.should_save(step)

  def save(self, step: int, state: TrainState, force: bool = False) -> bool:
    args = ocp.args.Composite(
      **{
        checkpoint.MODEL_ITEM: ocp.args.StandardSave(state.params),
        "opt_state": ocp.args.StandardSave(state.opt_state),
        SETTINGS_ITEM: ocp.args.JsonSave(self.settings),
        **{name: item.save_args() for name, item in self.items.items()},
      }
    )
    return self.manager.save(step, args=args, force=force)

  def restore(
    self, abstract_state: TrainState, updates_per_step: int = 1
  ) -> tuple[TrainState, int] | None:
    """The newest state that restores cleanly on every process (and every item applied, e.g.
    a data iterator moved to its position); None in a fresh work directory. The optimizer
    step restarts at `step * updates_per_step`. Raises CheckpointMismatchError for a step of
    another setup, NothingToResumeError when every checkpoint is unreadable."""
    steps = sorted(self.manager.all_steps(), reverse=True)
    for step in steps:
      self._check_layout(step, abstract_state)
      step_dir = os.path.join(self.directory, str(step))
      missing = [name for name in self.items if not os.path.isdir(os.path.join(step_dir, name))]
      if missing:
        raise CheckpointMismatchError(
          f"checkpoint step {step} in {self.directory} has no {missing} (it was written by "
          "another kind of training); resume it with the trainer that wrote it, or use a new "
          "--workdir"
        )
      has_settings = os.path.isdir(os.path.join(step_dir, SETTINGS_ITEM))
      args = ocp.args.Composite(
        **{
          checkpoint.MODEL_ITEM: ocp.args.StandardRestore(abstract_state.params),
          "opt_state": ocp.args.StandardRestore(abstract_state.opt_state),
          **({SETTINGS_ITEM: ocp.args.JsonRestore()} if has_settings else {}),
          **{name: item.restore_args() for name, item in self.items.items()},
        }
      )
      try:
        restored, error = self.manager.restore(step, args=args), None
      except CheckpointMismatchError:
        raise
      except Exception as e:  # noqa: BLE001 - any read failure makes this step unusable
        restored, error = None, e
      if sharding.on_every_process(error is None):
        saved = restored[SETTINGS_ITEM] if has_settings else None
        self._apply_items(step, restored, saved)
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
    quarantine = os.path.join(self.workdir, QUARANTINE_DIR)
    if steps or (os.path.isdir(quarantine) and os.listdir(quarantine)):
      raise NothingToResumeError(
        f"no checkpoint in {self.directory} can be resumed (unreadable ones are kept in "
        f"{quarantine}); refusing to start over and overwrite this run's metrics. Inspect "
        f"them; to start from scratch here, move {quarantine} away; or use a new --workdir"
      )
    return None

  def _apply_items(self, step: int, restored: Any, saved: Mapping[str, Any] | None) -> None:
    """Hands the trainer's items their restored values; a value the trainer rejects was
    written for another setup. Otherwise changed settings are only reported."""
    changed = _differences(saved, self.settings) if saved is not None else []
    failure = None
    for name, item in self.items.items():
      try:
        item.apply(restored[name])
      except Exception as e:  # noqa: BLE001 - any rejection: the state does not fit
        failure = f"{name}: {type(e).__name__}: {e}"
        break
    if not sharding.on_every_process(failure is None):
      raise CheckpointMismatchError(
        f"checkpoint step {step} in {self.directory} is readable but does not fit this run "
        f"({failure or 'rejected on another process'}); "
        + (
          f"settings changed since it was written: {'; '.join(changed)}. "
          if changed
          else "it was written with other data settings (not recorded by older versions). "
        )
        + "Resume with the settings it was written with, or use a new --workdir; nothing was "
        "changed"
      )
    if changed:
      logging.warning("resuming step %d with changed settings: %s", step, "; ".join(changed))

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
        raise CheckpointMismatchError(
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


def _differences(saved: Mapping[str, Any], current: Mapping[str, Any], prefix: str = "") -> list:
  """`key: old -> new` for every leaf that differs between two nested settings dicts."""
  out = []
  for key in sorted(set(saved) | set(current)):
    old, new = saved.get(key), current.get(key)
    if isinstance(old, Mapping) and isinstance(new, Mapping):
      out += _differences(old, new, f"{prefix}{key}.")
    elif old != new:
      out.append(f"{prefix}{key}: {old!r} -> {new!r}")
  return out
