"""Supervised fine-tuning on one host or many (run the same command on every host).

  python -m launch.train --config=configs/sft/tiny.py --workdir=DIR [--config.train.steps=N]

Rerunning with the same --workdir resumes from its newest good checkpoint. Metrics go to
DIR/metrics.jsonl and DIR/tensorboard; checkpoints to DIR/checkpoints (exportable with
`python -m launch.export_hf --checkpoint=DIR --output=HF_DIR`).
"""

from __future__ import annotations

from absl import flags, logging
from ml_collections import config_flags

from configs.sft import base
from launch import common
from xcoder_jax.train import sft

_CONFIG = config_flags.DEFINE_config_file(
  "config",
  None,
  "An ml_collections config file, e.g. configs/sft/tiny.py; override any "
  "key with --config.section.key=value.",
  lock_config=True,
)
_WORKDIR = flags.DEFINE_string(
  "workdir",
  None,
  "Run directory: checkpoints, metrics, TensorBoard events. Reused to resume.",
  required=True,
)
flags.mark_flag_as_required("config")
flags.adopt_module_key_flags(common)


def main(argv):
  common.start_trainer(argv)
  with common.user_errors("train"):
    config = _CONFIG.value
    base.validate(config)
    common.check_batch(config, ["data.global_batch_size"])
  last = sft.train(config, _WORKDIR.value)
  logging.info("finished: %s", last)
  print({k: round(v, 4) for k, v in last.items()})


if __name__ == "__main__":
  common.run(main, "train")
