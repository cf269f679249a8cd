"""The Pallas attention kernels ("flash" for GPU, "splash" for TPU) against the "xla" kernel:
forward and gradients on packed rows, left padding and cached decoding, run on CPU in
Pallas interpret mode; and that each kernel lowers for its accelerator."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xcoder_jax import sharding
from xcoder_jax.models import get_preset
from xcoder_jax.models.attention import Segments, attend
from xcoder_jax.models.attention.flash_gpu import flash_attention
from xcoder_jax.models.attention.splash_tpu import splash_attention
from xcoder_jax.models.build import create_model

HEADS, KV_HEADS, DIM = 4, 2, 16  # grouped-query: two query heads per KV head
# Interpret mode is slow: tiles of 16 for flash; splash needs multiples of 128 even there.
CONFIGS = {
  "xla": get_preset("tiny"),
  "flash": get_preset("tiny", attention_impl="flash", attention_block_q=16, attention_block_kv=16),
  # splash decodes with "chunked": blocks of 3 queries make its last block ragged.
  "splash": get_preset("tiny", attention_impl="splash", attention_chunk=3),
}


def _rows(layout, length):
  """Segment ids and positions of rows described as [(segment, start, end), ...]."""
  ids = np.zeros((len(layout), length), np.int32)
  pos = np.zeros((len(layout), length), np.int32)
  for row, spans in enumerate(layout):
    for segment, start, end in spans:
      ids[row, start:end] = segment
      pos[row, start:end] = np.arange(end - start)
  return jnp.asarray(ids), jnp.asarray(pos)


def _qkv(length, keys, seed=0):
  q, k, v = jax.random.split(jax.random.key(seed), 3)
  return (
    jax.random.normal(q, (2, length, HEADS, DIM)),
    jax.random.normal(k, (2, keys, KV_HEADS, DIM)),
    jax.random.normal(v, (2, keys, KV_HEADS, DIM)),
  )


@functools.cache
def _loss_and_grads(impl):
  """A loss over real queries only (padding queries' outputs are unspecified)."""

  def loss(q, k, v, segments):
    out = attend(q, k, v, segments, CONFIGS[impl])
    real = (segments.q_segment_ids != 0)[:, :, None, None]
    return jnp.sum(jnp.where(real, out, 0.0) ** 2 * jnp.arange(1, DIM + 1))

  return jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))


def _assert_same(got, want):
  np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
  for name, a, b in zip("qkv", got[1], want[1]):
    np.testing.assert_allclose(a, b, atol=2e-4, rtol=1e-4, err_msg=f"d{name}")


# Row 0: three packed segments then padding; row 1: left padding then one segment.
PACKED = _rows([[(1, 0, 10), (2, 10, 19), (3, 19, 29)], [(1, 7, 32)]], 32)


@pytest.mark.parametrize("impl", ["flash", "splash"])
def test_packed_and_left_padded_rows_match_xla(impl):
  ids, pos = PACKED
  segments = Segments(ids, ids, pos, pos)
  q, k, v = _qkv(32, 32)
  _assert_same(_loss_and_grads(impl)(q, k, v, segments), _loss_and_grads("xla")(q, k, v, segments))
  out = attend(q, k, v, segments, CONFIGS[impl])
  assert np.isfinite(np.asarray(out)).all()


@pytest.mark.parametrize("impl", ["flash", "splash"])
def test_cached_decoding_matches_xla(impl):
  """Four new queries at cache slots 20..23 of a 48-slot cache: row 0 holds a left-padded
  prompt, row 1 two segments; slots after the new tokens are empty (segment 0)."""
  kv_ids, kv_pos = _rows([[(1, 5, 24)], [(1, 0, 8), (2, 8, 24)]], 48)
  segments = Segments(kv_ids[:, 20:24], kv_ids, kv_pos[:, 20:24], kv_pos)
  q, k, v = _qkv(4, 48, seed=1)
  _assert_same(_loss_and_grads(impl)(q, k, v, segments), _loss_and_grads("xla")(q, k, v, segments))


