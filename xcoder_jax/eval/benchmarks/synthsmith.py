"""The held-out split of SynthSmith's output (``DIR/heldout/rl/*.array_record``).

Records are ``data_pipeline/outputs.py:rl_record`` JSON: ``id, prompt, kind`` (stdio or
leetcode), ``fn_name, style, tests`` ([{input, output}]: stdin text or a JSON argument list,
and the voted output), ``difficulty`` (1 - mean vote agreement). Graded with X-Coder's reward
rules: stdout equal to the expected output after stripping surrounding whitespace; call-style
results equal as JSON values; every test must pass.

The split is SynthSmith's, decided when the tasks were made and carried by every record
(``xcoder_jax.data.split``): only records marked ``heldout`` are scored, and every trainer
skips them by default. Output written before the split existed is refused with the command
that adds it.
"""

from __future__ import annotations

import glob
import json
import os

from xcoder_jax import judge
from xcoder_jax.data import split
from xcoder_jax.eval.types import (
  BENCHMARKS,
  Benchmark,
  EvalInputError,
  Grader,
  LoadOptions,
  Problem,
  refuse_dates,
)
from xcoder_jax.judge import tasks

TIME_LIMIT_S = 10.0  # the recipe's judge limits for RL rewards
MEMORY_MB = 256


def difficulty_label(difficulty: float) -> str:
  """Thirds of SynthSmith's [0, 1] difficulty (1 - vote agreement)."""
  return "easy" if difficulty < 1 / 3 else "medium" if difficulty < 2 / 3 else "hard"


class XcoderGrader(Grader):
  """X-Coder's reward checks: exact stripped stdout, or equal JSON return values."""

  def __init__(self, record: dict, time_limit_s: float, memory_mb: int):
    self.kind, self.fn_name = record["kind"], record.get("fn_name")
    self.tests = [tasks.test_case(t, self.kind) for t in record["tests"]]
    self.num_tests = len(self.tests)
    self.time_limit_s, self.memory_mb = time_limit_s, memory_mb

  def submission(self, code: str) -> judge.Submission:
    return judge.Submission(
      code,
      self.tests,
      kind=self.kind,
      fn_name=self.fn_name,
      checker="exact",
      early_exit=True,
      time_limit_s=self.time_limit_s,
      memory_mb=self.memory_mb,
    )


def _check(record: object) -> dict:
  """An RL task record (`xcoder_jax.data.rl` schema) that also names its kind and difficulty."""
  from xcoder_jax.data.rl import validate_rl_record  # the data package imports Grain

  record = validate_rl_record(record, "record")
  missing = [key for key in ("kind", "difficulty") if key not in record]
  if missing:
    raise ValueError(f"missing field(s) {missing}")
  return record


def _shard_spec(data: str) -> str:
  """The held-out RL shards of a SynthSmith output directory (one host or several), or the
  shard files given."""
  for pattern in ("heldout/rl", "host*/heldout/rl"):
    found = sorted(glob.glob(os.path.join(data, pattern)))
    if found:
      return ",".join(found)
  if glob.glob(os.path.join(data, "rl")) or glob.glob(os.path.join(data, "host*", "rl")):
    raise EvalInputError(
      f"{data} has RL shards but no held-out split (heldout/rl); {split.MIGRATE}"
    )
  return data


def read_records(data: str) -> list[dict]:
  from array_record.python.array_record_module import ArrayRecordReader

  from xcoder_jax.data import shards  # the data package imports Grain: only when needed

  try:
    paths = shards.shard_files(_shard_spec(data))
  except (FileNotFoundError, ValueError) as error:
    raise EvalInputError(
      f"no SynthSmith RL shards at {data!r} ({error}); pass the --output directory of "
      "python -m launch.synthsmith"
    ) from None
  records = []
  for path in paths:
    reader = ArrayRecordReader(path)
    try:
      for index, raw in enumerate(reader.read_all()):
        try:
          records.append(_check(json.loads(raw)))
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as error:
          raise EvalInputError(
            f"{path} record {index}: not a SynthSmith RL task ({error}); rebuild it with "
            "python -m launch.synthsmith"
          ) from None
    finally:
      reader.close()
  return records


@BENCHMARKS.register("synthsmith")
def load(data: str | None, options: LoadOptions) -> Benchmark:
  refuse_dates("synthsmith", options)
  if not data:
    raise EvalInputError("--benchmark=synthsmith needs --data=DIR (a SynthSmith output directory)")
  try:
    records = [r for r in read_records(data) if split.keeps(r, "eval", where=data)]
  except split.SplitError as error:
    raise EvalInputError(str(error)) from None
  if not records:
    raise EvalInputError(
      f"--data={data} holds no held-out tasks (every record is split 'train'); evaluate a "
      "SynthSmith output directory whose heldout/rl has tasks, or raise its "
      "split.heldout_fraction"
    )
  limits = {
    "time_limit_s": options.time_limit_s or TIME_LIMIT_S,
    "memory_mb": options.memory_mb or MEMORY_MB,
  }
  problems = []
  for record in sorted(records, key=lambda r: r["id"]):
    try:
      grader = XcoderGrader(record, **limits)
    except json.JSONDecodeError as error:
      raise EvalInputError(
        f"task {record['id']!r}: a call-style test is not JSON ({error}); rebuild the shards"
      ) from None
    problems.append(
      Problem(
        question_id=record["id"],
        messages=({"role": "user", "content": record["prompt"]},),
        grader=grader,
        difficulty=difficulty_label(float(record["difficulty"])),
        platform=record.get("style"),
      )
    )
  return Benchmark(
    name="synthsmith",
    problems=problems,
    extraction="xcoder",
    grading="synthsmith: X-Coder reward rules (exact stripped stdout, equal JSON values)",
    settings={**limits, "data": data, "split": split.HELDOUT, "split_rule": split.RULE},
  )
