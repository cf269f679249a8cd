"""GRPO on the shared train loop: rollouts, judge rewards, group advantages, clipped updates.

One loop step: take `rl.prompts_per_step` tasks, sync the policy into the rollout engine,
sample `rl.num_generations` answers per task, score them in the judge (one batch for the
whole step), turn rewards into group advantages, recompute the behaviour log-probs with the
trainer's own forward (and log their gap to the engine's), then `rl.ppo_epochs` passes over
`rl.num_minibatches` mini-batches, each one optimizer update. Sampling seeds and the tests a
reward samples derive from (rl.seed, step), so a resumed run repeats the same rewards.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from xcoder_jax import rl as rl_lib
from xcoder_jax import sharding
from xcoder_jax.data.rl import make_prompt_iterator
from xcoder_jax.judge.remote import BACKENDS, make_judge
from xcoder_jax.models.build import model_from_params
from xcoder_jax.rl.layout import GAP_FIELDS, TRAIN_FIELDS, BatchLayout
from xcoder_jax.rl.rollout_batch import ROW_FIELDS, build_rows, split_minibatches
from xcoder_jax.rollout.engine import EngineContext, RolloutEngine, check_trainable, make_engine
from xcoder_jax.rollout.types import SamplingParams
from xcoder_jax.sharding import constrain
from xcoder_jax.train import init, loop
from xcoder_jax.train.checkpointing import data_iterator_item
from xcoder_jax.train.loss import LossOutput, chunked_token_logprobs, sequence_logprobs
from xcoder_jax.train.step import batch_axes, join_micro_batches, split_micro_batches


def loss_config(rl: ml_collections.ConfigDict) -> rl_lib.LossConfig:
  return rl_lib.LossConfig(
    policy_loss=rl.policy_loss,
    clip_low=rl.clip_low,
    clip_high=rl.clip_high,
    clip_ratio_c=rl.clip_ratio_c,
    aggregation=rl.loss_agg,
    norm_constant=rl.norm_constant or rl.max_new_tokens,
    entropy_coef=rl.entropy_coef,
    kl_coef=rl.kl_coef,
    kl_estimator=rl.kl_estimator,
  ).check()


def check_config(config: ml_collections.ConfigDict) -> None:
  """Every name an RL config gives is registered (errors list the valid ones); run before any
  heavy work so that a typo costs nothing."""
  rl = config.rl
  rl_lib.ADVANTAGE_ESTIMATORS.check(rl.advantage, "rl.advantage")
  check_trainable(config.rollout.engine, config.rollout.get(config.rollout.engine))
  if config.judge.backend not in BACKENDS:
    raise ValueError(
      f"judge.backend={config.judge.backend!r}: choose one of {', '.join(BACKENDS)} (remote: "
      "judge.urls=http://HOST:PORT,... of `launch.judge_serve` instances; ray: the cluster in "
      "RAY_ADDRESS)"
    )
  rl_lib.POLICY_LOSSES.check(rl.policy_loss, "rl.policy_loss")
  rl_lib.AGGREGATIONS.check(rl.loss_agg, "rl.loss_agg")
  rl_lib.KL_ESTIMATORS.check(rl.kl_estimator, "rl.kl_estimator")
  if not rl.temperature > 0:
    raise ValueError(
      f"rl.temperature={rl.temperature}: GRPO samples its groups, so it must be > 0 (1.0 in "
      "X-Coder's runs); greedy rollouts would make every group's answers the same"
    )
  loss_config(rl)


def grpo_loss(config: ml_collections.ConfigDict):
  """The actor loss (clipped policy gradient - entropy bonus + KL to the reference) in the
  loop's numerator/denominator form: the policy loss is summed with its aggregation weights
  and the step divides by the aggregation's denominator over all micro-batches, so every
  aggregation (token-mean, seq-mean-token-mean, ...) is exact under accumulation; Dr.GRPO's
  constant (rl.norm_constant, by default rl.max_new_tokens) is split over the
  train.grad_accum micro-batches, so a mini-batch's loss is its token sum over the constant."""
  settings = loss_config(config.rl)
  chunk = config.train.loss_chunk

  def loss_fn(model, batch):
    logprobs, entropy = sequence_logprobs(
      model, batch, chunk, with_entropy=True, temperature=config.rl.temperature
    )
    mask = batch["loss_mask"]
    out = rl_lib.policy_loss(
      settings,
      logprobs,
      batch["old_logprobs"],
      batch["advantages"],
      mask,
      entropy=entropy,
      ref_log_probs=batch.get("ref_logprobs"),
      normaliser=1.0,
    )
    denominator = rl_lib.micro_batch_share(
      settings.aggregation, out.denominator, config.train.grad_accum
    )
    tokens = out.token_sums["tokens"]
    means = {k: (v, denominator) for k, v in out.terms.items()}
    means.update({k: (v, tokens) for k, v in out.token_sums.items() if k != "tokens"})
    trained = jnp.sum(batch["segment_ids"] != 0).astype(jnp.float32)
    sums = {"tokens": trained, "loss_tokens": tokens}
    return LossOutput(out.loss, denominator, sums=sums, means=means)

  return loss_fn


