"""Every GRPO setting with its default; other RL configs start from this one.

The model, init, mesh and optimizer sections are SFT's (configs/sft/base.py); `data` names
the RL task shards (schema in xcoder_jax/data/rl.py); `rl` holds the algorithm, `rollout`
the engine, `judge` the sandbox limits, `warmup` an optional SFT warm start. Defaults are
X-Coder's Qwen2.5 run (../shared/RECIPE.md; its verl scripts): override from the command line.
"""

from __future__ import annotations

import ml_collections

from configs.sft import base as sft_base
from xcoder_jax.rollout.engine import config_sections


def get_config() -> ml_collections.ConfigDict:
  c = sft_base.get_config()
  c.data = ml_collections.ConfigDict(
    dict(
      train_files="",  # RL shards: path, glob, directory or comma-separated list; "toy"
      # held-out RL shards, e.g. SynthSmith's DIR/heldout/rl (greedy pass rate every
      # train.eval_every steps)
      eval_files="",
      tokenizer="",  # "tiny" or an HF tokenizer directory; empty: the init source's
      shuffle_seed=1,
      num_epochs=0,  # <= 0: repeat forever (drive the run by train.steps)
      # True also trains on records of SynthSmith's held-out split (logged loudly): any
      # evaluation on that split is then contaminated
      train_on_heldout=False,
    )
  )
  c.rl = ml_collections.ConfigDict(
    dict(
      prompts_per_step=512,  # tasks per step over all hosts
      num_generations=8,  # rollouts per task (the group)
      max_prompt_len=2560,
      max_new_tokens=30208,
      temperature=1.0,  # rollouts sample at it; the loss scores logits / temperature (verl)
      top_p=1.0,
      top_k=0,  # 0 = off
      repetition_penalty=1.0,
      seed=0,  # sampling seeds and sampled tests derive from (seed, step)
      advantage="grpo",  # xcoder_jax.rl.ADVANTAGE_ESTIMATORS
      policy_loss="dual_clip",  # xcoder_jax.rl.POLICY_LOSSES
      clip_low=0.2,
      clip_high=0.28,  # clip-higher
      clip_ratio_c=3.0,  # dual clip, negative advantages only
      loss_agg="seq-mean-token-mean",  # every sequence weighs the same, as X-Coder ran
      # seq-mean-token-sum-norm's divisor of the summed token losses; 0: rl.max_new_tokens
      norm_constant=0.0,
      entropy_coef=0.001,
      kl_coef=0.0,  # > 0: KL to the frozen starting policy
      kl_estimator="k3",  # low-variance KL
      num_minibatches=4,  # optimizer updates per pass over the step's rollouts
      ppo_epochs=1,
      dynamic_sampling=False,  # mask groups whose rewards are all equal
      max_tests=10,  # tests sampled per rollout
      eval_prompts=64,  # held-out tasks per evaluation
    )
  )
  # rollout.engine names one of xcoder_jax.rollout.ENGINES; rollout.<engine> holds its settings
  # (each engine's `defaults`, documented in its module): in_process.max_batch,
  # sglang.server_url / sync_dir / timeout_s / ..., openai.server_url / model / ...
  c.rollout = config_sections()
  # judge.backend: local (a Judge of `workers` in this process; 0: two per core) or remote
  # (`launch.judge_serve` instances at judge.urls, comma-separated; judge.token if they ask one)
  # or ray (a judge per node of the Ray cluster in RAY_ADDRESS; `workers` per node)
  c.judge = ml_collections.ConfigDict(
    dict(time_limit_s=10.0, memory_mb=256, workers=0, backend="local", urls="", token="")
  )
  c.warmup = ml_collections.ConfigDict(
    dict(
      sft_steps=0,  # > 0: SFT this many steps on warmup.train_files first (WORKDIR/warmup)
      train_files="",  # SFT shards; "toy" = the toy task set's format warm-up
      lr=1e-3,
      global_batch_size=16,
      seq_len=128,
    )
  )
  c.optimizer.lr = 4e-7
  c.optimizer.schedule = "constant"
  c.optimizer.warmup_ratio = 0.0
  c.optimizer.weight_decay = 0.01
  c.optimizer.clip_norm = 1.0
  c.train.steps = 200
  c.train.log_every = 1
  c.train.save_every = 10
  c.train.loss_chunk = 2048
  return c


def warmup_sft_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The SFT config of an RL config's warm-up: its model, init, mesh and tokenizer, the
  `warmup` section's data, steps and constant learning rate, no evaluation, one checkpoint."""
  warmup = config.warmup
  sft = sft_base.get_config()
  for section in ("model", "init", "mesh"):
    sft[section] = ml_collections.ConfigDict(config[section].to_dict())
  sft.data.update(
    train_files=warmup.train_files,
    eval_files="",
    tokenizer=config.data.tokenizer,
    seq_len=warmup.seq_len,
    global_batch_size=warmup.global_batch_size,
    num_epochs=0,
  )
  sft.optimizer.update(lr=warmup.lr, schedule="constant", warmup_ratio=0.0)
  steps = warmup.sft_steps
  sft.train.update(
    steps=steps,
    log_every=max(1, steps // 4),
    save_every=steps,
    keep=1,
    progress_bar=config.train.progress_bar,
  )
  return sft


def validate(config: ml_collections.ConfigDict) -> None:
  """Refuses keys this base config does not know."""
  sft_base.validate(config, get_config(), "configs/rl/base.py")
