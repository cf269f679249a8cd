"""Tiny model, toy tasks, in-process rollouts: GRPO that visibly learns on a CPU in minutes.

A random tiny model first gets 60 SFT steps on the toy set's answers, right only half of the
time (xcoder_jax/rl/toy.py), so it writes python blocks that pass some tests; GRPO then
raises the pass rate from judge rewards alone (about 0.3 -> 0.7 in 8 steps, noisy per step).

  python -m launch.rl --config=configs/rl/tiny.py --workdir=/tmp/rl
"""

from configs.rl import base


def get_config():
  c = base.get_config()
  c.model.preset = "tiny"
  c.model.dtype = "float32"
  c.data.train_files = "toy"  # the toy task set, written under WORKDIR/toy_data
  c.data.tokenizer = "tiny"
  c.warmup.sft_steps = 60
  c.warmup.train_files = "toy"
  c.rl.prompts_per_step = 8
  c.rl.num_generations = 8
  c.rl.max_prompt_len = 48
  c.rl.max_new_tokens = 16
  c.rl.num_minibatches = 2
  c.rl.loss_agg = "token-mean"
  c.optimizer.lr = 2e-4
  c.train.steps = 16
  c.train.loss_chunk = 64
  c.train.save_every = 4
  c.train.keep = 2
  return c