def behaviour_logprobs(graphdef, chunk: int, accum: int, temperature: float = 1.0):
  """fn(params, batch) -> per-token log-probs of a mini-batch (GAP_FIELDS) under `params` at
  the sampling `temperature` (the loss's convention), and the gap of the untempered ones to
  the rollout engine's (which are untempered) on the loss tokens (sum, max, count). The
  forward runs over `accum` micro-batches in turn (strided rows, as the train step splits
  them), so it never needs more activation memory than one update."""

  def one(params, micro):
    micro = {k: constrain(v, batch_axes(v.ndim)) for k, v in micro.items()}
    model = nnx.merge(graphdef, params)
    hidden = model.hidden_states(micro["inputs"], micro["positions"], micro["segment_ids"])
    ours = chunked_token_logprobs(model, hidden, micro["targets"], chunk, temperature=temperature)[
      0
    ]
    raw = ours
    if temperature != 1.0:
      raw = chunked_token_logprobs(model, hidden, micro["targets"], chunk)[0]
    gap = jnp.abs(raw - micro["rollout_logprobs"]) * micro["loss_mask"]
    return ours, (jnp.sum(gap), jnp.max(gap), jnp.sum(micro["loss_mask"]))

  def logprobs(params, batch):
    ours, (total, worst, count) = jax.lax.map(
      lambda mb: one(params, mb), split_micro_batches(batch, accum)
    )
    return join_micro_batches(ours), (jnp.sum(total), jnp.max(worst), jnp.sum(count))

  return logprobs


def update_metrics(fetched: list[Mapping[str, Any]]) -> dict[str, float]:
  """One step's metrics from its updates' host-side metrics: means, the largest gradient
  norm, token totals, and how many updates had no loss token (their loss is 0, not NaN; read
  here because these metrics come to the host anyway, where a check in the step would sync)."""
  out = {k: float(np.mean([m[k] for m in fetched])) for k in fetched[0]}
  out["grad_norm"] = float(max(m["grad_norm"] for m in fetched))
  for name in ("tokens", "loss_tokens"):
    out[name] = float(sum(m[name] for m in fetched))
  out["empty_updates"] = float(sum(m["loss_tokens"] == 0 for m in fetched))
  return out


