"""Train-state checkpoints: model, optimizer and data-iterator state saved together.

Orbax's CheckpointManager writes each step under `WORKDIR/checkpoints/<step>/` with the items
"model" (the layout `xcoder_jax.checkpoint` and `launch.export_hf` read), "opt_state" and
"data_iter" (Grain's per-process iterator state). Saves are asynchronous: the call returns
once arrays are copied off the devices (so the next step may donate them), and failures are
raised at the next save or at `close`. On resume the newest step that restores cleanly wins;
a step that fails to restore is reported and moved to `WORKDIR/corrupt_checkpoints/` so that
it is neither used nor silently overwritten.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import grain
import jax
import orbax.checkpoint as ocp
from absl import logging

from xcoder_jax import checkpoint
from xcoder_jax.models.config import ModelConfig
from xcoder_jax.train.step import TrainState

ITEMS = (checkpoint.MODEL_ITEM, "opt_state", "data_iter")
QUARANTINE_DIR = "corrupt_checkpoints"


class TrainCheckpointer:

  def __init__(self, workdir: str, model_config: ModelConfig, save_every: int, keep: int,
               async_save: bool = True, tokenizer_dir: str | None = None):
    self.workdir = os.path.abspath(workdir)
    self.directory = os.path.join(self.workdir, checkpoint.WORKDIR_CHECKPOINTS)
    checkpoint.write_model_metadata(self.directory, model_config, tokenizer_dir)
    self._options = ocp.CheckpointManagerOptions(
        max_to_keep=keep, save_interval_steps=save_every,
        enable_async_checkpointing=async_save, cleanup_tmp_directories=True)
    self.manager = ocp.CheckpointManager(self.directory, item_names=ITEMS, options=self._options)

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state: TrainState, data_iter: Any, force: bool = False) -> bool:
    args = ocp.args.Composite(**{
        checkpoint.MODEL_ITEM: ocp.args.StandardSave(state.params),
        "opt_state": ocp.args.StandardSave(state.opt_state),
        "data_iter": grain.checkpoint.CheckpointSave(data_iter)})
    return self.manager.save(step, args=args, force=force)

  def restore(self, abstract_state: TrainState, data_iter: Any) -> tuple[TrainState, int] | None:
    """The newest state that restores cleanly (and `data_iter` moved to its position)."""
    for step in sorted(self.manager.all_steps(), reverse=True):
      args = ocp.args.Composite(**{
          checkpoint.MODEL_ITEM: ocp.args.StandardRestore(abstract_state.params),
          "opt_state": ocp.args.StandardRestore(abstract_state.opt_state),
          "data_iter": grain.checkpoint.CheckpointRestore(data_iter)})
      try:
        restored = self.manager.restore(step, args=args)
      except Exception as error:  # noqa: BLE001 - any failure means this step is unusable
        logging.error("checkpoint step %d in %s failed to restore (%s: %s); falling back to "
                      "the previous one", step, self.directory, type(error).__name__, error)
        self._quarantine(step)
        continue
      step_array = jax.device_put(jax.numpy.asarray(step, jax.numpy.int32),
                                  abstract_state.step.sharding)
      return TrainState(step_array, restored[checkpoint.MODEL_ITEM], restored["opt_state"]), step
    return None

  def _quarantine(self, step: int) -> None:
    if jax.process_index() == 0:
      target = os.path.join(self.workdir, QUARANTINE_DIR, f"{step}-{int(time.time())}")
      os.makedirs(os.path.dirname(target), exist_ok=True)
      shutil.move(os.path.join(self.directory, str(step)), target)
      logging.error("moved unusable checkpoint step %d to %s", step, target)
    self.manager.reload()

  def close(self) -> None:
    """Waits for pending saves; raises if one failed."""
    self.manager.wait_until_finished()
    self.manager.close()
