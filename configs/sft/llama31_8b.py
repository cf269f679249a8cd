"""X-Coder's SFT recipe (../shared/RECIPE.md) on Llama-3.1-8B-Instruct, 8 GPUs per host: the
Qwen2.5-Coder-7B settings with the Llama family's checkpoint (128K context by llama3 RoPE
scaling; its chat template ends turns with <|eot_id|>, read from the tokenizer's files).

  python -m launch.train --config=configs/sft/llama31_8b.py --workdir=/ckpt/xcoder-sft-llama \
    --config.init.path=/models/Llama-3.1-8B-Instruct \
    --config.data.train_files='/data/xcoder-sft/train-*.array_record'
"""

from configs.sft import qwen25_coder_7b


def get_config():
  c = qwen25_coder_7b.get_config()
  c.model.preset = "llama3.1-8b"
  c.init.path = ""  # the Llama-3.1-8B-Instruct HF directory (required)
  # Qwen3-8B's remat (as wide, 36 layers: keeping the attention output too took XLA 83 GiB per
  # device): q/k/v only. launch.plan: 33.9 GiB per device on 128 x H20, 349 h at MFU 0.4
  # (not yet checked against XLA's memory analysis, benchmarks/memory.py).
  c.model.remat_policy = "save_qkv_proj"
  return c
