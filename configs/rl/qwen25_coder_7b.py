"""X-Coder's GRPO of its Qwen2.5-Coder-7B SFT model (RECIPE.md; the settings of its verl
script): 512 tasks x 8 rollouts per step at temperature 1.0, 4 mini-batches of 128 tasks, one
epoch, clip 0.2 / 0.28 with dual clip 3.0, entropy bonus 0.001, no KL, constant lr 4e-7, every
sequence weighted equally (X-Coder ran one sequence per micro-batch with token-mean inside),
rollouts from SGLang servers that reload the policy from disk after every step.

  python -m launch.rl --config=configs/rl/qwen25_coder_7b.py --workdir=/ckpt/xcoder-rl \
    --config.init.path=/ckpt/xcoder-sft \
    --config.data.train_files='/data/xcoder-rl/*.array_record' \
    --config.rollout.sglang.server_url=http://node1:30000,http://node2:30000 \
    --config.rollout.sglang.sync_dir=/shared/xcoder-rl-sync
"""

from configs.rl import base


def get_config():
  c = base.get_config()
  c.model.preset = "qwen2.5-coder-7b"
  c.model.dtype = "bfloat16"
  c.model.param_dtype = "float32"
  c.model.remat_policy = "full"
  c.model.attention_impl = "cudnn"
  c.init.source = "checkpoint"  # the SFT run's workdir (or an imported checkpoint)
  c.init.path = ""
  c.mesh.fsdp = -1
  c.rl.prompts_per_step = 512
  c.rl.num_generations = 8
  c.rl.max_prompt_len = 2560
  c.rl.max_new_tokens = 30208  # 32,768 tokens per row, like max_model_len
  c.rl.clip_low = 0.2
  c.rl.clip_high = 0.28
  c.rl.kl_coef = 0.0
  c.rl.num_minibatches = 4
  c.rollout.engine = "sglang"
  c.optimizer.lr = 4e-7
  c.train.steps = 234  # 40k tasks / 512 per step x 3 epochs
  c.train.grad_accum = (
    32  # 1,024 rows per update = 32 micro-batches of one row per device on 32 GPUs, as X-Coder ran
  )
  c.train.loss_chunk = 4096
  c.train.save_every = 10
  return c
