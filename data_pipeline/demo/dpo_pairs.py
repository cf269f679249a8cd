"""Re-writes the demo DPO pairs asset (the tiny DPO config trains on it;
`python -m launch.demo_assets --dpo_pairs`).

Runs the SynthSmith demo (configs/synthsmith/demo.py, replayed teacher) in a scratch
directory and writes every pair of both sides of its split (OUT/dpo and OUT/heldout/dpo),
sorted by id, to xcoder_jax/data/assets/demo_dpo_pairs.jsonl (schema: data_pipeline/pairs.py);
each pair's ``split`` field says which side it is on.
"""

import json
import os
import tempfile

import grain
import ml_collections

from data_pipeline import outputs, pipeline
from xcoder_jax import fileio
from xcoder_jax.data import shards, split

ASSET = os.path.join(
  os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
  "xcoder_jax",
  "data",
  "assets",
  "demo_dpo_pairs.jsonl",
)


def read_pairs(run_dir: str, splits=split.SPLITS) -> list[dict]:
  """Every pair of the given sides of a run's split, sorted by id."""
  dirs = [outputs.split_dir(run_dir, side, "dpo") for side in splits]
  source = grain.sources.ArrayRecordDataSource(shards.shard_files(",".join(dirs)))
  return sorted((json.loads(source[i]) for i in range(len(source))), key=lambda r: r["id"])


def write_asset(run_dir: str, path: str = ASSET) -> int:
  pairs = read_pairs(run_dir)
  fileio.write_jsonl_atomic(path, pairs)
  return len(pairs)


def rewrite_asset(config: ml_collections.ConfigDict) -> int:
  """Runs the demo `config` in a scratch directory; returns how many pairs it wrote."""
  with tempfile.TemporaryDirectory() as scratch:
    config = ml_collections.ConfigDict(config.to_dict())
    config.validate_on_seeds = False  # the pairs come from the generated tasks only
    pipeline.run(config, scratch)
    return write_asset(scratch)
