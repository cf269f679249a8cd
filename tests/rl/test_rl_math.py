"""Advantages, the actor loss and its aggregation: hand-computed values and verl's formulas.

The numpy references below are written from reading verl's ``compute_grpo_outcome_advantage``,
``compute_rloo_outcome_advantage``, ``compute_policy_loss``, ``agg_loss`` and ``kl_penalty``
(X-Coder's recipe copy and upstream volcengine/verl).
"""

import collections
import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xcoder_jax import rl
from xcoder_jax.rl import aggregation

MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm")
NORM = 4.0  # the Dr.GRPO constant in these tests


def verl_outcome_advantages(estimator, scores, index, eps=1e-6):
  """verl's outcome advantages, grouped by prompt index: a group of one has mean 0 and std 1
  (grpo: (s - mean) / (std + eps), unbiased std; drgrpo: grpo without the std; rloo:
  s n / (n - 1) - mean n / (n - 1), the raw score for a singleton)."""
  groups = collections.defaultdict(list)
  for i, s in zip(index, scores):
    groups[i].append(float(s))
  out = []
  for i, s in zip(index, scores):
    group = groups[i]
    n = len(group)
    mean = sum(group) / n if n > 1 else 0.0
    std = math.sqrt(sum((g - mean) ** 2 for g in group) / (n - 1)) if n > 1 else 1.0
    if estimator == "grpo":
      out.append((s - mean) / (std + eps))
    elif estimator == "drgrpo":
      out.append(s - mean)
    else:
      out.append(s * n / (n - 1) - mean * n / (n - 1) if n > 1 else s)
  return np.array(out)


def verl_agg(loss, mask, mode, constant=NORM):
  if mode == "token-mean":
    return (loss * mask).sum() / mask.sum()
  seq_sum = (loss * mask).sum(-1)
  seq_valid = mask.sum(-1) > 0
  if mode == "seq-mean-token-sum":
    return seq_sum[seq_valid].sum() / seq_valid.sum()
  if mode == "seq-mean-token-mean":
    return (seq_sum / (mask.sum(-1) + 1e-8))[seq_valid].sum() / seq_valid.sum()
  return seq_sum.sum() / constant  # upstream agg_loss(loss_scale_factor=constant): no row count


def verl_policy_loss(old, new, adv, mask, mode, low=0.2, high=0.28, c=3.0):
  masked_mean = lambda x: (x * mask).sum() / mask.sum()
  log_ratio = np.clip(new - old, -20.0, 20.0)
  ratio = np.exp(log_ratio)
  loss1, loss2 = -adv * ratio, -adv * np.clip(ratio, 1 - low, 1 + high)
  clipped = np.maximum(loss1, loss2)
  bound = -adv * c
  losses = np.where(adv < 0, np.minimum(bound, clipped), clipped)
  return {
    "loss": verl_agg(losses, mask, mode),
    "clipfrac": masked_mean(loss2 > loss1),
    "clipfrac_dual": masked_mean((clipped > bound) & (adv < 0)),
    "ppo_kl": masked_mean(-log_ratio),
  }


def verl_low_var_kl(logprob, ref):
  kl = ref - logprob
  return np.clip(np.exp(kl) - kl - 1, -10, 10)


CONFIGS = tuple(
  rl.LossConfig(aggregation=mode, norm_constant=NORM, entropy_coef=0.001, kl_coef=0.01)
  for mode in MODES
)


@functools.partial(jax.jit, static_argnums=0)
def losses_and_grads(configs, log_probs, old, adv, mask, entropy=None, ref=None, normalisers=None):
  """[((loss, LossOutput), d loss / d log_probs) per config]: several configs in ONE compile
  (compiling is what costs time in these tests)."""
  results = []
  for index, config in enumerate(configs):
    normaliser = None if normalisers is None else normalisers[index]

    def loss(lp, config=config, normaliser=normaliser):
      out = rl.policy_loss(config.check(), lp, old, adv, mask, entropy, ref, normaliser)
      return out.loss, out

    results.append(jax.value_and_grad(loss, has_aux=True)(log_probs))
  return results


