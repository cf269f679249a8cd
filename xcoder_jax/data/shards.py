"""Writing SFT records into ArrayRecord shards, atomically."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from typing import Any

from xcoder_jax.data import schema
from xcoder_jax.fileio import write_json_atomic

SHARD_SUFFIX = ".array_record"
MANIFEST = "manifest.json"
# group_size:1 makes every record its own chunk, so Grain's random access reads one record.
WRITER_OPTIONS = "group_size:1"


def shard_name(prefix: str, index: int, num_shards: int) -> str:
  return f"{prefix}-{index:05d}-of-{num_shards:05d}{SHARD_SUFFIX}"


def check_output_dir(output_dir: str, overwrite: bool) -> None:
  if os.path.isdir(output_dir) and os.listdir(output_dir):
    if not overwrite:
      raise FileExistsError(
        f"output directory {output_dir!r} is not empty; choose an empty or "
        "new directory, or pass --overwrite to replace its shards"
      )
  elif os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise FileExistsError(f"output {output_dir!r} exists and is not a directory")


def write_shards(
  records: Iterable[dict[str, Any]],
  output_dir: str,
  num_shards: int = 1,
  *,
  prefix: str = "sft",
  overwrite: bool = False,
  extra_manifest: dict[str, Any] | None = None,
  sft_schema: bool = True,
) -> dict[str, Any]:
  """Writes records round-robin into ``num_shards`` ArrayRecord files.

  Records are checked against the SFT schema unless ``sft_schema`` is False (other JSON
  records with an ``id``, e.g. SynthSmith's RL tasks); ids must be unique either way.

  Everything is written under temporary names and renamed only after every record was
  written, so a failed run leaves no half-written shard behind. With ``overwrite`` the old
  ``*.array_record`` files and manifest in ``output_dir`` are removed once the new ones are
  complete. Returns the manifest (also written as ``manifest.json``).
  """
  from array_record.python.array_record_module import ArrayRecordWriter

  if num_shards < 1:
    raise ValueError(f"num_shards must be >= 1, got {num_shards}")
  check_output_dir(output_dir, overwrite)
  os.makedirs(output_dir, exist_ok=True)
  token = uuid.uuid4().hex[:8]
  names = [shard_name(prefix, i, num_shards) for i in range(num_shards)]
  tmp_paths = [os.path.join(output_dir, f".tmp-{token}-{n}.partial") for n in names]
  writers = [ArrayRecordWriter(p, WRITER_OPTIONS) for p in tmp_paths]
  counts = [0] * num_shards
  ok = False
  try:
    seen_ids: set[str] = set()
    for i, record in enumerate(records):
      if sft_schema:
        schema.validate_record(record, f"input record #{i}")
      if record["id"] in seen_ids:
        raise schema.RecordError(
          f"record {record['id']!r} (input record #{i}): duplicate id; "
          "ids must be unique across the inputs"
        )
      seen_ids.add(record["id"])
      s = i % num_shards
      writers[s].write(schema.encode_record(record))
      counts[s] += 1
    ok = True
  finally:
    for w in writers:
      w.close()
    if not ok:
      for p in tmp_paths:
        if os.path.exists(p):
          os.remove(p)
  if overwrite:
    for name in os.listdir(output_dir):
      path = os.path.join(output_dir, name)
      if (name.endswith(SHARD_SUFFIX) or name == MANIFEST) and os.path.isfile(path):
        os.remove(path)
  final_paths = [os.path.join(output_dir, n) for n in names]
  for tmp, final in zip(tmp_paths, final_paths):
    os.replace(tmp, final)
  manifest = {"num_records": sum(counts), "shards": {n: c for n, c in zip(names, counts)}}
  if sft_schema:
    manifest["schema_version"] = schema.SCHEMA_VERSION
  if extra_manifest:
    manifest.update(extra_manifest)
  write_json_atomic(os.path.join(output_dir, MANIFEST), manifest, indent=2)
  return manifest


def shard_files(spec: str | list[str]) -> list[str]:
  """Resolves train/eval file specs to ArrayRecord shard paths, with clear errors."""
  from xcoder_jax.data import readers

  files = readers.expand_inputs(spec, what="shard")
  shards = [f for f in files if not os.path.basename(f) == MANIFEST]
  bad = [f for f in shards if SHARD_SUFFIX not in os.path.basename(f)]
  if bad:
    raise ValueError(
      f"not ArrayRecord shards: {bad[:3]}; convert JSONL/Parquet first with "
      "python -m launch.make_shards --input=FILE --output=DIR"
    )
  if not shards:
    raise FileNotFoundError(
      f"no ArrayRecord shards found for {spec!r}; build them with python -m launch.make_shards"
    )
  return shards


def open_shards(files: str | list[str], kind: str, unit: str = "records"):
  """(paths, Grain source) of non-empty, readable shards; `kind` ("RL", "DPO") and `unit`
  ("records", "pairs") name them in the errors."""
  import grain

  paths = shard_files(files)
  try:
    source = grain.sources.ArrayRecordDataSource(paths)
  except Exception as e:  # array_record raises bare RuntimeErrors for unreadable files
    raise ValueError(f"cannot read {kind} shards {paths[:3]}: {e}; rebuild them") from e
  if len(source) == 0:
    raise ValueError(f"the {kind} shards {paths[:3]} hold no {unit}; rebuild them")
  return paths, source
