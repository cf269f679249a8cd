"""Qwen2.5-Coder-7B SFT at 128K tokens per row: X-Coder's recipe (qwen25_coder_7b.py) with one
sequence spread over 8 devices by context parallelism (xcoder_jax/models/context_parallel.py).

  python -m launch.train --config=configs/sft/qwen25_coder_7b_128k.py --workdir=/ckpt/xcoder-128k \
    --config.init.path=/models/Qwen2.5-Coder-7B-Instruct \
    --config.data.train_files='/data/long/train-*.array_record'
  python -m launch.plan --config=configs/sft/qwen25_coder_7b_128k.py    # memory per device

RoPE: Qwen2.5-Coder was pretrained to 32K; its model card reaches 128K with YaRN (factor 4
over 32,768 original positions), which xcoder_jax.models implements (models/rope.py, checked
against transformers). YaRN is a property of the checkpoint, like rope_theta (1e6): as the
model card says, add
  "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}
to the HF directory's config.json before training; the import reads it and checkpoints and
exports carry it. Without it the run trains plain RoPE at theta 1e6, extrapolating positions
past 32K. Memory and compute of a step are the same either way.
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