@jax.jit
def every_aggregation(values, mask):
  return [aggregation.aggregate(mode, values, mask, NORM) for mode in MODES]


def test_grpo_drgrpo_rloo_by_hand_and_against_verl():
  rewards = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0, -2.0, 5.0, 0.0, 2.5])
  std = math.sqrt(5 / 3)  # unbiased std of 1..4
  grpo = rl.compute_advantages("grpo", rewards, group_size=4)
  assert grpo.dtype == np.float32 and grpo.shape == (12,)
  np.testing.assert_allclose(grpo[:4], [(r - 2.5) / (std + 1e-6) for r in (1, 2, 3, 4)], 1e-6)
  assert np.all(grpo[4:8] == 0.0)  # all-equal group: 0, no NaN
  index = np.repeat(np.arange(3), 4)
  np.testing.assert_allclose(grpo, verl_outcome_advantages("grpo", rewards, index), rtol=1e-6)
  grouped = rl.compute_advantages("grpo", rewards.reshape(3, 4))
  np.testing.assert_array_equal(grouped.reshape(-1), grpo)
  np.testing.assert_allclose(
    rl.compute_advantages("drgrpo", rewards, group_size=4)[:4], [-1.5, -0.5, 0.5, 1.5]
  )
  rloo = rl.compute_advantages("rloo", rewards, group_size=4)
  np.testing.assert_allclose(rloo[:4], [1 - 3, 2 - 8 / 3, 3 - 7 / 3, 4 - 2], rtol=1e-6)
  want = verl_outcome_advantages("rloo", rewards, index)
  np.testing.assert_allclose(rloo, want, rtol=1e-6, atol=1e-6)
  with pytest.raises(ValueError, match="group_size"):
    rl.compute_advantages("grpo", rewards)
  with pytest.raises(ValueError, match="finite"):
    rl.compute_advantages("grpo", [1.0, float("nan")], group_size=2)
  with pytest.raises(KeyError, match="drgrpo, grpo, rloo"):
    rl.compute_advantages("ppo", rewards, group_size=4)


def test_singleton_groups_follow_verl_mean_0_std_1():
  """A prompt with one rollout: verl takes mean 0 and std 1, so the reward 3.5 gives GRPO
  3.5 / (1 + 1e-6) = 3.4999965, Dr.GRPO and RLOO 3.5 (it used to be 0 here)."""
  want = {"grpo": 3.5 / (1 + 1e-6), "drgrpo": 3.5, "rloo": 3.5}
  assert want["grpo"] == pytest.approx(3.4999965, abs=1e-6)
  for name, value in want.items():
    exact = rl.ADVANTAGE_ESTIMATORS.get(name)(np.array([[3.5], [-2.0]]))
    np.testing.assert_allclose(exact[:, 0], [value, value * -2 / 3.5], rtol=0, atol=1e-6)
    single = rl.compute_advantages(name, [3.5, -2.0], group_size=1)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, [value, value * -2 / 3.5], rtol=0, atol=2e-5)


@pytest.mark.parametrize("name", ["grpo", "drgrpo", "rloo"])
def test_estimators_match_verl_on_random_groups(name):
  rng = np.random.default_rng(7)
  for n in (1, 2, 3, 5, 8):
    # Judge-like rewards (ties, all-equal groups) and continuous ones.
    rewards = np.where(
      rng.random((6, n)) < 0.5, rng.choice([-2.0, 0.0, 2.5, 5.0], (6, n)), rng.normal(0, 3, (6, n))
    )
    rewards[0] = rewards[0, 0]  # one all-equal group in every draw
    want = verl_outcome_advantages(name, rewards.reshape(-1), np.repeat(np.arange(6), n))
    exact = rl.ADVANTAGE_ESTIMATORS.get(name)(rewards).reshape(-1)
    np.testing.assert_allclose(exact, want, rtol=1e-6, atol=1e-6, err_msg=f"n={n}")
    single = rl.compute_advantages(name, rewards.reshape(-1), group_size=n)
    np.testing.assert_allclose(single, want, rtol=2e-5, atol=2e-5, err_msg=f"n={n}")