class GRPOTrainer(loop.Trainer):
  name = "grpo"

  def __init__(self, context: loop.RunContext, reward_fn: rl_lib.RewardFn = rl_lib.xcoder_reward):
    config = self.config = context.config
    check_config(config)
    rl = config.rl
    self.context = context
    self.tokenizer = context.tokenizer
    processes = jax.process_count()
    layout = self.layout = BatchLayout.from_config(config).check(processes, config.train.loss_chunk)
    self.prompts_per_host = layout.prompts_per_step // processes
    self.updates_per_step = layout.updates_per_step
    shape = (layout.minibatch_rows, layout.seq_len)
    self.batch_shapes = {k: jax.ShapeDtypeStruct(shape, d) for k, d in layout.fields.items()}
    # Every per-token array of a mini-batch ([rows, seq_len]) is sharded the same way.
    row_shape = jax.ShapeDtypeStruct(shape, np.float32)
    self._shardings = context.batch_shardings({k: row_shape for k in {*ROW_FIELDS, *layout.fields}})
    self.loss_fn = grpo_loss(config)
    self.reward_fn = reward_fn
    self.reward_options = rl_lib.RewardOptions.from_config(config)
    self.prompt_iter = make_prompt_iterator(
      config.data.train_files,
      self.prompts_per_host,
      config.data.shuffle_seed,
      config.data.num_epochs,
      jax.process_index(),
      processes,
      allow_heldout=config.data.train_on_heldout,
    )
    self.judge = make_judge(
      config.judge.backend,
      config.judge.urls,
      config.judge.workers or None,
      token=config.judge.token or None,
    )
    self.engine = None  # made at the first step, from the live parameters
    self._logprobs = self._compile_logprobs()
    self.ref_params = None
    if rl.kl_coef:  # the frozen starting policy, re-derived from the init source on resume
      self.ref_params = init.initial_params(config, context.model_config, context.mesh)

  def checkpoint_items(self):
    return {"data_iter": data_iterator_item(self.prompt_iter)}

  def _compile_logprobs(self):
    replicated = NamedSharding(self.context.mesh, PartitionSpec())
    return jax.jit(
      behaviour_logprobs(
        self.context.graphdef,
        self.config.train.loss_chunk,
        self.config.train.grad_accum,
        self.config.rl.temperature,
      ),
      in_shardings=(
        self.context.state_shardings.params,
        {k: self._shardings[k] for k in GAP_FIELDS},
      ),
      out_shardings=(self._shardings["loss_mask"], (replicated,) * 3),
    )

  def _prompt_ids(self, records: list[dict]) -> list[list[int]]:
    ids = []
    for record in records:
      prompt = record["prompt"]
      messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
      tokens = self.tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True
      )
      if len(tokens) > self.config.rl.max_prompt_len:
        raise ValueError(
          f"task {record['id']!r} has a {len(tokens)}-token prompt, over rl.max_prompt_len="
          f"{self.config.rl.max_prompt_len}; raise it or filter such tasks out of the shards"
        )
      ids.append(tokens)
    return ids

  def run_step(self, state, step, train_step):
    rl = self.config.rl
    records = next(self.prompt_iter, None)
    if not sharding.on_every_process(records is not None):
      return None
    start = time.perf_counter()
    if self.engine is None:
      self.engine = self._make_engine(state.params, step)
    if self.engine.weights_version != step:  # servers start from weights of their own
      self.engine.update_weights(state.params, step)
    prompts = self._prompt_ids(records)
    sampling = SamplingParams(
      max_new_tokens=rl.max_new_tokens,
      temperature=rl.temperature,
      top_p=rl.top_p,
      top_k=rl.top_k,
      repetition_penalty=rl.repetition_penalty,
      seed=rl.seed * 1_000_003 + step * 1009 + jax.process_index(),
      n=rl.num_generations,
    )
    groups = self.engine.generate(prompts, sampling)
    rollout_s = time.perf_counter() - start
    scores = self._rewards(records, groups, step)
    rewards = np.asarray(scores, np.float32).reshape(len(records), rl.num_generations)
    reward_s = time.perf_counter() - start - rollout_s
    advantages = rl_lib.compute_advantages(rl.advantage, rewards)
    rows = build_rows(prompts, groups, advantages, self.layout.seq_len, self.tokenizer.pad_id)
    solved_all = rewards.min(axis=1) == rewards.max(axis=1)
    if rl.dynamic_sampling:  # groups whose rewards are all equal teach nothing: mask them
      rows["loss_mask"] *= np.repeat(~solved_all, rl.num_generations)[:, None]
    metrics = self._update(state, rows, train_step)
    state = metrics.pop("state")
    lengths = np.asarray([c.completion_tokens for group in groups for c in group])
    pass_fraction = np.asarray([getattr(x, "pass_fraction", np.nan) for x in scores])
    pass_fraction = pass_fraction.reshape(rewards.shape)
    metrics.update(
      reward_mean=float(rewards.mean()),
      reward_std=float(rewards.std()),
      pass_rate=float(pass_fraction.mean()),
      # rollouts whose program was judged at all (X-Coder's reward: the rest scored -2)
      parsed_rate=float(np.mean([getattr(x, "status", "judged") == "judged" for x in scores])),
      solve_none=float(np.mean(pass_fraction.max(axis=1) == 0)),
      solve_all=float(np.mean(pass_fraction.min(axis=1) == 1)),
      response_length_mean=float(lengths.mean()),
      response_length_max=float(lengths.max()),
      rollout_tokens_per_s=float(lengths.sum() / rollout_s),
      **{f"rollout_{name}": value for name, value in self.engine.metrics().items()},
      rollout_seconds=rollout_s,
      reward_seconds=reward_s,
      train_seconds=time.perf_counter() - start - rollout_s - reward_s,
    )
    return state, metrics

  def _rewards(self, records: list[dict], groups, step: int, n: int | None = None) -> list[float]:
    """Every rollout of the step scored in one call (one judge batch)."""
    n = n or self.config.rl.num_generations
    first = jax.process_index() * self.prompts_per_host * n
    return self.reward_fn(
      [record for record in records for _ in range(n)],
      [c.text for group in groups for c in group],
      judge=self.judge,
      step=step,
      options=self.reward_options,
      rollout_index=list(range(first, first + len(records) * n)),
    )

  def _update(self, state, rows: dict[str, np.ndarray], train_step) -> dict[str, Any]:
    """Behaviour log-probs with the trainer's forward, then the PPO passes."""
    minibatches, gaps = [], []
    for mb in split_minibatches(rows, self.layout.num_minibatches):
      inputs = loop.global_batch(mb, {k: self._shardings[k] for k in {*GAP_FIELDS, *TRAIN_FIELDS}})
      old, gap = self._logprobs(state.params, {k: inputs[k] for k in GAP_FIELDS})
      gaps.append(gap)
      batch = {k: inputs[k] for k in TRAIN_FIELDS}
      batch["old_logprobs"] = old
      if self.ref_params is not None:
        batch["ref_logprobs"] = self._logprobs(self.ref_params, {k: inputs[k] for k in GAP_FIELDS})[
          0
        ]
      minibatches.append(batch)
    device_metrics = []
    for _ in range(self.layout.ppo_epochs):
      for batch in minibatches:
        state, m = train_step(state, batch)
        device_metrics.append(m)
    out = update_metrics(jax.device_get(device_metrics))
    if out["empty_updates"]:
      logging.log_first_n(
        logging.WARNING,
        "%d of %d updates had no loss token (every group masked, e.g. by rl.dynamic_sampling): "
        "their loss and gradient are 0 (verl would give NaN); the optimizer still steps",
        1,
        out["empty_updates"],
        len(device_metrics),
      )
    gap_sum, gap_max, counted = (np.asarray(x) for x in zip(*jax.device_get(gaps), strict=True))
    out.update(
      logprob_gap=float(gap_sum.sum() / max(counted.sum(), 1.0)),
      logprob_gap_max=float(gap_max.max()),
      state=state,
    )
    return out

  def evaluate(self, params, eval_step) -> Mapping[str, float]:
    """Greedy answers to the first rl.eval_prompts held-out tasks, scored like training."""
    config = self.config
    if not config.data.eval_files or self.engine is None:
      return {}
    tasks = make_prompt_iterator(
      config.data.eval_files, 1, 0, 1, jax.process_index(), jax.process_count(), role="eval"
    )
    records = [batch[0] for batch, _ in zip(tasks, range(config.rl.eval_prompts))]
    version = self.engine.weights_version + 1  # the parameters after this step's updates
    self.engine.update_weights(params, version)
    greedy = SamplingParams(max_new_tokens=config.rl.max_new_tokens, temperature=0.0)
    groups = self.engine.generate(self._prompt_ids(records), greedy)
    scores = self._rewards(records, groups, step=0, n=1)
    return {
      "eval_reward_mean": float(np.mean(scores)),
      "eval_pass_rate": float(np.mean([getattr(x, "pass_fraction", np.nan) for x in scores])),
    }

  def _make_engine(self, params, version: int) -> RolloutEngine:
    """The configured engine, given what it may need: the in-process sampler takes the live
    parameters (on the trainer's mesh), server engines export them for their servers."""
    name, context = self.config.rollout.engine, self.context
    engine_context = EngineContext(
      tokenizer=self.tokenizer,
      load_model=lambda: model_from_params(context.model_config, params, context.mesh),
      model_config=context.model_config,
      tokenizer_dir=context.tokenizer_dir,
      mesh=context.mesh,
      weights_version=version,
    )
    return make_engine(name, self.config.rollout.get(name), engine_context)

  def close(self):
    if self.engine is not None:
      self.engine.close()
    self.judge.close()


def train(
  config: ml_collections.ConfigDict,
  workdir: str,
  reward_fn: rl_lib.RewardFn = rl_lib.xcoder_reward,
) -> dict[str, Any]:
  """Runs (or resumes) GRPO in `workdir` with `reward_fn` (see xcoder_jax/rl/rewards.py);
  returns the last logged metrics."""
  logging.info("GRPO in %s", workdir)
  return loop.run(config, workdir, lambda context: GRPOTrainer(context, reward_fn))
