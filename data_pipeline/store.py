"""Crash-safe per-stage storage: one fsynced JSON line per completed item, plus a marker.

A kill can leave at most a torn last line; it is cut off on the next open, so completed
items are never redone and nothing is duplicated or lost.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any


def write_json_atomic(path: str, value: Any) -> None:
  tmp = f"{path}.tmp-{os.getpid()}"
  with open(tmp, "w") as f:
    json.dump(value, f, indent=1, sort_keys=True)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)


class StageStore:
  """The completed items of one stage: {key: {"outputs": [...], "drops": {reason: n}}}."""

  def __init__(self, work_dir: str, stage: str):
    os.makedirs(work_dir, exist_ok=True)
    self.path = os.path.join(work_dir, f"{stage}.jsonl")
    self.done_path = os.path.join(work_dir, f"{stage}.done")
    self._lock = threading.Lock()
    self.entries = self._load()

  def _load(self) -> dict[str, dict]:
    entries: dict[str, dict] = {}
    if not os.path.exists(self.path):
      return entries
    with open(self.path, "rb") as f:
      data = f.read()
    good = data.rfind(b"\n") + 1  # a torn last line is dropped and redone
    if good < len(data):
      with open(self.path, "r+b") as f:
        f.truncate(good)
    for line in data[:good].splitlines():
      entry = json.loads(line)
      entries[entry["key"]] = entry
    return entries

  def add(self, key: str, outputs: list[dict], drops: dict[str, int]) -> None:
    entry = {"key": key, "outputs": outputs, "drops": drops}
    line = json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n"
    with self._lock:
      with open(self.path, "a") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
      self.entries[key] = entry

  @property
  def complete(self) -> bool:
    return os.path.exists(self.done_path)

  def mark_complete(self) -> None:
    write_json_atomic(self.done_path, {"items": len(self.entries)})
