"""X-Coder's SFT recipe on Qwen3-8B-Base (../shared/RECIPE.md), 8 GPUs per host.

  python -m launch.train --config=configs/sft/qwen3_8b.py --workdir=/ckpt/xcoder-sft-qwen3 \
    --config.init.path=/models/Qwen3-8B-Base \
    --config.data.train_files='/data/xcoder-sft/train-*.array_record'
"""

from configs.sft import qwen25_coder_7b


def get_config():
  c = qwen25_coder_7b.get_config()
  c.model.preset = "qwen3-8b"
  c.init.path = ""  # the Qwen3-8B-Base HF directory (required)
  return c