def test_aggregations_by_hand():
  values = jnp.array([[1.0, 2.0, 3.0], [4.0, 99.0, 99.0], [7.0, 7.0, 7.0]])
  mask = jnp.array([[1, 1, 1], [1, 0, 0], [0, 0, 0]])  # last row: padding, never counted
  expected = {
    "token-mean": 10 / 4,
    "seq-mean-token-mean": (2 + 4) / 2,
    "seq-mean-token-sum": (6 + 4) / 2,
    "seq-mean-token-sum-norm": (6 + 4) / NORM,
  }
  for got, value in zip(every_aggregation(values, mask), expected.values()):
    assert float(got) == pytest.approx(value)
  # Dr.GRPO's normaliser is the constant alone: the same rows twice (empty row included) give
  # twice the loss, where the seq-mean modes stay put.
  doubled = every_aggregation(jnp.tile(values, (2, 1)), jnp.tile(mask, (2, 1)))
  assert float(doubled[3]) == pytest.approx(2 * 10 / NORM) and float(doubled[2]) == 5.0
  assert all(float(v) == 0.0 for v in every_aggregation(values, jnp.zeros_like(mask)))
  with pytest.raises(ValueError, match="norm_constant"):
    aggregation.aggregate("seq-mean-token-sum-norm", values, mask)


def test_aggregations_match_verl_on_random_masks():
  """Every mode against verl's agg_loss rule on batches with empty rows (which every
  ``seq-mean-token-*`` denominator leaves out and Dr.GRPO's constant ignores)."""
  rng = np.random.default_rng(3)
  for _ in range(5):
    values = rng.normal(0.0, 2.0, (5, 3)).astype(np.float32)
    mask = (rng.random((5, 3)) < 0.6).astype(np.float32)
    mask[rng.integers(5)] = 0.0
    mask[rng.integers(5), 0] = 1.0  # at least one valid token
    for mode, got in zip(MODES, every_aggregation(values, mask)):
      want = verl_agg(values.astype(np.float64), mask, mode)
      assert float(got) == pytest.approx(want, rel=2e-5, abs=2e-6), mode


def test_clip_low_high_dual_by_hand():
  big = math.exp(20.0)  # the log-ratio is clamped to [-20, 20], so is its gradient
  cases = [  # advantage, ratio, flag, (loss, d loss / d log pi) for dual_clip and ppo_clip
    (1.0, 1.5, "clip_high", (-1.28, 0.0), (-1.28, 0.0)),
    (2.0, 3.0, "clip_high", (-2.56, 0.0), (-2.56, 0.0)),
    (1.0, 0.5, None, (-0.5, -0.5), (-0.5, -0.5)),  # low clip never binds a positive advantage
    (-1.0, 0.5, "clip_low", (0.8, 0.0), (0.8, 0.0)),
    (-1.0, 1.5, None, (1.5, 1.5), (1.5, 1.5)),  # high clip never binds a negative advantage
    (-1.0, 5.0, "clip_dual", (3.0, 0.0), (5.0, 5.0)),
    (-2.0, math.exp(30.0), "clip_dual", (6.0, 0.0), (2.0 * big, 0.0)),
    (2.0, math.exp(-30.0), None, (-2.0 / big, 0.0), (-2.0 / big, 0.0)),
    (0.0, 9.0, None, (0.0, 0.0), (0.0, 0.0)),
  ]
  adv = jnp.array([c[0] for c in cases])
  old = jnp.full((len(cases), 1), -1.0)
  new = old + jnp.log(jnp.array([c[1] for c in cases]))[:, None]
  mask = jnp.ones_like(old)
  configs = tuple(
    rl.LossConfig(policy_loss=name, aggregation="token-mean", entropy_coef=0.0)
    for name in ("dual_clip", "ppo_clip")
  )
  results = losses_and_grads(configs, new, old, adv, mask)
  for name, column, ((_, out), grad) in zip(("dual_clip", "ppo_clip"), (3, 4), results):
    assert float(out.loss) == pytest.approx(np.mean([c[column][0] for c in cases]), rel=1e-5)
    np.testing.assert_allclose(grad[:, 0] * len(cases), [c[column][1] for c in cases], 1e-5)
    for flag in ("clip_low", "clip_high", "clip_dual"):
      count = sum(c[2] == flag for c in cases) if name == "dual_clip" or flag != "clip_dual" else 0
      assert float(out.token_sums[flag.replace("clip_", "clipfrac_")]) == count, (name, flag)


