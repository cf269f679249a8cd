"""The SFT step: loss masking, normalisation, packing, accumulation and sharding."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from xcoder_jax import sharding
from xcoder_jax.models import get_preset
from xcoder_jax.models.build import create_model
from xcoder_jax.train.optimizer import decay_mask, learning_rate_schedule, make_optimizer
from xcoder_jax.train.step import compile_steps, create_train_state

CONFIG = get_preset(
  "tiny",
  vocab_size=256,
  num_layers=2,
  hidden_size=64,
  intermediate_size=128,
  num_heads=4,
  num_kv_heads=2,
  head_dim=16,
)


def _opt_config(**changes):
  c = ml_collections.ConfigDict(
    dict(
      lr=1e-3,
      schedule="cosine",
      warmup_ratio=0.1,
      min_lr_ratio=0.0,
      b1=0.9,
      b2=0.95,
      eps=1e-8,
      weight_decay=0.1,
      clip_norm=1.0,
    )
  )
  c.update(changes)
  return c


def _setup(mesh, grad_accum=1, seed=0, loss_chunk=8):
  model = create_model(CONFIG, mesh, seed=seed)
  optimizer, schedule = make_optimizer(_opt_config(), total_steps=10)
  graphdef, state, state_sh = create_train_state(model, optimizer, mesh)
  train, evaluate = compile_steps(
    graphdef, optimizer, schedule, state_sh, mesh, grad_accum, loss_chunk
  )
  return state, train, evaluate


def _mesh(**ici):
  devices = jax.devices() if ici else jax.devices()[:1]
  return sharding.make_mesh(sharding.MeshConfig(ici=ici or {"fsdp": -1}), devices)


def _example(rng, prompt_len, response_len):
  tokens = rng.randint(3, 256, prompt_len + response_len)
  response = np.zeros(prompt_len + response_len, bool)
  response[prompt_len:] = True
  return tokens, response


def _rows(examples, seq_len, packed):
  """Packs (or pads one per row) examples into inputs/targets/loss_mask/segment_ids/positions."""
  rows, row = [], []
  for ex in examples:
    if row and (not packed or sum(len(t) for t, _ in row) + len(ex[0]) > seq_len):
      rows.append(row)
      row = []
    row.append(ex)
  rows.append(row)
  batch = {
    k: np.zeros((len(rows), seq_len), np.int32)
    for k in ("inputs", "targets", "segment_ids", "positions")
  }
  batch["loss_mask"] = np.zeros((len(rows), seq_len), np.float32)
  for r, row in enumerate(rows):
    at = 0
    for s, (tokens, response) in enumerate(row, start=1):
      n = len(tokens)
      batch["inputs"][r, at : at + n] = tokens
      batch["targets"][r, at : at + n - 1] = tokens[1:]
      batch["loss_mask"][r, at : at + n - 1] = response[1:]
      batch["segment_ids"][r, at : at + n] = s
      batch["positions"][r, at : at + n] = np.arange(n)
      at += n
  return batch


def _examples(seed=0, n=8):
  rng = np.random.RandomState(seed)
  return [_example(rng, rng.randint(3, 9), rng.randint(3, 12)) for _ in range(n)]


def test_prompt_and_padding_contribute_nothing():
  mesh = _mesh()
  state, train, evaluate = _setup(mesh)
  batch = _rows(_examples(), 32, packed=True)
  changed = {k: v.copy() for k, v in batch.items()}
  off = changed["loss_mask"] == 0
  changed["targets"][off] = (changed["targets"][off] + 7) % 256  # prompt + padding labels
  pad = changed["segment_ids"] == 0
  changed["inputs"][pad] = 5  # padding inputs
  grads = []
  for b in (batch, changed):
    new_state, metrics = train(jax.tree.map(jnp.copy, state), b)
    grads.append((float(metrics["loss"]), jax.tree.map(np.asarray, new_state.params)))
  assert grads[0][0] == grads[1][0]
  for a, b in zip(jax.tree.leaves(grads[0][1]), jax.tree.leaves(grads[1][1])):
    np.testing.assert_array_equal(a, b)


def test_loss_is_mean_over_all_response_tokens_of_the_global_batch():
  mesh = _mesh()
  state, _, evaluate = _setup(mesh)
  batch = _rows(_examples(), 32, packed=True)
  loss_sum, count = evaluate(state.params, batch)
  model = create_model(CONFIG, seed=0)
  logits = np.asarray(model(batch["inputs"], batch["positions"], batch["segment_ids"]), np.float64)
  logp = (
    logits
    - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True))
    - logits.max(-1, keepdims=True)
  )
  nll = -np.take_along_axis(logp, batch["targets"][..., None], -1)[..., 0]
  assert float(count) == batch["loss_mask"].sum()
  np.testing.assert_allclose(float(loss_sum), (nll * batch["loss_mask"]).sum(), rtol=1e-5)


def test_packed_and_unpacked_batches_give_the_same_loss_and_update():
  mesh = _mesh()
  state, train, _ = _setup(mesh)
  examples = _examples(n=6)
  packed, unpacked = _rows(examples, 64, packed=True), _rows(examples, 64, packed=False)
  assert packed["inputs"].shape[0] < unpacked["inputs"].shape[0]
  results = []
  for b in (packed, unpacked):
    new_state, metrics = train(jax.tree.map(jnp.copy, state), b)
    results.append((float(metrics["loss"]), jax.tree.map(np.asarray, new_state.params)))
  np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
  for a, b in zip(jax.tree.leaves(results[0][1]), jax.tree.leaves(results[1][1])):
    np.testing.assert_allclose(a, b, atol=2e-6)


def test_gradient_accumulation_equals_one_big_batch():
  mesh = _mesh()
  batch = _rows(_examples(n=16), 16, packed=False)
  batch = {k: v[:8] for k, v in batch.items()}
  outs = []
  for accum in (1, 4):
    state, train, _ = _setup(mesh, grad_accum=accum)
    new_state, metrics = train(state, batch)
    outs.append((float(metrics["loss"]), jax.tree.map(np.asarray, new_state.params)))
  np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-5)
  for a, b in zip(jax.tree.leaves(outs[0][1]), jax.tree.leaves(outs[1][1])):
    np.testing.assert_allclose(a, b, atol=2e-6)


@pytest.mark.slow
@pytest.mark.parametrize("ici", [{"fsdp": 4, "tensor": 2}, {"data": 2, "fsdp": 2, "tensor": 2}])
def test_sharded_step_matches_single_device(ici):
  batch = _rows(_examples(n=24), 32, packed=True)
  batch = {k: v[:8] for k, v in batch.items()}
  results = []
  for mesh in (_mesh(), _mesh(**ici)):
    state, train, _ = _setup(mesh, grad_accum=2)
    with sharding.use_mesh(mesh):
      for _ in range(2):
        state, metrics = train(state, batch)
    results.append((float(metrics["loss"]), jax.tree.map(np.asarray, state.params), state))
  np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
  for a, b in zip(jax.tree.leaves(results[0][1]), jax.tree.leaves(results[1][1])):
    # Adam divides by sqrt(v): reduction-order noise can move an update by ~1% of lr.
    np.testing.assert_allclose(a, b, atol=2e-5)
  sharded = results[1][2]
  q = sharded.params["layers"]["q_proj"]
  assert q.sharding.spec == sharding.PartitionSpec(None, "fsdp", "tensor")
  mu = jax.tree.leaves(sharded.opt_state, is_leaf=lambda x: hasattr(x, "mu"))
  adam = [s for s in mu if hasattr(s, "mu")][0]
  assert adam.mu["layers"]["q_proj"].sharding == q.sharding


def test_no_weight_decay_on_norms_and_biases():
  params = {"layers": {"q_proj": 1, "q_bias": 1, "attn_norm": 1}, "final_norm": 1, "embed": 1}
  assert decay_mask(params) == {
    "layers": {"q_proj": True, "q_bias": False, "attn_norm": False},
    "final_norm": False,
    "embed": True,
  }


def test_schedule_warms_up_then_decays():
  schedule = learning_rate_schedule(1.0, 100, warmup_ratio=0.1, schedule="cosine")
  assert float(schedule(0)) == 0.0 and abs(float(schedule(10)) - 1.0) < 1e-6
  assert float(schedule(55)) < 0.6 and float(schedule(100)) < 1e-3
  constant = learning_rate_schedule(1.0, 100, warmup_ratio=0.0, schedule="constant")
  assert float(constant(0)) == float(constant(99)) == 1.0
  with pytest.raises(ValueError, match="schedule"):
    learning_rate_schedule(1.0, 100, schedule="linear")
