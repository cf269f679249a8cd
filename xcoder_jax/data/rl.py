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
``split``          str       optional: ``train`` or ``heldout`` (SynthSmith's split,
                             ``xcoder_jax.data.split``); training skips held-out tasks
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

from xcoder_jax.data import split
from xcoder_jax.data.shards import open_shards

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


def from_source_row(row: Any, where: str, default_id: str) -> dict[str, Any]:
  """A row of our schema, or of X-Coder's released RL Parquet (verl layout: `prompt` as chat
  messages, `input_output` JSON {inputs, outputs[, fn_name]} and `type` "stdin_stdout"), as a
  validated RL record. Call-based rows (LeetCode assert scripts, LiveCodeBench functional
  tasks) are refused by name: the judge has no task kind for assert scripts."""
  if not isinstance(row, Mapping):
    raise RLRecordError(f"{where}: expected an object per row, got {type(row).__name__}")
  if "tests" in row:
    return validate_rl_record({"id": default_id, **row}, where)
  if "input_output" not in row or "prompt" not in row:
    raise RLRecordError(
      f"{where}: neither our RL schema ('prompt', 'tests') nor X-Coder's layout "
      "('prompt', 'input_output'); see xcoder_jax/data/rl.py"
    )
  io = row["input_output"]
  io = json.loads(io) if isinstance(io, str) else io
  if row.get("type", "stdin_stdout") != "stdin_stdout" or (io or {}).get("fn_name"):
    raise RLRecordError(
      f"{where}: only stdin/stdout tasks of X-Coder's layout are supported (got type "
      f"{row.get('type')!r}); filter call-based rows out first"
    )
  inputs, outputs = io.get("inputs", []), io.get("outputs", [])
  if len(inputs) != len(outputs):
    raise RLRecordError(f"{where}: {len(inputs)} test inputs but {len(outputs)} outputs")
  prompt = row["prompt"]
  if not isinstance(prompt, str):  # chat messages: the user turn is the task
    prompt = next((m["content"] for m in reversed(list(prompt)) if m["role"] == "user"), "")
  record = {
    "id": str(row.get("id", default_id)),
    "prompt": prompt,
    "kind": "stdio",
    "fn_name": None,
    "tests": [{"input": str(i), "output": str(o)} for i, o in zip(inputs, outputs, strict=True)],
    "source": row.get("prompter_type") or row.get("data_source") or "xcoder",
  }
  return validate_rl_record(record, where)


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
  role: str = split.TRAIN,
  allow_heldout: bool = False,
) -> grain.DatasetIterator:
  """Per-host lists of `prompts_per_host` records of the split `role` uses (training skips
  held-out tasks unless `allow_heldout`; "eval" reads held-out ones); `get_state`/`set_state`
  for resume."""
  paths, source = open_shards(files, "RL")
  keep = split.shard_filter(
    paths, source, _Decode().map, role, allow_heldout, f"RL tasks {paths[:3]}"
  )
  ds = grain.MapDataset.source(source).shuffle(seed=seed)
  ds = ds.repeat(num_epochs if num_epochs > 0 else None)
  ds = ds[process_index::process_count].map(_Decode()).filter(keep).to_iter_dataset()
  return iter(ds.batch(prompts_per_host, drop_remainder=True, batch_fn=list))