def test_matches_verl_on_random_batches_every_mode():
  rng = np.random.default_rng(0)
  shape = (6, 9)
  old = rng.normal(-2.0, 1.0, shape)
  new = old + rng.normal(0.0, 0.6, shape)
  new[0, :3] = old[0, :3] + np.array([6.0, -6.0, 25.0])  # far outside the clip range
  adv = np.repeat(rng.normal(0.0, 1.5, (6, 1)), 9, axis=1)
  lengths = np.array([9, 1, 4, 7, 9, 2])
  mask = (np.arange(9)[None] < lengths[:, None]).astype(np.float32)
  configs = tuple(dataclasses.replace(c, entropy_coef=0.0, kl_coef=0.0) for c in CONFIGS)
  for mode, ((_, out), _) in zip(MODES, losses_and_grads(configs, new, old, adv[:, 0], mask)):
    ref = verl_policy_loss(old, new, adv, mask, mode)
    assert float(out.loss) == pytest.approx(ref["loss"], rel=1e-5), mode
    means = rl.token_means(out.token_sums)
    assert means["clipfrac"] == pytest.approx(ref["clipfrac"])
    assert means["clipfrac_dual"] == pytest.approx(ref["clipfrac_dual"])
    assert means["ppo_kl"] == pytest.approx(ref["ppo_kl"], rel=1e-5)
    assert means["clipfrac_low"] + means["clipfrac_high"] == pytest.approx(means["clipfrac"])


def test_micro_batches_sum_to_the_whole_batch_every_mode():
  rng = np.random.default_rng(1)
  shape = (6, 8)
  old = jnp.asarray(rng.normal(-2.0, 1.0, shape), jnp.float32)
  new = old + jnp.asarray(rng.normal(0.0, 0.5, shape), jnp.float32)
  adv = jnp.asarray(rng.normal(0.0, 1.0, 6), jnp.float32)
  mask = jnp.asarray(np.arange(8)[None] < np.array([8, 3, 0, 5, 1, 6])[:, None], jnp.float32)
  entropy = jnp.asarray(rng.uniform(0.0, 3.0, shape), jnp.float32)
  ref = old + jnp.asarray(rng.normal(0.0, 0.3, shape), jnp.float32)
  rows = np.array([0, 3, 5, 1, 2, 4])  # rows 2 and 5 go to different micro-batches
  args = (old, adv, mask, entropy, ref)
  normalisers = jnp.stack([aggregation.denominator(mode, mask, NORM) for mode in MODES])
  parts = [
    losses_and_grads(CONFIGS, new[p], *(x[p] for x in args), normalisers=normalisers)
    for p in (rows[:3], rows[3:])
  ]
  for index, ((whole, whole_out), whole_grad) in enumerate(losses_and_grads(CONFIGS, new, *args)):
    mode, split = MODES[index], [part[index] for part in parts]
    assert sum(float(v) for (v, _), _ in split) == pytest.approx(float(whole), rel=1e-5), mode
    grad = np.zeros(new.shape)
    for part, (_, g) in zip((rows[:3], rows[3:]), split):
      grad[part] = g
    np.testing.assert_allclose(grad, whole_grad, rtol=1e-5, atol=1e-7)
    for term in ("pg_loss", "entropy", "kl_loss"):
      total = sum(float(out.terms[term]) for (_, out), _ in split)
      assert total == pytest.approx(float(whole_out.terms[term]), rel=1e-5, abs=1e-7)
    summed = {k: sum(out.token_sums[k] for (_, out), _ in split) for k in whole_out.token_sums}
    for name, value in rl.token_means(summed).items():
      assert value == pytest.approx(rl.token_means(whole_out.token_sums)[name], rel=1e-5)


