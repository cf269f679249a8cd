"""X-Coder's GRPO of its Qwen3-8B SFT model (its verl script for Qwen3): 128 tasks x 8
rollouts per step, one mini-batch, clip 0.2 / 0.2 with dual clip 3.0, low-variance KL to the
starting policy (0.01), repetition penalty 1.15, entropy bonus 0.001, constant lr 3e-7.

  python -m launch.rl --config=configs/rl/qwen3_8b.py --workdir=/ckpt/xcoder-rl-qwen3 \
    --config.init.path=/ckpt/xcoder-sft-qwen3 --config.data.train_files='/data/rl/*' \
    --config.rollout.sglang.server_url=http://node1:30000 --config.rollout.sglang.sync_dir=/shared/sync
"""

from configs.rl import base


def get_config():
  c = base.get_config()
  c.model.preset = "qwen3-8b"
  c.model.dtype = "bfloat16"
  c.model.param_dtype = "float32"
  c.model.remat_policy = "full"
  c.model.attention_impl = "cudnn"
  c.init.source = "checkpoint"
  c.init.path = ""
  c.mesh.fsdp = -1
  c.rl.prompts_per_step = 128
  c.rl.num_generations = 8
  c.rl.max_prompt_len = 2048
  c.rl.max_new_tokens = 30720
  c.rl.clip_low = 0.2
  c.rl.clip_high = 0.2
  c.rl.kl_coef = 0.01
  c.rl.kl_estimator = "k3"
  c.rl.repetition_penalty = 1.15
  c.rl.num_minibatches = 1
  c.rollout.engine = "sglang"
  c.optimizer.lr = 3e-7
  c.train.steps = 1560  # 40k tasks / 128 per step x 5 epochs
  c.train.grad_accum = 32  # one row per device per micro-batch on 32 GPUs
  c.train.loss_chunk = 4096
  c.train.save_every = 20
  return c
