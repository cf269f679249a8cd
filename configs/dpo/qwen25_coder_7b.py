"""DPO of Qwen2.5-Coder-7B after X-Coder's SFT, on SynthSmith's pairs, 8 GPUs per host.

  python -m launch.dpo --config=configs/dpo/qwen25_coder_7b.py --workdir=/ckpt/xcoder-dpo \
    --config.init.path=/ckpt/xcoder-sft --config.data.train_files=/data/synthsmith/dpo \
    --config.data.eval_files=/data/synthsmith/heldout/dpo

Typical DPO settings: beta 0.1, lr 5e-7 with cosine decay, one epoch. The run starts from
the SFT checkpoint (init.source=checkpoint; use init.source=hf for an HF directory), which is
also the frozen reference; its log-probs over the pairs are computed once into WORKDIR.
"""

from configs.dpo import base


def get_config():
  c = base.get_config()
  c.model.preset = "qwen2.5-coder-7b"
  c.model.dtype = "bfloat16"
  c.model.param_dtype = "float32"  # fp32 master weights
  c.model.remat_policy = "full"
  c.model.attention_impl = "cudnn"
  c.init.source = "checkpoint"
  c.init.path = ""  # the SFT work directory (or an HF dir with init.source=hf); required
  c.mesh.fsdp = -1
  c.data.tokenizer = ""  # the init source's tokenizer
  c.data.seq_len = 16384  # prompt + one response; longer pairs are cut (data.truncate)
  c.data.global_batch_size = 64  # pairs per step (128 sequences)
  c.data.num_epochs = 1
  c.dpo.loss = "sigmoid"
  c.dpo.beta = 0.1
  c.dpo.reference = "precompute"
  c.optimizer.lr = 5e-7
  c.optimizer.schedule = "cosine"
  c.optimizer.warmup_ratio = 0.1
  c.optimizer.weight_decay = 0.0
  c.optimizer.clip_norm = 1.0
  # One epoch: set to (training pairs) / 64 so the cosine ends with the data; a larger value
  # stops when the pairs are used up (data.num_epochs=1), before the decay is complete.
  c.train.steps = 1000
  c.train.grad_accum = 8
  c.train.loss_chunk = 4096
  c.train.log_every = 10
  c.train.eval_every = 100
  c.train.eval_batches = 8
  c.train.save_every = 200
  c.train.keep = 3
  return c
