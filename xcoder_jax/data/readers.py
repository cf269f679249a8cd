"""Readers for SFT sources in X-Coder's released layout (JSONL and Parquet).

Both yield ``(where, row_dict)`` pairs where ``where`` is ``"file:line"`` / ``"file:row"``
for error messages. Rows are raw: ``to_schema_record`` maps them onto the record schema of
``xcoder_jax.data.schema`` (``query``/``response`` or ``messages``; other columns go to
``metadata``; a missing ``id`` becomes ``<file stem>-<row>``).
"""

from __future__ import annotations

import glob as glob_lib
import json
import os
from collections.abc import Iterator
from typing import Any

from xcoder_jax.data import schema

FORMATS = ("auto", "jsonl", "parquet")
_KNOWN = {"id", "messages", "query", "response", "system", "split", "metadata"}


def expand_inputs(spec: str | list[str] | tuple[str, ...], what: str = "input") -> list[str]:
  """Expands a path, glob, directory or comma-separated list of them into sorted files.

  Raises FileNotFoundError naming the pattern that matched nothing.
  """
  if isinstance(spec, str):
    items = [s for s in spec.split(",") if s.strip()]
  else:
    items = list(spec)
  if not items:
    raise FileNotFoundError(f"no {what} files given; pass a file, a glob or a directory")
  files: list[str] = []
  for item in items:
    item = os.path.expanduser(item.strip())
    if os.path.isdir(item):
      found = sorted(
        p
        for p in glob_lib.glob(os.path.join(item, "*"))
        if os.path.isfile(p) and not os.path.basename(p).startswith(".")
      )
      if not found:
        raise FileNotFoundError(
          f"{what} directory {item!r} holds no files; point at the "
          "directory that make_shards wrote, or at the files themselves"
        )
      files.extend(found)
    elif glob_lib.has_magic(item):
      found = sorted(p for p in glob_lib.glob(item) if os.path.isfile(p))
      if not found:
        raise FileNotFoundError(
          f"{what} pattern {item!r} matched no files; check the path "
          "(globs are expanded relative to the working directory "
          f"{os.getcwd()!r})"
        )
      files.extend(found)
    elif os.path.isfile(item):
      files.append(item)
    else:
      raise FileNotFoundError(
        f"{what} file {item!r} does not exist; check the path, or build "
        "shards with python -m launch.make_shards"
      )
  return files


def detect_format(path: str, fmt: str = "auto") -> str:
  if fmt not in FORMATS:
    raise ValueError(f"format {fmt!r}; choose one of {FORMATS}")
  if fmt != "auto":
    return fmt
  name = path.lower()
  if name.endswith((".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz")):
    return "jsonl"
  if name.endswith((".parquet", ".pq")):
    return "parquet"
  raise ValueError(
    f"cannot tell the format of {path!r} from its name; pass --format=jsonl or --format=parquet"
  )


def read_jsonl(path: str) -> Iterator[tuple[str, dict[str, Any]]]:
  """Yields one dict per non-blank line of a JSON Lines file (optionally .gz)."""
  if path.endswith(".gz"):
    import gzip

    f = gzip.open(path, "rt", encoding="utf-8")
  else:
    f = open(path, encoding="utf-8")
  with f:
    for lineno, line in enumerate(f, 1):
      if not line.strip():
        continue
      where = f"{path}:{lineno}"
      try:
        row = json.loads(line)
      except json.JSONDecodeError as e:
        raise schema.RecordError(
          f"{where}: not valid JSON ({e}); JSONL needs one JSON object per line"
        ) from e
      yield where, row


def _import_pyarrow_parquet():
  try:
    import pyarrow.parquet as pq
  except ImportError as e:
    raise ImportError("reading Parquet needs pyarrow: pip install pyarrow") from e
  return pq


def read_parquet(path: str, batch_size: int = 1024) -> Iterator[tuple[str, dict[str, Any]]]:
  """Streams rows of a Parquet file as dicts (nested list/struct columns become lists/dicts)."""
  pq = _import_pyarrow_parquet()
  pf = pq.ParquetFile(path)
  row = 0
  for batch in pf.iter_batches(batch_size=batch_size):
    for item in batch.to_pylist():
      yield f"{path}:row {row}", item
      row += 1


def read_rows(path: str, fmt: str = "auto") -> Iterator[tuple[str, dict[str, Any]]]:
  fmt = detect_format(path, fmt)
  return read_jsonl(path) if fmt == "jsonl" else read_parquet(path)


def to_schema_record(row: Any, where: str, default_id: str) -> dict[str, Any]:
  """Maps a raw source row onto the SFT schema and validates it (raises RecordError)."""
  if not isinstance(row, dict):
    raise schema.RecordError(f"{where}: expected a JSON object per row, got {type(row).__name__}")
  record = {k: v for k, v in row.items() if k in _KNOWN and v is not None}
  extra = {k: v for k, v in row.items() if k not in _KNOWN}
  if "id" in record and not isinstance(record["id"], str):
    record["id"] = str(record["id"])
  record.setdefault("id", default_id)
  if extra:
    meta = dict(record.get("metadata") or {})
    for k, v in extra.items():
      meta.setdefault(k, v)
    record["metadata"] = meta
  schema.validate_record(record, where)
  return record


def iter_schema_records(path: str, fmt: str = "auto") -> Iterator[dict[str, Any]]:
  """Reads a JSONL/Parquet file in X-Coder's layout and yields validated schema records."""
  stem = os.path.basename(path).split(".")[0]
  for i, (where, row) in enumerate(read_rows(path, fmt)):
    yield to_schema_record(row, where, f"{stem}-{i}")
