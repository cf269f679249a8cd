"""GRPO with judge rewards on one host or many (run the same command on every host).

  python -m launch.rl --config=configs/rl/tiny.py --workdir=DIR [--config.train.steps=N]
  python -m launch.rl --config=configs/rl/qwen25_coder_7b.py --workdir=/ckpt/xcoder-rl \
    --config.init.path=/ckpt/xcoder-sft --config.data.train_files='/data/rl/*.array_record'

Appends one JSON object per step to DIR/metrics.jsonl (reward_mean, pass_rate, logprob_gap,
entropy, clip fractions, timings, ...); checkpoints go to DIR/checkpoints and a rerun with the
same --workdir resumes at the same step, data position and sampling seeds. With
warmup.sft_steps > 0 the run first fine-tunes on warmup.train_files in DIR/warmup and starts
GRPO from there (the tiny config does, so that its random model writes code blocks at all).
"""

from __future__ import annotations

import os

import ml_collections
from absl import flags, logging
from ml_collections import config_flags

from configs.rl import base
from launch import common
from xcoder_jax.data.shards import shard_files
from xcoder_jax.rl import grpo, toy
from xcoder_jax.train import sft
from xcoder_jax.train.checkpointing import has_step

TOY = "toy"  # data.train_files / warmup.train_files value: the toy task set

_CONFIG = config_flags.DEFINE_config_file(
  "config",
  None,
  "An ml_collections config file, e.g. configs/rl/tiny.py; override any key with "
  "--config.section.key=value.",
  lock_config=True,
)
_WORKDIR = flags.DEFINE_string(
  "workdir",
  None,
  "Run directory: checkpoints, metrics, TensorBoard events, the warm-up run. Reused to resume.",
  required=True,
)
flags.mark_flag_as_required("config")
flags.adopt_module_key_flags(common)


def resolve_toy_data(config: ml_collections.ConfigDict, workdir: str) -> ml_collections.ConfigDict:
  """Writes the toy task set under WORKDIR/toy_data where a config names it."""
  if TOY not in (config.data.train_files, config.data.eval_files, config.warmup.train_files):
    return config
  paths = toy.write_toy_shards(os.path.join(workdir, "toy_data"))
  config = ml_collections.ConfigDict(config.to_dict())
  for section, key, path in (
    (config.data, "train_files", paths["rl"]),
    (config.data, "eval_files", paths["rl"]),
    (config.warmup, "train_files", paths["warmup"]),
  ):
    if section[key] == TOY:
      section[key] = path
  return config


def warm_start(config: ml_collections.ConfigDict, workdir: str) -> ml_collections.ConfigDict:
  """Runs the SFT warm-up (resumable, skipped once done); GRPO then starts from its end."""
  warmup = config.warmup
  if warmup.sft_steps <= 0:
    return config
  if not warmup.train_files:
    raise ValueError("warmup.sft_steps > 0 needs --config.warmup.train_files=SHARDS")
  warm_dir = os.path.join(workdir, "warmup")
  if not has_step(warm_dir, warmup.sft_steps):
    logging.info("warm-up: %d SFT steps in %s", warmup.sft_steps, warm_dir)
    sft.train(base.warmup_sft_config(config), warm_dir)
  config = ml_collections.ConfigDict(config.to_dict())
  config.init.update(source="checkpoint", path=warm_dir)
  return config


def prepare(config: ml_collections.ConfigDict, workdir: str) -> ml_collections.ConfigDict:
  """The config GRPO runs with: toy data written, warm start done."""
  return warm_start(resolve_toy_data(config, workdir), workdir)


def main(argv):
  common.start_trainer(argv)
  with common.user_errors("rl"):
    config = _CONFIG.value
    base.validate(config)
    grpo.check_config(config)
    common.check_batch(config, ["rl.prompts_per_step", "rl.num_generations", "rl.num_minibatches"])
    if config.data.train_files != TOY:  # a missing task file fails here, before any work
      shard_files(config.data.train_files)
    config = prepare(config, _WORKDIR.value)
  last = grpo.train(config, _WORKDIR.value)
  print({k: round(v, 4) for k, v in last.items()})


if __name__ == "__main__":
  common.run(main, "rl")
