"""Crash-safe file writes shared by every room: checkpoints' metadata, metrics, shards,
SynthSmith's stores and outputs, HF export.

A file is either the old version or the complete new one, never a torn mix: writes go to a
unique temporary name in the same directory, are fsynced, then renamed over the target.
Append-only JSON-lines logs may end in a torn line after a kill; `read_jsonl` cuts it off.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w", **open_kwargs) -> Iterator[IO]:
  """`with atomic_write(path) as f: f.write(...)`: `path` appears only once `f` is complete.
  On an exception the temporary file is removed and `path` is left as it was."""
  directory = os.path.dirname(os.path.abspath(path))
  tmp = os.path.join(
    directory, f".{os.path.basename(path)}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
  )
  try:
    with open(tmp, mode, **open_kwargs) as f:
      yield f
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.remove(tmp)
    raise


def write_json_atomic(path: str, value: Any, **dump_kwargs) -> None:
  dump_kwargs.setdefault("indent", 1)
  dump_kwargs.setdefault("sort_keys", True)
  with atomic_write(path) as f:
    json.dump(value, f, **dump_kwargs)


def write_jsonl_atomic(path: str, records: list[Any]) -> None:
  with atomic_write(path) as f:
    for record in records:
      f.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")


def cut_torn_line(path: str) -> bytes:
  """Truncates `path` after its last newline (a write killed mid-line leaves a torn tail) and
  returns the complete lines' bytes; b"" for a missing file."""
  if not os.path.exists(path):
    return b""
  with open(path, "rb") as f:
    data = f.read()
  good = data.rfind(b"\n") + 1
  if good < len(data):
    with open(path, "r+b") as f:
      f.truncate(good)
  return data[:good]


def read_jsonl(path: str, repair: bool = True) -> list[Any]:
  """The records of a JSON-lines log written by `append_jsonl`. A torn last line (a write
  killed mid-line) is skipped; with `repair` it is also cut from the file, so the next append
  starts on a clean line. Without `repair` the file is never modified (e.g. a user's input)."""
  if repair:
    data = cut_torn_line(path)
  elif os.path.exists(path):
    with open(path, "rb") as f:
      data = f.read()
    if not data.endswith(b"\n"):
      data = _without_torn_tail(data)
  else:
    data = b""
  return [json.loads(line) for line in data.splitlines() if line.strip()]


def _without_torn_tail(data: bytes) -> bytes:
  """Keeps a final line without newline only when it parses (hand-written files)."""
  head, _, tail = data.rpartition(b"\n")
  try:
    json.loads(tail)
    return data
  except ValueError:
    return head


def append_jsonl(path: str, record: Any, fsync: bool = True) -> None:
  """Appends one JSON line; fsynced so that a completed record survives a kill."""
  with open(path, "a") as f:
    f.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    f.flush()
    if fsync:
      os.fsync(f.fileno())
