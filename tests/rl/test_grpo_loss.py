"""The GRPO trainer's loss through the real train step: Dr.GRPO's constant normaliser stays
Σ(token losses) / max_response_length over the whole mini-batch at any gradient accumulation,
and a bigram model (logits of a token = its table row) keeps every number checkable by hand;
the step metrics the trainer reads on the host."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from configs.rl import tiny
from xcoder_jax.rl import grpo
from xcoder_jax.train.step import TrainState, make_train_step

VOCAB, ROWS, LENGTH = 5, 8, 8


class Bigram(nnx.Module):
  def __init__(self, table):
    self.table = nnx.Param(jnp.asarray(table))

  def hidden_states(self, inputs, positions, segment_ids):
    del positions, segment_ids
    return self.table[...][inputs]

  def logits(self, hidden):
    return hidden


def _batch(rng, table):
  inputs = rng.integers(0, VOCAB, (ROWS, LENGTH)).astype(np.int32)
  targets = np.roll(inputs, -1, axis=1)
  response = rng.integers(0, LENGTH, ROWS)
  response[[2, 5]] = 0  # empty rows (filtered groups, padding) in different micro-batches
  mask = (np.arange(LENGTH)[None] >= LENGTH - response[:, None]).astype(np.float32)
  shifted = table - table.max(-1, keepdims=True)
  log_softmax = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
  logprobs = np.take_along_axis(log_softmax[inputs], targets[..., None], -1)[..., 0]
  batch = {
    "inputs": inputs,
    "targets": targets,
    "positions": np.tile(np.arange(LENGTH, dtype=np.int32), (ROWS, 1)),
    "segment_ids": np.ones((ROWS, LENGTH), np.int32),
    "loss_mask": mask,
    "advantages": np.repeat(rng.normal(0.0, 1.0, (ROWS, 1)), LENGTH, 1).astype(np.float32),
    "old_logprobs": logprobs.astype(np.float32),  # on-policy: ratio 1, token loss -A
  }
  return {k: jnp.asarray(v) for k, v in batch.items()}


@pytest.mark.parametrize("norm_constant", [0.0, 3.0])
def test_drgrpo_loss_is_token_sum_over_the_constant_at_any_accumulation(norm_constant):
  rng = np.random.default_rng(0)
  table = rng.normal(size=(VOCAB, VOCAB)).astype(np.float32)
  batch = _batch(rng, table)
  config = tiny.get_config()
  config.rl.update(loss_agg="seq-mean-token-sum-norm", norm_constant=norm_constant)
  config.rl.update(entropy_coef=0.0, kl_coef=0.0, max_new_tokens=16)
  constant = norm_constant or 16  # 0: rl.max_new_tokens, verl's response length
  want = -float(np.sum(batch["advantages"] * batch["loss_mask"])) / constant
  graphdef, params = nnx.split(Bigram(table))
  params = nnx.to_pure_dict(params)
  optimizer = optax.sgd(1.0)
  results = []
  for accum in (1, 2, 4):
    config.train.grad_accum = accum
    loss_fn = grpo.grpo_loss(config)
    step = jax.jit(make_train_step(graphdef, optimizer, lambda _: 1.0, accum, loss_fn))
    start = TrainState(jnp.zeros((), jnp.int32), params, optimizer.init(params))
    new, metrics = step(start, batch)
    results.append((float(metrics["loss"]), new.params))
    assert float(metrics["loss_tokens"]) == float(batch["loss_mask"].sum())
  for loss, _ in results:
    assert loss == pytest.approx(want, rel=2e-5)
  for _, updated in results[1:]:
    jax.tree.map(
      lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), updated, results[0][1]
    )
  moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), results[0][1], params)
  assert max(jax.tree.leaves(moved)) > 1e-3  # the update is not trivially zero


def test_update_metrics_count_updates_without_a_loss_token():
  """The step's per-update metrics on the host: means, the largest gradient norm, token
  totals, and the updates that had nothing to train on (the trainer warns once on those)."""
  fetched = [
    {"loss": 0.5, "grad_norm": 1.5, "tokens": 10.0, "loss_tokens": 4.0, "entropy": 1.0},
    {"loss": 0.0, "grad_norm": 0.0, "tokens": 8.0, "loss_tokens": 0.0, "entropy": 0.0},
    {"loss": 1.0, "grad_norm": 0.5, "tokens": 6.0, "loss_tokens": 2.0, "entropy": 2.0},
  ]
  assert grpo.update_metrics(fetched) == {
    "loss": 0.5,
    "grad_norm": 1.5,
    "tokens": 24.0,
    "loss_tokens": 6.0,
    "entropy": 1.0,
    "empty_updates": 1.0,
  }


def test_rollouts_sampled_at_a_temperature_are_scored_at_it_as_verl_does():
  """verl's actor divides the logits by the rollout temperature before the log-softmax (and
  the entropy): the behaviour log-probs and the loss score the distribution sampled from,
  while the gap to the engine (untempered log-probs) stays 0 for the same model."""
  rng, temperature = np.random.default_rng(1), 0.7
  table = rng.normal(size=(VOCAB, VOCAB)).astype(np.float32)
  batch = _batch(rng, table)
  graphdef, params = nnx.split(Bigram(table))
  params = nnx.to_pure_dict(params)
  tempered = table / temperature
  tempered = tempered - np.log(np.exp(tempered).sum(-1, keepdims=True))
  want = np.take_along_axis(tempered[batch["inputs"]], batch["targets"][..., None], -1)[..., 0]
  fields = {k: batch[k] for k in grpo.GAP_FIELDS if k in batch}
  fields["rollout_logprobs"] = batch["old_logprobs"]  # untempered, as engines log them
  ours, (gap, _, _) = jax.jit(grpo.behaviour_logprobs(graphdef, LENGTH, 1, temperature))(
    params, fields
  )
  np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-6)
  assert float(gap) < 1e-4
  config = tiny.get_config()
  config.rl.update(temperature=temperature, entropy_coef=1.0, kl_coef=0.0, loss_agg="token-mean")
  out = grpo.grpo_loss(config)(nnx.merge(graphdef, params), {**batch, "old_logprobs": ours})
  entropy = -(np.exp(tempered) * tempered).sum(-1)[batch["inputs"]]
  mask = np.asarray(batch["loss_mask"])
  numerator, denominator = out.means["entropy"]
  assert float(numerator / denominator) == pytest.approx(
    (entropy * mask).sum() / mask.sum(), rel=1e-5
  )
