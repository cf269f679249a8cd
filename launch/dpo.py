"""DPO on preference pairs, on one host or many (run the same command on every host).

  python -m launch.dpo --config=configs/dpo/tiny.py --workdir=DIR [--config.train.steps=N]
  python -m launch.dpo --config=configs/dpo/qwen25_coder_7b.py --workdir=/ckpt/xcoder-dpo \
    --config.init.path=/ckpt/xcoder-sft --config.data.train_files=/data/synthsmith/dpo

Starts from the SFT result (init.*), which is also the frozen reference. Pairs: SynthSmith's
DPO shards, or a JSONL/Parquet of (prompt, chosen, rejected) (xcoder_jax/data/dpo.py).
Appends one JSON object per logged step to DIR/metrics.jsonl (loss, reward_margin,
reward_accuracy, chosen/rejected rewards and log-probs, eval_* on held-out pairs);
checkpoints go to DIR/checkpoints and a rerun with the same --workdir resumes exactly.
"""

from __future__ import annotations

from absl import flags
from ml_collections import config_flags

from configs.dpo import base
from launch import common
from xcoder_jax.dpo import trainer

_CONFIG = config_flags.DEFINE_config_file(
  "config",
  None,
  "An ml_collections config file, e.g. configs/dpo/tiny.py; override any key with "
  "--config.section.key=value.",
  lock_config=True,
)
_WORKDIR = flags.DEFINE_string(
  "workdir",
  None,
  "Run directory: checkpoints, metrics, reference log-probs. Reused to resume.",
  required=True,
)
flags.mark_flag_as_required("config")
flags.adopt_module_key_flags(common)


def main(argv):
  common.start_trainer(argv)
  with common.user_errors("dpo"):
    config = _CONFIG.value
    base.validate(config)
    trainer.check_config(config)
    common.check_batch(config, ["data.global_batch_size"])
    config = trainer.resolve_data_files(config, _WORKDIR.value)
  last = trainer.train(config, _WORKDIR.value)
  print({k: round(v, 4) for k, v in last.items()})


if __name__ == "__main__":
  common.run(main, "dpo")
