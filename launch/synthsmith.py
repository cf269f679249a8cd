"""SynthSmith: synthetic competitive-programming tasks, solutions and verified tests.

  python -m launch.synthsmith --config=configs/synthsmith/demo.py --output=DIR
  python -m launch.synthsmith --config=configs/synthsmith/base.py --output=DIR \
      --config.seeds='seeds/*.parquet,more/*.jsonl' --config.teacher.base_url=http://HOST:30000/v1 \
      --shard_index=I --num_shards=N          # on each of N hosts
  python -m launch.synthsmith --config=... --output=DIR --runner=ray [--ray_address=HEAD:6379]

Writes DIR/sft and DIR/rl (ArrayRecord shards), DIR/{sft,rl}_sample.jsonl, DIR/report.json
(the funnel: per stage `in`, `out` and drop reasons) and DIR/funnel.png. With --num_shards
> 1 each host works on its slice of the seeds under DIR/hostIIIIIofNNNNN/. Rerunning the same
command on the same DIR resumes: completed items are never redone. A rerun with settings that
change results (e.g. --config.solutions.num_candidates) is refused naming them; add
--config.redo_changed=True to redo the changed stages and those after them. The demo config
replays a recorded teacher (data_pipeline/demo/teacher_recording.jsonl), so it runs offline.

With --runner=ray the items of every stage go to a Ray cluster (one worker per node, each
item to whichever node has a free thread; data_pipeline/ray_runner.py) while this process
stores the results: the outputs are byte-identical to a local run's, a node lost mid-stage
only gives its items in flight to the others, and a rerun after this process dies resumes.
DIR must be on a file system every node sees when the teacher or seeds are files.

Exit status: 0 done; 2 bad input or settings (one line on stderr); 3 the teacher failed its
check before the first stage, or an outage left a stage unfinished: rerun the same command
once the teacher answers and it resumes.

DPO preference pairs (schema in data_pipeline/pairs.py, options --config.pairs.*) go to
DIR/dpo and DIR/dpo_sample.jsonl, counted in the funnel's dpo_pairs row.

  python -m launch.synthsmith --config=... --output=DIR --pairs_only

(re)builds only the DPO pairs of a finished run in DIR (e.g. with other --config.pairs.*
options) from its stored candidates and verification: no teacher call, no new vote. Runs
written before verification kept per-candidate outcomes have their candidates graded again
on the verified tests by the judge (the log says so).
"""

from __future__ import annotations

import json
import sys

from absl import flags
from ml_collections import config_flags

from data_pipeline import pairs, pipeline
from data_pipeline.teacher import TeacherError
from launch import common

_CONFIG = config_flags.DEFINE_config_file(
  "config",
  None,
  "SynthSmith config file (configs/synthsmith/*.py); override fields with "
  "--config.FIELD=VALUE, e.g. --config.solutions.num_candidates=16.",
  lock_config=True,
)
_OUTPUT = flags.DEFINE_string(
  "output",
  None,
  "Run directory: shards, report.json, funnel.png and the resumable per-stage work files.",
  required=True,
)
_SHARD_INDEX = flags.DEFINE_integer(
  "shard_index",
  0,
  "This host's index in [0, num_shards): it processes the seeds hashed to it.",
  lower_bound=0,
)
_NUM_SHARDS = flags.DEFINE_integer(
  "num_shards", 1, "Number of hosts splitting the seeds.", lower_bound=1
)
TEACHER_FAILED = 3  # exit status: rerunning the same command resumes
_RUNNER = flags.DEFINE_enum(
  "runner",
  "local",
  ["local", "ray"],
  "Where the items run: threads of this process (local) or the nodes of a Ray cluster (ray).",
)
_RAY_ADDRESS = flags.DEFINE_string(
  "ray_address",
  None,
  "With --runner=ray: the cluster to join (HOST:PORT or 'auto'); unset, the one in "
  "RAY_ADDRESS or else a new cluster on this machine.",
)