def _model_loss_and_grad(impl):
  ids, pos = PACKED
  tokens = jax.random.randint(jax.random.key(2), ids.shape, 0, 512)
  small = dict(vocab_size=512, hidden_size=64, intermediate_size=128, head_dim=16, num_layers=1)
  graphdef, params = nnx.split(create_model(CONFIGS[impl].replace(**small), seed=3))

  def loss(params):
    logits = nnx.merge(graphdef, params)(tokens, pos, ids)
    logp = jax.nn.log_softmax(logits[:, :-1])
    nll = -jnp.take_along_axis(logp, tokens[:, 1:, None], axis=-1)[..., 0]
    real = (ids[:, 1:] == ids[:, :-1]) & (ids[:, 1:] != 0)
    return jnp.sum(jnp.where(real, nll, 0.0)) / jnp.sum(real)

  return jax.jit(jax.value_and_grad(loss))(params)


@pytest.fixture(scope="module")
def xla_model_loss():
  return _model_loss_and_grad("xla")


@pytest.mark.parametrize("impl", ["flash", "splash"])
def test_model_loss_and_gradients_match_xla_on_a_packed_batch(impl, xla_model_loss):
  (loss, grad), (want_loss, want_grad) = _model_loss_and_grad(impl), xla_model_loss
  np.testing.assert_allclose(loss, want_loss, rtol=1e-5)
  for a, b in zip(jax.tree.leaves(grad), jax.tree.leaves(want_grad)):
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_flash_runs_per_shard_on_a_mesh():
  """Batch over "data", heads over "tensor": each device runs the kernel on its block."""
  ids, pos = PACKED
  segments = Segments(ids, ids, pos, pos)
  q, k, v = _qkv(32, 32)
  mesh = sharding.make_mesh(sharding.MeshConfig(ici={"data": 2, "fsdp": -1, "tensor": 2}))
  with sharding.use_mesh(mesh):
    got = jax.jit(attend, static_argnums=4)(q, k, v, segments, CONFIGS["flash"])
  want = attend(q, k, v, segments, CONFIGS["xla"])
  real = np.asarray(ids != 0)
  np.testing.assert_allclose(np.asarray(got)[real], np.asarray(want)[real], atol=1e-5)


@pytest.mark.parametrize(
  "kernel,platform,blocks",
  [(flash_attention, "cuda", 64), (splash_attention, "tpu", 128)],
)
def test_kernels_lower_for_their_accelerator(kernel, platform, blocks):
  """Forward and backward lower to Triton (GPU) or Mosaic (TPU) with bf16 and 7 query heads
  per KV head, as in Qwen2.5-Coder-7B: what interpret mode cannot check."""
  q = jax.ShapeDtypeStruct((1, 256, 28, 128), jnp.bfloat16)
  kv = jax.ShapeDtypeStruct((1, 256, 4, 128), jnp.bfloat16)
  ids = jax.ShapeDtypeStruct((1, 256), jnp.int32)

  def loss(q, k, v, segments):
    out = kernel(q, k, v, segments, block_q=blocks, block_kv=blocks, interpret=False)
    return jnp.sum(out.astype(jnp.float32))

  grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
  lowered = grads.trace(q, kv, kv, Segments(ids, ids, ids, ids)).lower(
    lowering_platforms=(platform,)
  )
  assert "custom_call" in lowered.as_text()


def test_pallas_kernels_refuse_the_other_accelerator(monkeypatch):
  monkeypatch.setattr(jax, "default_backend", lambda: "tpu")
  q, k, v = _qkv(4, 4)
  ids = jnp.ones((2, 4), jnp.int32)
  with pytest.raises(ValueError, match="use 'splash'"):
    attend(q, k, v, Segments(ids, ids, ids, ids), CONFIGS["flash"])
