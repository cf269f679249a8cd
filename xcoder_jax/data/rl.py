"""RL tasks: the record schema, validation, and the checkpointable prompt iterator.

An RL record is one JSON object (SynthSmith writes them to `DIR/rl/*.array_record`;
`launch.make_shards --kind=rl` converts JSONL/Parquet, including X-Coder's released layout):

=================  ========  =========================================================
``id``             str       unique task id
``prompt``         str       the user message (statement + answer-format instructions)
``kind``           str       ``stdio`` (stdin -> stdout), ``leetcode`` (``Solution().fn``)
                             or ``function`` (a top-level ``fn_name``)
``fn_name``        str|null  the entry point of ``leetcode``/``function`` tasks
``tests``          list      ``{"input": str, "output": str}``; call-style inputs are JSON
                             argument lists, outputs the JSON of the return value
others             any       kept and passed to reward functions (difficulty, style, ...)
=================  ========  =========================================================

The iterator yields per-host lists of records: seeded shuffle per epoch, host slice, a
fixed number of prompts per host per step; its position checkpoints with the train state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import grain

from xcoder_jax.data.shards import shard_files

TASK_KINDS = ("stdio", "leetcode", "function")


class RLRecordError(ValueError):
  pass


def validate_rl_record(record: Any, where: str = "record") -> dict[str, Any]:
  """Returns the record if it follows the schema; raises RLRecordError naming the field."""
  if not isinstance(record, Mapping):
    raise RLRecordError(f"{where}: expected a JSON object, got {type(record).__name__}")
  problems = []
  for key in ("id", "prompt"):
    if not isinstance(record.get(key), str) or not record.get(key):
      problems.append(f"'{key}' must be a non-empty string")
  kind = record.get("kind", "stdio")
  if kind not in TASK_KINDS:
    problems.append(f"'kind' must be one of {TASK_KINDS}, got {kind!r}")
  elif kind != "stdio" and not record.get("fn_name"):
    problems.append(f"kind {kind!r} needs 'fn_name' (the entry point)")
  tests = record.get("tests")
  if not isinstance(tests, list) or not tests:
    problems.append("'tests' must be a non-empty list of {input, output} objects")
  else:
    for i, test in enumerate(tests):
      if not isinstance(test, Mapping) or not all(
        isinstance(test.get(k), str) for k in ("input", "output")
      ):
        problems.append(f"tests[{i}] must have string 'input' and 'output'")
        break
  if problems:
    rid = record.get("id", "?")
    raise RLRecordError(f"{where} (id {rid!r}): " + "; ".join(problems))
  return dict(record)


class _Decode(grain.transforms.Map):
  def map(self, raw: bytes) -> dict[str, Any]:
    return validate_rl_record(json.loads(raw), "RL shard record")


def make_prompt_iterator(
  files: str,
  prompts_per_host: int,
  seed: int,
  num_epochs: int,
  process_index: int,
  process_count: int,
) -> grain.DatasetIterator:
  """Per-host lists of `prompts_per_host` records; `get_state`/`set_state` for resume."""
  paths = shard_files(files)
  try:
    source = grain.sources.ArrayRecordDataSource(paths)
  except Exception as e:  # array_record raises bare RuntimeErrors for unreadable files
    raise ValueError(f"cannot read RL shards {paths[:3]}: {e}; rebuild them") from e
  if len(source) == 0:
    raise ValueError(f"the RL shards {paths[:3]} hold no records; rebuild them")
  ds = grain.MapDataset.source(source).shuffle(seed=seed)
  ds = ds.repeat(num_epochs if num_epochs > 0 else None)
  ds = ds[process_index::process_count].map(_Decode())
  ds = ds.batch(prompts_per_host, drop_remainder=True, batch_fn=list)
  return iter(ds.to_iter_dataset())
