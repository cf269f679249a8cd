"""X-Coder's SFT of Qwen2.5-Coder-7B-Instruct (../shared/RECIPE.md), 8 GPUs per host.

  python -m launch.train --config=configs/sft/qwen25_coder_7b.py --workdir=/ckpt/xcoder-sft \
    --config.init.path=/models/Qwen2.5-Coder-7B-Instruct \
    --config.data.train_files='/data/xcoder-sft/train-*.array_record'
"""

from configs.sft import base


def get_config():
  c = base.get_config()
  c.model.preset = "qwen2.5-coder-7b"
  c.model.dtype = "bfloat16"
  c.model.param_dtype = "float32"  # fp32 master weights
  # 32k-token rows on 128 x 80 GB GPUs (mesh fsdp=128, one row per device): XLA's compiled
  # step needs 59.5 GiB per device keeping q/k/v and the attention output (docs/benchmarks.md,
  # benchmarks/memory.py; "full" 31.5 GiB), so the backward pass never reruns attention.
  # TPU v5e (16 GB): see the note at the end.
  c.model.remat_policy = "save_attention"
  c.model.attention_impl = "cudnn"
  c.init.source = "hf"
  c.init.path = ""  # the Qwen2.5-Coder-7B-Instruct HF directory (required)
  c.mesh.fsdp = -1  # FSDP over all devices; add --config.mesh.dcn_data=HOSTS for hybrid
  c.data.tokenizer = ""  # defaults to init.path when empty
  c.data.seq_len = 32768
  c.data.global_batch_size = 128
  c.data.num_epochs = 8
  # The recipe's step is 128 sequences, one example each. Packing (several examples per 32k
  # row) is much faster but changes that, and the step count below must then be recomputed
  # from the packed rows per epoch (xcoder_jax.data.packing_stats reports them).
  c.data.packing = False
  c.optimizer.lr = 5e-5
  c.optimizer.schedule = "cosine"
  c.optimizer.warmup_ratio = 0.03
  c.optimizer.weight_decay = 0.1
  c.optimizer.clip_norm = 1.0
  c.train.steps = 23500  # 376k examples x 8 epochs / 128 per step
  c.train.loss_chunk = 4096
  c.train.log_every = 10
  c.train.save_every = 500
  c.train.keep = 3
  # TPU v5e (16 GB, 128 chips): no cuDNN, and one 32k row per chip does not fit; split the
  # sequence over 8 chips (context parallelism): XLA's compiled step takes 10.9 of 14.9 GiB
  # (Qwen3-8B: 12.9) with --config.model.attention_impl=chunked
  # --config.model.attention_chunk=256 --config.model.remat_policy=full
  # --config.mesh.fsdp=16 --config.mesh.sequence=8 --config.train.grad_accum=8
  # --config.train.loss_chunk=1024 (docs/benchmarks.md; not yet run on a chip).
  return c
