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
  # 36 wider layers: keeping the attention output too would need 83 GiB per device on the
  # 128-GPU fsdp mesh (benchmarks/memory.py); q/k/v alone take it to 65 GiB, under 80 GB.
  c.model.remat_policy = "save_qkv_proj"
  # TPU v5e: the overrides in the note at the end of qwen25_coder_7b.py (12.9 of 14.9 GiB).
  return c
