"""Every named remat policy computes the same loss and gradients as keeping everything, and
the checkpoint_name tags in the decoder really change what the backward pass keeps."""

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xcoder_jax.models import get_preset
from xcoder_jax.models.qwen import Qwen
from xcoder_jax.models.remat import REMAT_POLICIES

TOKENS = jnp.asarray(np.random.RandomState(0).randint(0, 4096, (2, 16)), jnp.int32)
SEGMENTS = jnp.asarray([[1] * 10 + [2] * 6, [0] * 4 + [1] * 12], jnp.int32)  # packed, padded


def _loss_fn(policy: str):
  """(loss of the parameters, parameters); the same seed gives every policy the same ones."""
  config = get_preset("tiny", num_layers=2, remat_policy=policy)
  graphdef, params = nnx.split(Qwen(config, rngs=nnx.Rngs(0)))

  def loss(params):
    logits = nnx.merge(graphdef, params)(TOKENS, segment_ids=SEGMENTS)
    return jnp.mean(jax.nn.log_softmax(logits)[..., 0] * (SEGMENTS > 0))

  return loss, params


# "full" and "dots" are checked in test_model.py (scan and loop); "none" is the reference.
CHECKED = [n for n in REMAT_POLICIES.names() if n not in ("full", "dots")]


@pytest.fixture(scope="module")
def results():
  """Loss and gradients under each checked policy, all from one compiled function."""
  losses = {name: _loss_fn(name) for name in CHECKED}
  params = losses["none"][1]
  run = jax.jit(lambda p: {name: jax.value_and_grad(fn)(p) for name, (fn, _) in losses.items()})
  return run(params)


@pytest.mark.parametrize("policy", [n for n in CHECKED if n != "none"])
def test_policy_gives_the_same_loss_and_gradients(results, policy):
  (loss, grads), (ref_loss, ref_grads) = results[policy], results["none"]
  np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
  for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads), strict=True):
    # recomputed values may be fused differently: float32 rounding, not a different result
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def _saved_bytes(policy: str, capsys) -> dict[str, int]:
  """Bytes the backward pass keeps from the layer scan, on the device and on the host."""
  loss, params = _loss_fn(policy)
  capsys.readouterr()
  jax.ad_checkpoint.print_saved_residuals(loss, params)
  out = {"device": 0, "host": 0}
  for line in capsys.readouterr().out.splitlines():
    match = re.match(r"f32(<host>)?\[([\d,]+)\] output of scan", line)
    if match:
      size = 4 * math.prod(int(n) for n in match.group(2).split(","))
      out["host" if match.group(1) else "device"] += size
  return out


def test_named_policies_save_what_they_name(capsys):
  saved = {
    name: _saved_bytes(name, capsys)
    for name in ("full", "save_qkv_proj", "save_attention", "save_all_but_mlp", "offload_qkv")
  }
  device = [
    saved[n]["device"] for n in ("full", "save_qkv_proj", "save_attention", "save_all_but_mlp")
  ]
  assert device == sorted(set(device)), saved  # each policy keeps strictly more
  layers, tokens, d = 2, TOKENS.size, 64
  # q (4 heads), k and v (2 KV heads each) of every layer, in float32
  assert saved["save_qkv_proj"]["device"] - saved["full"]["device"] == 4 * layers * tokens * d * 8
  assert saved["offload_qkv"] == {"device": saved["full"]["device"], "host": device[1] - device[0]}
