"""Qwen2.5-Coder-7B SFT at 128K tokens per row: X-Coder's recipe (qwen25_coder_7b.py) with one
sequence spread over 8 devices by context parallelism (xcoder_jax/models/context_parallel.py).

  python -m launch.train --config=configs/sft/qwen25_coder_7b_128k.py --workdir=/ckpt/xcoder-128k \
    --config.init.path=/models/Qwen2.5-Coder-7B-Instruct \
    --config.data.train_files='/data/long/train-*.array_record'
  python -m launch.plan --config=configs/sft/qwen25_coder_7b_128k.py    # memory per device

RoPE: plain rotary embeddings at the checkpoint's theta (1e6, from the preset / config.json).
Qwen2.5-Coder was pretrained to 32K and its model card reaches 128K at inference with YaRN
(factor 4 over 32,768 positions), which xcoder_jax.models does not implement: here positions
past 32K are extrapolated with unscaled RoPE, so fine-tuning at this length has to teach the
model those positions (as long-context continued training does), and 128K quality out of the
box is not expected. The memory and compute of a step do not depend on the RoPE variant.
"""

from configs.sft import qwen25_coder_7b


def get_config():
  c = qwen25_coder_7b.get_config()
  c.data.seq_len = 131072
  # 8-way context parallelism inside a host (NVLink): each GPU holds 16K tokens of the row and
  # all-gathers keys/values per layer; FSDP over the rest (16 groups on 128 GPUs).
  c.mesh.sequence = 8
  c.mesh.fsdp = -1
  # Flash attention (Pallas, GPU) inside the context-parallel wrapper: no [16K x 128K] scores
  # or mask in memory. On TPU: --config.model.attention_impl=chunked.
  c.model.attention_impl = "flash"
  c.model.remat_policy = "full"
  c.train.loss_chunk = 4096  # a multiple of mesh.sequence: every chunk stays split
  # 128 rows over 16 fsdp groups is 8 rows per device: one at a time keeps a step in memory.
  c.train.grad_accum = 8
  return c