_PAIRS_ONLY = flags.DEFINE_bool(
  "pairs_only",
  False,
  "Only (re)build the DPO pairs of the finished run in --output, without the teacher or "
  "verifying again.",
)
flags.declare_key_flag("debug")


def _print_funnel(report: dict) -> None:
  print(f"{'stage':<20}{'in':>7}{'out':>7}  drops")
  for row in report["funnel"]:
    drops = ", ".join(f"{k}={v}" for k, v in row["drops"].items())
    print(f"{row['stage']:<20}{row['in']:>7}{row['out']:>7}  {drops}")
  for reason, what in (("teacher_error", "teacher errors"), ("run:judge_error", "judge failures")):
    where = {r["stage"]: r["drops"][reason] for r in report["funnel"] if r["drops"].get(reason)}
    if where:
      stages = ", ".join(f"{stage} {n}" for stage, n in where.items())
      print(f"{what}: {sum(where.values())} ({stages})")


def _print_decontamination(report: dict) -> None:
  """What training lost to the held-out split and to decontamination, with the rules."""
  found = report.get("decontamination")
  if not found or "removed_from_training" not in found:
    return
  removed, rules = found["removed_from_training"], found["thresholds"]
  per_benchmark = ", ".join(
    f"{name} {count}" for name, count in sorted(found.get("removed_per_benchmark", {}).items())
  )
  print(
    f"split: {found['training_tasks']} training / {found['heldout_tasks']} held-out tasks; "
    f"kept out of training: {removed['heldout']} held out (fraction "
    f"{rules['heldout_fraction']}), {removed['near_duplicate_of_heldout']} near-duplicates of "
    f"held-out tasks ({rules['heldout_near_duplicate']}), {removed['benchmark_overlap']} "
    f"overlapping a benchmark ({rules['benchmark_overlap']}"
    f"{'; ' + per_benchmark if per_benchmark else ''}), {removed['near_duplicate_task']} "
    f"repeating a task ({rules['near_duplicate_task']})"
  )


def _run() -> dict:
  if _PAIRS_ONLY.value:
    return pairs.pairs_only(_CONFIG.value, _OUTPUT.value, _SHARD_INDEX.value, _NUM_SHARDS.value)
  if _RUNNER.value == "local":
    return pipeline.run(_CONFIG.value, _OUTPUT.value, _SHARD_INDEX.value, _NUM_SHARDS.value)
  from data_pipeline.ray_runner import RayRunner

  with RayRunner(_CONFIG.value, _RAY_ADDRESS.value) as runner:
    return pipeline.run(_CONFIG.value, _OUTPUT.value, runner=runner)


def main(argv):
  del argv
  with common.user_errors("synthsmith"):
    if _CONFIG.value is None:
      raise ValueError("--config is required, e.g. --config=configs/synthsmith/demo.py")
    if _SHARD_INDEX.value >= _NUM_SHARDS.value:
      raise ValueError(
        f"--shard_index={_SHARD_INDEX.value} must be below --num_shards={_NUM_SHARDS.value}"
      )
    if _RUNNER.value == "ray" and _NUM_SHARDS.value > 1:
      raise ValueError(
        "--runner=ray hands items to the cluster's nodes itself; drop --num_shards (one "
        "command, on any node of the cluster)"
      )
    try:
      report = _run()
    except TeacherError as error:
      print(f"synthsmith: error: {error}", file=sys.stderr)
      sys.exit(TEACHER_FAILED)
  _print_funnel(report)
  _print_decontamination(report)
  unfinished = report.get("unfinished")
  if unfinished:
    print(
      f"synthsmith: error: stage {unfinished['stage']} is unfinished: the teacher failed on "
      f"{unfinished['retriable']} of its items (see the log above); {unfinished['action']}",
      file=sys.stderr,
    )
    sys.exit(TEACHER_FAILED)
  print(
    json.dumps(
      {
        "verification": report["verification"],
        "ground_truth": report["ground_truth"],
        "decontamination": report.get("decontamination"),
        "outputs": report["outputs"],
      }
    )
  )


if __name__ == "__main__":
  common.run(main, "synthsmith")
