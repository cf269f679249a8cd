"""Seed ingestion: TACO-style and CodeContests-style records from JSONL or Parquet."""

from __future__ import annotations

import collections
import glob
import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

from data_pipeline.records import Seed
from data_pipeline.stage import Dropped, StageReport

_CODECONTESTS_PYTHON = (1, 3)  # PYTHON2, PYTHON3 in CodeContests' Language enum


def stable_bucket(key: str, buckets: int) -> int:
  """A host-independent hash bucket (Python's hash() is salted per process)."""
  return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) % buckets


def seed_patterns(value) -> list[str]:
  """``config.seeds`` as a list of globs: comma-separated in a string (what a flag can set), a
  JSON list string, or a list."""
  if isinstance(value, str):
    text = value.strip()
    if text.startswith("["):
      try:
        value = json.loads(text)
      except json.JSONDecodeError as error:
        raise ValueError(f"config.seeds {text!r} is not a JSON list ({error.msg})") from None
    else:
      value = text.split(",")
  patterns = [p.strip() for p in value if isinstance(p, str) and p.strip()]
  if len(patterns) != len(value):
    raise ValueError(
      f"config.seeds {value!r} must name files: comma-separated globs, e.g. "
      "--config.seeds='seeds/*.jsonl,more/*.parquet'"
    )
  return patterns


def _rows(path: str) -> Iterator[tuple[str, dict[str, Any]]]:
  """(where, row) for every record; a record that is not a JSON object names its line."""
  if path.endswith(".parquet"):
    import pyarrow
    import pyarrow.parquet as pq

    try:
      table = pq.read_table(path)
    except (OSError, ValueError, pyarrow.ArrowException) as error:
      raise ValueError(f"seed file {path} is not a readable Parquet file: {error}") from None
    for index, row in enumerate(table.to_pylist()):
      yield f"{path} row {index}", row
    return
  with open(path) as f:
    for number, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        row = json.loads(line)
      except json.JSONDecodeError as error:
        raise ValueError(f"seed file {path} line {number}: not JSON ({error})") from None
      if not isinstance(row, dict):
        raise ValueError(
          f"seed file {path} line {number}: a seed must be a JSON object, got {type(row).__name__}"
        )
      yield f"{path} line {number}", row


def _maybe_json(value):
  return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value


def _taco(row: dict, rid: str) -> Seed:
  """Stdin/stdout rows only: call-based rows (``fn_name``, argument lists as inputs) have
  no stdin text, and seed validation runs seeds as stdio programs."""
  solutions = _maybe_json(row.get("solutions")) or []
  io = _maybe_json(row.get("input_output")) or {}
  if io.get("fn_name") or row.get("fn_name"):
    raise Dropped("call_based_tests")
  pairs = list(zip(io.get("inputs", []), io.get("outputs", [])))
  if not all(_is_text(i) and _is_text(o) for i, o in pairs):
    raise Dropped("non_text_tests")
  tests = [{"input": _as_text(i), "output": _as_text(o)} for i, o in pairs]
  return Seed(rid, row.get("question") or "", list(solutions), tests, row.get("source") or "taco")


def _is_text(value) -> bool:
  """A string, or a list of lines (some TACO rows split stdin text into lines)."""
  return isinstance(value, str) or (
    isinstance(value, list) and all(isinstance(line, str) for line in value)
  )


def _as_text(value) -> str:
  return "\n".join(value) if isinstance(value, list) else value


def _codecontests(row: dict, rid: str) -> Seed:
  solutions = row.get("solutions") or {}
  if isinstance(solutions, dict):
    pairs = zip(solutions.get("language", []), solutions.get("solution", []))
    solutions = [code for language, code in pairs if language in _CODECONTESTS_PYTHON]
  tests = []
  for split in ("public_tests", "private_tests", "generated_tests"):
    block = row.get(split) or {}
    tests += [
      {"input": i, "output": o} for i, o in zip(block.get("input", []), block.get("output", []))
    ]
  return Seed(rid, row.get("description") or "", list(solutions), tests, "codecontests")


def read_seeds(
  patterns: list[str], host_index: int = 0, num_hosts: int = 1
) -> tuple[list[Seed], StageReport]:
  """Reads every seed file, keeps this host's slice, and counts what was refused and why.
  A malformed record stops the read naming its file and line: it is a broken file, not data
  to drop quietly."""
  report, drops = StageReport("seeds"), collections.Counter()
  files = sorted({f for pattern in patterns for f in glob.glob(pattern)})
  if not files:
    raise FileNotFoundError(
      f"no seed files match {patterns}; point --config.seeds at "
      "TACO/CodeContests-style JSONL or Parquet files (comma-separated globs)"
    )
  seeds = []
  for path in files:
    stem = os.path.splitext(os.path.basename(path))[0]
    for row_index, (where, row) in enumerate(_rows(path)):
      rid = str(row.get("id") or row.get("name") or f"{stem}-{row_index}")
      if stable_bucket(rid, num_hosts) != host_index:
        continue
      report.num_in += 1
      try:
        seed = _codecontests(row, rid) if "description" in row else _taco(row, rid)
      except Dropped as drop:
        drops[drop.reason] += 1
        continue
      except (ValueError, TypeError, AttributeError) as error:
        raise ValueError(f"seed file {where}: malformed seed record ({error})") from None
      if not isinstance(seed.statement, str) or not all(isinstance(x, str) for x in seed.solutions):
        raise ValueError(f"seed file {where}: the statement and solutions must be text")
      if not seed.statement.strip():
        drops["no_statement"] += 1
      elif not seed.solutions:
        drops["no_python_solution"] += 1
      else:
        seeds.append(seed)
  report.drops, report.num_out = drops, len(seeds)
  return seeds, report
