"""SynthSmith: synthetic competitive-programming tasks, solutions and verified tests.

  python -m launch.synthsmith --config=configs/synthsmith/demo.py --output=DIR
  python -m launch.synthsmith --config=configs/synthsmith/base.py --output=DIR \
      --config.seeds='["seeds/*.parquet"]' --config.teacher.base_url=http://HOST:30000/v1 \
      --shard_index=I --num_shards=N          # on each of N hosts

Writes DIR/sft and DIR/rl (ArrayRecord shards), DIR/{sft,rl}_sample.jsonl, DIR/report.json
(the funnel: per stage `in`, `out` and drop reasons) and DIR/funnel.png. With --num_shards
> 1 each host works on its slice of the seeds under DIR/hostIIIIIofNNNNN/. Rerunning the same
command on the same DIR resumes: completed items are never redone. The demo config replays a
recorded teacher (data_pipeline/demo/teacher_recording.jsonl), so it runs offline.
"""

from __future__ import annotations

import json

from absl import flags
from ml_collections import config_flags

from data_pipeline import pipeline
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
flags.declare_key_flag("debug")


def main(argv):
  del argv
  if _CONFIG.value is None:
    common.fail("synthsmith", "--config is required, e.g. --config=configs/synthsmith/demo.py")
  if _SHARD_INDEX.value >= _NUM_SHARDS.value:
    common.fail(
      "synthsmith",
      f"--shard_index={_SHARD_INDEX.value} must be below --num_shards={_NUM_SHARDS.value}",
    )
  with common.user_errors("synthsmith"):
    report = pipeline.run(_CONFIG.value, _OUTPUT.value, _SHARD_INDEX.value, _NUM_SHARDS.value)
  print(f"{'stage':<20}{'in':>7}{'out':>7}  drops")
  for row in report["funnel"]:
    drops = ", ".join(f"{k}={v}" for k, v in row["drops"].items())
    print(f"{row['stage']:<20}{row['in']:>7}{row['out']:>7}  {drops}")
  print(
    json.dumps(
      {
        "verification": report["verification"],
        "ground_truth": report["ground_truth"],
        "outputs": report["outputs"],
      }
    )
  )


if __name__ == "__main__":
  common.run(main, "synthsmith")
