"""Crash-safe per-stage storage: one fsynced JSON line per completed item, plus a marker.

A kill can leave at most a torn last line; it is cut off on the next open, so completed
items are never redone and nothing is duplicated or lost (``xcoder_jax.fileio``).
"""

from __future__ import annotations

import os
import threading

from xcoder_jax import fileio


class StageStore:
  """The completed items of one stage: {key: {"outputs": [...], "drops": {reason: n}}}."""

  def __init__(self, work_dir: str, stage: str):
    os.makedirs(work_dir, exist_ok=True)
    self.path = os.path.join(work_dir, f"{stage}.jsonl")
    self.done_path = os.path.join(work_dir, f"{stage}.done")
    self._lock = threading.Lock()
    self.entries = {entry["key"]: entry for entry in fileio.read_jsonl(self.path)}

  def add(self, key: str, outputs: list[dict], drops: dict[str, int]) -> None:
    entry = {"key": key, "outputs": outputs, "drops": drops}
    with self._lock:
      fileio.append_jsonl(self.path, entry)
      self.entries[key] = entry

  @property
  def complete(self) -> bool:
    return os.path.exists(self.done_path)

  def mark_complete(self) -> None:
    fileio.write_json_atomic(self.done_path, {"items": len(self.entries)})