def test_entropy_bonus_and_kl_terms():
  lp = jnp.array([[-1.0, -0.5], [-3.0, -2.0]])
  ref = jnp.array([[-2.0, 40.0], [-3.0, 7.0]])  # a huge gap: low_var_kl clamps at 10
  entropy = jnp.array([[2.0, 1.0], [0.5, 0.25]])
  mask = jnp.array([[1.0, 1.0], [1.0, 0.0]])
  adv = jnp.zeros(2)
  configs = tuple(
    rl.LossConfig(aggregation="token-mean", entropy_coef=0.001, kl_coef=0.01, kl_estimator=name)
    for name in ("k3", "k1")
  )
  [((_, k3), _), ((_, k1), _)] = losses_and_grads(configs, lp, lp, adv, mask, entropy, ref)
  low_var = verl_low_var_kl(np.array([-1.0, -0.5, -3.0]), np.array([-2.0, 40.0, -3.0]))
  assert low_var[1] == 10.0
  assert float(k3.terms["entropy"]) == pytest.approx(3.5 / 3)
  assert float(k3.terms["kl_loss"]) == pytest.approx(low_var.mean(), rel=1e-6)
  assert float(k3.loss) == pytest.approx(-0.001 * 3.5 / 3 + 0.01 * low_var.mean(), rel=1e-5)
  assert float(k1.terms["kl_loss"]) == pytest.approx((1.0 - 40.5 + 0.0) / 3, rel=1e-6)
  with pytest.raises(ValueError, match="entropy"):
    rl.policy_loss(configs[0], lp, lp, adv, mask, None, ref)
  with pytest.raises(ValueError, match="reference"):
    rl.policy_loss(configs[0], lp, lp, adv, mask, entropy, None)


def test_fully_masked_rows_and_garbage_give_no_nan():
  nan, inf = float("nan"), float("inf")
  lp = jnp.array([[-1.0, nan], [inf, -inf], [nan, nan]])
  old = jnp.array([[-1.2, -inf], [nan, 3.0], [-inf, inf]])
  entropy = jnp.array([[1.0, nan], [nan, inf], [inf, nan]])
  mask = jnp.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
  adv = jnp.array([1.0, nan, -2.0])
  for m in (mask, jnp.zeros_like(mask)):  # one valid token; nothing valid at all
    for mode, ((value, out), grad) in zip(
      MODES, losses_and_grads(CONFIGS, lp, old, adv, m, entropy, old)
    ):
      assert np.isfinite(float(value)) and np.all(np.isfinite(grad)), mode
      assert np.all(grad * (1 - m) == 0.0)
      assert all(np.isfinite(float(v)) for v in out.token_sums.values())
  assert float(value) == 0.0 and rl.token_means(out.token_sums)["clipfrac"] == 0.0


def test_config_refuses_bad_settings():
  with pytest.raises(ValueError, match="policy_loss: unknown policy loss 'ppo'"):
    rl.LossConfig(policy_loss="ppo").check()
  with pytest.raises(ValueError, match="aggregation: unknown loss aggregation"):
    rl.LossConfig(aggregation="mean").check()
  with pytest.raises(ValueError, match="clip_ratio_c"):
    rl.LossConfig(clip_ratio_c=1.0).check()
  with pytest.raises(ValueError, match="norm_constant"):
    rl.LossConfig(aggregation="seq-mean-token-sum-norm").check()
