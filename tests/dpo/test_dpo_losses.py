"""The trainer's DPO/IPO/length-normalised losses and their gradients against a numpy
computation by hand, on a tiny batch with masked prompt tokens, rows of different lengths and
an empty filler pair. The model is a bigram table (logits of a token = its row), so every
log-prob and its gradient can be written out directly. The per-pair rules are TRL
DPOTrainer's (v1.9), written out independently in `trl_pair_losses`."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from xcoder_jax.dpo import losses

VOCAB, LENGTH = 6, 8
# (prompt tokens, response tokens) of each row: the third pair's chosen completion is empty
# (trained as TRL does), the fourth pair is an empty filler (never trained).
CHOSEN = [(3, 4), (2, 5), (3, 0), (0, 0)]
REJECTED = [(3, 2), (2, 3), (4, 3), (0, 0)]


class _Bigram:
  """hidden_states -> the table rows of the inputs; logits are those rows."""

  def __init__(self, table):
    self.table = table

  def hidden_states(self, inputs, positions, segment_ids):
    del positions, segment_ids
    return self.table[inputs]

  def logits(self, hidden):
    return hidden


def _side(rng, shapes):
  n_rows = len(shapes)
  out = {k: np.zeros((n_rows, LENGTH), np.int32) for k in ("inputs", "targets", "segment_ids")}
  out["positions"] = np.zeros((n_rows, LENGTH), np.int32)
  out["loss_mask"] = np.zeros((n_rows, LENGTH), np.float32)
  for r, (prompt, response) in enumerate(shapes):
    n = prompt + response
    if not n:
      continue
    tokens = rng.randint(0, VOCAB, n)
    out["inputs"][r, :n] = tokens
    out["targets"][r, : n - 1] = tokens[1:]
    out["loss_mask"][r, prompt - 1 : n - 1] = 1.0  # targets that are response tokens
    out["segment_ids"][r, :n] = 1
    out["positions"][r, :n] = np.arange(n)
  return out


def _batch(seed=0):
  rng = np.random.RandomState(seed)
  batch = {}
  for side, shapes in (("chosen", CHOSEN), ("rejected", REJECTED)):
    for k, v in _side(rng, shapes).items():
      batch[f"{side}_{k}"] = v
    batch[f"{side}_ref_logprob"] = np.where(
      [r > 0 for _, r in shapes], rng.uniform(-12, -4, len(shapes)), 0.0
    ).astype(np.float32)
  return batch, rng.normal(size=(VOCAB, VOCAB)).astype(np.float32)


def _log_sigmoid(x):
  return -np.logaddexp(0.0, -x)


def trl_pair_losses(loss, beta, smoothing, dc, dr, nc, nr):
  """TRL DPOTrainer's per-pair loss, its derivative in the chosen and rejected summed
  log-ratios dc and dr, and the rewards, from completion token counts nc and nr: IPO and
  sigmoid_norm divide each log-ratio by its length clamped to 1, rewards are beta x summed."""
  nc, nr = np.maximum(nc, 1), np.maximum(nr, 1)
  if loss == "sigmoid":
    nc, nr = np.ones_like(nc), np.ones_like(nr)
  if loss == "ipo":
    h = dc / nc - dr / nr - 1 / (2 * beta)
    per_pair, dh = h**2, 2 * h
  else:
    z = beta * (dc / nc - dr / nr)
    per_pair = -(1 - smoothing) * _log_sigmoid(z) - smoothing * _log_sigmoid(-z)
    dh = beta * (1 / (1 + np.exp(-z)) - (1 - smoothing))
  summed = loss != "sigmoid_length_normalised"
  rewards = (beta * dc, beta * dr) if summed else (beta * dc / nc, beta * dr / nr)
  return per_pair, (dh / nc, -dh / nr), rewards


def _numpy_reference(loss, beta, smoothing, table, batch):
  """(summed loss over real pairs, d loss / d table, ...), written out by hand."""

  def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))

  seq, count = {}, {}
  for side in ("chosen", "rejected"):
    lp = log_softmax(table[batch[f"{side}_inputs"]].astype(np.float64))
    picked = np.take_along_axis(lp, batch[f"{side}_targets"][..., None], -1)[..., 0]
    seq[side] = (picked * batch[f"{side}_loss_mask"]).sum(1)
    count[side] = batch[f"{side}_loss_mask"].sum(1)
  ratio = {side: seq[side] - batch[f"{side}_ref_logprob"].astype(np.float64) for side in seq}
  real = batch["chosen_segment_ids"].any(1) | batch["rejected_segment_ids"].any(1)
  per_pair, dratio, reward = trl_pair_losses(
    loss, beta, smoothing, ratio["chosen"], ratio["rejected"], count["chosen"], count["rejected"]
  )
  grad = np.zeros_like(table, np.float64)
  for side, d in zip(seq, dratio):
    probs = np.exp(log_softmax(table[batch[f"{side}_inputs"]].astype(np.float64)))
    onehot = np.eye(VOCAB)[batch[f"{side}_targets"]]
    per_token = (onehot - probs) * (batch[f"{side}_loss_mask"] * (d * real)[:, None])[..., None]
    np.add.at(grad, batch[f"{side}_inputs"], per_token)
  rewards = dict(zip(seq, reward))
  return (per_pair * real).sum(), grad, rewards, seq, real


@pytest.mark.parametrize(
  "loss,beta,smoothing,accumulate",
  [
    ("sigmoid", 0.1, 0.0, False),
    ("sigmoid", 0.5, 0.1, True),
    ("ipo", 0.5, 0.0, False),
    ("sigmoid_length_normalised", 2.0, 0.0, False),
  ],
)
def test_loss_and_gradient_match_a_hand_computed_reference(loss, beta, smoothing, accumulate):
  batch, table = _batch()
  config = ml_collections.ConfigDict(
    {"dpo": {"loss": loss, "beta": beta, "label_smoothing": smoothing}, "train": {"loss_chunk": 4}}
  )
  loss_fn = losses.dpo_loss(config)
  device_batch = {k: jnp.asarray(v) for k, v in batch.items()}

  def objective(t):
    out = loss_fn(_Bigram(t), device_batch)
    return out.numerator, out

  (numerator, out), grad = jax.value_and_grad(objective, has_aux=True)(jnp.asarray(table))
  want, want_grad, rewards, seq, real = _numpy_reference(loss, beta, smoothing, table, batch)
  np.testing.assert_allclose(numerator, want, rtol=1e-5)
  np.testing.assert_allclose(grad, want_grad, rtol=1e-4, atol=1e-6)
  assert float(out.denominator) == 3.0  # the filler pair counts for nothing
  assert float(out.sums["empty_completions"]) == 1.0
  assert np.abs(want_grad).max() > 1e-3  # the gradient is not trivially zero
  margin = (rewards["chosen"] - rewards["rejected"])[real]
  means = {k: float(total / weight) for k, (total, weight) in out.means.items()}
  assert means["reward_margin"] == pytest.approx(margin.mean(), rel=1e-5)
  assert means["reward_accuracy"] == pytest.approx((margin > 0).mean())
  assert means["chosen_reward"] == pytest.approx(rewards["chosen"][real].mean(), rel=1e-5)
  assert means["rejected_logprob"] == pytest.approx(seq["rejected"][real].mean(), rel=1e-5)
  assert float(out.sums["loss_tokens"]) == sum(r for _, r in CHOSEN + REJECTED)
  if not accumulate:
    return
  # Gradient accumulation adds the sums of micro-batches of pairs before the one division:
  # any split of the pairs gives the same totals, so the normalisation is exact.
  parts = [
    loss_fn(_Bigram(jnp.asarray(table)), {k: v[rows] for k, v in device_batch.items()})
    for rows in (np.array([0, 3]), np.array([1, 2]))
  ]
  added = jax.tree.map(lambda a, b: a + b, *parts)
  np.testing.assert_allclose(added.numerator, out.numerator, rtol=1e-6)
  for k, (total, weight) in out.means.items():
    np.testing.assert_allclose(added.means[k][0] / added.means[k][1], total / weight, rtol=1e-5)


def test_length_normalisation_ignores_length_sigmoid_does_not():
  """Two pairs with the same per-token log-ratios, one with 10x longer responses: the
  length-normalised loss is equal for both, the summed one is not."""
  lp = losses.PairLogprobs(
    policy_chosen=jnp.array([-10.0, -100.0]),
    policy_rejected=jnp.array([-12.0, -120.0]),
    reference_chosen=jnp.array([-11.0, -110.0]),
    reference_rejected=jnp.array([-11.0, -110.0]),
    chosen_tokens=jnp.array([5.0, 50.0]),
    rejected_tokens=jnp.array([5.0, 50.0]),
  )
  normalised = losses.PREFERENCE_LOSSES.get("sigmoid_length_normalised")(lp, 0.1, 0.0)
  summed = losses.PREFERENCE_LOSSES.get("sigmoid")(lp, 0.1, 0.0)
  assert normalised.losses[0] == pytest.approx(float(normalised.losses[1]))
  assert float(summed.losses[1]) < float(summed.losses[0])
  with pytest.raises(ValueError, match="dpo.loss: unknown preference loss 'dpo_typo'; choose"):
    losses.dpo_loss(
      ml_collections.ConfigDict(
        {
          "dpo": {"loss": "dpo_typo", "beta": 0.1, "label_smoothing": 0.0},
          "train": {"loss_chunk": 4},
        }
      )
    )


def _pairs(dtype, policy, reference, tokens):
  arrays = [np.asarray(x, dtype) for x in (*policy, *reference, *tokens)]
  return losses.PairLogprobs(*arrays)


@pytest.mark.parametrize("dtype,tolerance", [(np.float64, 1e-6), (np.float32, 2e-5)])
def test_ipo_is_trl_length_normalised_worked_example(dtype, tolerance):
  """beta 0.1, every policy token log-prob -1, reference -1.5 on the 4 chosen tokens and
  -0.6 on the 5 rejected ones: (2 / 4 - (-2) / 5 - 5)^2 = 16.81 (the summed form gave
  (2 + 2 - 5)^2 = 1); at initialisation (policy == reference) 25."""
  ipo = losses.PREFERENCE_LOSSES.get("ipo")
  with jax.enable_x64(dtype == np.float64):
    trained = ipo(_pairs(dtype, ([-4.0], [-5.0]), ([-6.0], [-3.0]), ([4], [5])), 0.1, 0.0)
    start = ipo(_pairs(dtype, ([-4.0], [-5.0]), ([-4.0], [-5.0]), ([4], [5])), 0.1, 0.0)
    assert trained.losses.dtype == dtype
    assert float(trained.losses[0]) == pytest.approx(16.81, abs=tolerance)
    assert float(start.losses[0]) == pytest.approx(25.0, abs=tolerance)
    # Rewards stay beta x the summed log-ratios (TRL >= 1).
    assert float(trained.chosen_rewards[0]) == pytest.approx(0.2, abs=tolerance)
    assert float(trained.rejected_rewards[0]) == pytest.approx(-0.2, abs=tolerance)


@pytest.mark.parametrize("dtype,tolerance", [(np.float64, 1e-9), (np.float32, 2e-5)])
def test_preference_losses_match_trl_on_random_pairs(dtype, tolerance):
  """Every preference loss against the TRL rule above on random pairs, a few of them with an
  empty completion (summed log-probs 0 over 0 tokens)."""
  rng = np.random.default_rng(5)
  n = 64
  tokens = rng.integers(0, 40, (2, n))
  tokens[:, :4] = [[0, 3, 0, 7], [2, 0, 0, 1]]
  policy = -rng.uniform(0.1, 3.0, (2, n)) * tokens
  reference = policy + rng.normal(0.0, 0.5, (2, n)) * tokens
  lp = _pairs(dtype, policy, reference, tokens)
  # The log-ratios of the inputs as stored (float32 rounds them), then exact.
  dc = np.float64(lp.policy_chosen) - np.float64(lp.reference_chosen)
  dr = np.float64(lp.policy_rejected) - np.float64(lp.reference_rejected)
  with jax.enable_x64(dtype == np.float64):
    for name in losses.PREFERENCE_LOSSES:
      for beta, smoothing in ((0.1, 0.0), (0.5, 0.2)):
        got = losses.PREFERENCE_LOSSES.get(name)(lp, beta, smoothing)
        want, _, rewards = trl_pair_losses(
          name, beta, 0.0 if name == "ipo" else smoothing, dc, dr, *tokens
        )
        np.testing.assert_allclose(
          got.losses, want, rtol=tolerance, atol=tolerance / 20, err_msg=name
        )
        np.testing.assert_allclose(
          got.chosen_rewards, rewards[0], rtol=tolerance, atol=tolerance / 20
        )
        np.testing.assert_allclose(
          got.rejected_rewards, rewards[1], rtol=tolerance, atol=tolerance / 20
        )


@pytest.mark.parametrize("dtype,tolerance", [(np.float64, 1e-6), (np.float32, 2e-5)])
def test_empty_completion_counts_as_trl_counts_it(dtype, tolerance):
  """A chosen completion with no token: summed log-probs 0 for policy and reference, length
  1. Rejected: 5 tokens, log-ratio -2. sigmoid (beta 0.1): -log sigmoid(0.2) = 0.5981389;
  IPO: (0 - (-2) / 5 - 5)^2 = 21.16 (the summed form gave 9); length-normalised DPO:
  -log sigmoid(0.04) = 0.6733472."""
  pair = _pairs(dtype, ([0.0], [-5.0]), ([0.0], [-3.0]), ([0], [5]))
  want = {"sigmoid": 0.5981388693, "ipo": 21.16, "sigmoid_length_normalised": 0.6733471672}
  with jax.enable_x64(dtype == np.float64):
    for name, value in want.items():
      got = losses.PREFERENCE_LOSSES.get(name)(pair, 0.1, 0.0)
      assert float(got.losses[0]) == pytest.approx(value, abs=tolerance), name
