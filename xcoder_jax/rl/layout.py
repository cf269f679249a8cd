"""How one GRPO step's rollouts become optimizer updates: every batch figure, derived once.

The trainer shapes its compiled step with it, the planner (`xcoder_jax.planning`) sizes memory
and time with it, and the benchmarks report it, so they agree by construction. A step
samples `prompts_per_step x num_generations` rollouts, cuts them into `num_minibatches`
mini-batches (strided rows, see `rollout_batch.split_minibatches`), runs one forward-only
log-prob pass over each (two with a KL reference), then `ppo_epochs` passes of one optimizer
update per mini-batch; each update accumulates `grad_accum` micro-batches.
"""

from __future__ import annotations

import dataclasses

import ml_collections
import numpy as np

from xcoder_jax.rl.rollout_batch import ROW_FIELDS

# What an update trains on, and what the log-prob pass reads (the rollout's own log-probs).
TRAIN_FIELDS = ("inputs", "targets", "positions", "segment_ids", "loss_mask", "advantages")
GAP_FIELDS = ("inputs", "targets", "positions", "segment_ids", "loss_mask", "rollout_logprobs")


@dataclasses.dataclass(frozen=True)
class BatchLayout:
  prompts_per_step: int
  num_generations: int
  num_minibatches: int
  ppo_epochs: int
  grad_accum: int
  max_prompt_len: int
  max_new_tokens: int
  reference: bool  # rl.kl_coef != 0: a frozen reference policy's log-probs too

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> BatchLayout:
    rl = config.rl
    return cls(
      prompts_per_step=rl.prompts_per_step,
      num_generations=rl.num_generations,
      num_minibatches=rl.num_minibatches,
      ppo_epochs=rl.ppo_epochs,
      grad_accum=config.train.grad_accum,
      max_prompt_len=rl.max_prompt_len,
      max_new_tokens=rl.max_new_tokens,
      reference=bool(rl.kl_coef),
    )

  @property
  def rollouts(self) -> int:
    """Rollouts per step: the rows one sampling round produces."""
    return self.prompts_per_step * self.num_generations

  @property
  def minibatch_rows(self) -> int:
    """Rows per optimizer update."""
    return self.rollouts // self.num_minibatches

  @property
  def micro_rows(self) -> int:
    return self.minibatch_rows // self.grad_accum

  @property
  def seq_len(self) -> int:
    return self.max_prompt_len + self.max_new_tokens

  @property
  def updates_per_step(self) -> int:
    return self.ppo_epochs * self.num_minibatches

  @property
  def forward_passes(self) -> int:
    """Forward-only passes over a mini-batch's rows per step (behaviour and reference)."""
    return self.num_minibatches * (1 + self.reference)

  @property
  def fields(self) -> dict[str, np.dtype]:
    """An update's batch: its fields and their dtypes (every one [minibatch_rows, seq_len])."""
    names = TRAIN_FIELDS + ("old_logprobs",) + (("ref_logprobs",) if self.reference else ())
    return {k: np.dtype(ROW_FIELDS.get(k, np.float32)) for k in names}

  def check(self, processes: int = 1, loss_chunk: int = 0) -> BatchLayout:
    """ValueError naming the settings when the rollouts do not split as the step needs."""
    for name, value in dataclasses.asdict(self).items():
      if name != "reference" and value < 1:
        raise ValueError(f"{_SETTING[name]} must be positive, got {value}")
    if self.prompts_per_step % processes:
      raise ValueError(
        f"rl.prompts_per_step={self.prompts_per_step} must divide over {processes} hosts"
      )
    if self.rollouts % self.num_minibatches or self.minibatch_rows % self.grad_accum:
      raise ValueError(
        f"{self.rollouts} rollouts per step must split into rl.num_minibatches="
        f"{self.num_minibatches} mini-batches of a multiple of train.grad_accum="
        f"{self.grad_accum} rows"
      )
    if loss_chunk and self.seq_len % min(loss_chunk, self.seq_len):
      raise ValueError(
        f"rl.max_prompt_len + rl.max_new_tokens = {self.seq_len} must be a multiple of "
        f"train.loss_chunk={loss_chunk}"
      )
    return self


_SETTING = {
  "prompts_per_step": "rl.prompts_per_step",
  "num_generations": "rl.num_generations",
  "num_minibatches": "rl.num_minibatches",
  "ppo_epochs": "rl.ppo_epochs",
  "grad_accum": "train.grad_accum",
  "max_prompt_len": "rl.max_prompt_len",
  "max_new_tokens": "rl.max_new_tokens",
}
