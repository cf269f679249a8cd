"""Context parallelism: a packed sequence split over the `sequence` mesh axis gives the
single-device attention, loss and gradients, and the compiled step really splits it."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xcoder_jax import sharding
from xcoder_jax.models import context_parallel
from xcoder_jax.models.attention import ATTENTION_KERNELS, Segments
from xcoder_jax.models.build import create_model
from xcoder_jax.models.config import get_preset
from xcoder_jax.train.loss import batch_loss
from xcoder_jax.train.step import batch_sharding

LENGTH = 64
MESHES = {
  "sequence4": {"fsdp": 2, "sequence": 4},
  "sequence2_tensor2": {"fsdp": 2, "sequence": 2, "tensor": 2},  # heads split too
}


def packed_rows() -> tuple[np.ndarray, np.ndarray]:
  """Segment ids and positions of two rows: three packed segments then right padding, and
  left padding then three segments (segment 0 = padding)."""
  rows = [[(1, 20), (2, 30), (3, 10), (0, 4)], [(0, 8), (1, 24), (2, 17), (3, 15)]]
  ids = np.array([[s for s, n in row for _ in range(n)] for row in rows], np.int32)
  positions = np.array([np.concatenate([np.arange(n) for _, n in row]) for row in rows], np.int32)
  return ids, positions


def mesh_of(name):
  return sharding.make_mesh(sharding.MeshConfig(ici=MESHES[name]))


@pytest.mark.parametrize("impl", ["chunked", "flash"])  # "xla" runs in the model test below
def test_sharded_attention_equals_the_unsharded_kernel(impl):
  config = get_preset("tiny", attention_impl=impl, attention_chunk=8)
  ids, positions = packed_rows()
  segments = Segments(*(jnp.asarray(x) for x in (ids, ids, positions, positions)))
  keys = jax.random.split(jax.random.key(0), 3)
  q = jax.random.normal(keys[0], (2, LENGTH, 4, 16))
  k, v = (jax.random.normal(key, (2, LENGTH, 2, 16)) for key in keys[1:])
  expected = ATTENTION_KERNELS.get("xla")(q, k, v, segments, config)
  mesh = mesh_of("sequence2_tensor2")
  with sharding.use_mesh(mesh):
    specs = context_parallel.attention_specs(q.shape, k.shape, mesh)
    assert specs[0] == jax.sharding.PartitionSpec("fsdp", "sequence", "tensor", None)
    got = jax.jit(lambda *a: context_parallel.attend(*a, config))(q, k, v, segments)
  real = ids[..., None, None] != 0  # padding queries see nothing; no caller reads them
  np.testing.assert_allclose(np.where(real, got, 0), np.where(real, expected, 0), atol=2e-5)


@pytest.fixture(scope="module")
def tiny_setup():
  config = get_preset("tiny", num_layers=2)
  ids, positions = packed_rows()
  tokens = jax.random.randint(jax.random.key(1), (2, LENGTH + 1), 1, config.vocab_size)
  batch = {
    "inputs": tokens[:, :-1],
    "targets": tokens[:, 1:],
    "positions": jnp.asarray(positions),
    "segment_ids": jnp.asarray(ids),
    "loss_mask": jnp.asarray(ids != 0, jnp.float32),
  }
  model = create_model(config)
  graphdef, params = nnx.split(model)

  def loss(params, batch):
    total, count = batch_loss(nnx.merge(graphdef, params), batch, chunk=16)
    return total / count

  reference = jax.jit(jax.value_and_grad(loss))(params, batch)
  return config, loss, params, batch, reference


def sharded_step(tiny_setup, mesh):
  config, loss, params, batch, _ = tiny_setup
  param_sh = sharding.state_shardings(params, mesh)
  batch_sh = {name: batch_sharding(mesh) for name in batch}
  return jax.jit(jax.value_and_grad(loss), in_shardings=(param_sh, batch_sh))


@pytest.mark.slow
def test_sequence_sharded_loss_and_gradients_equal_single_device(tiny_setup):
  _, _, params, batch, (want_loss, want_grads) = tiny_setup
  mesh = mesh_of("sequence4")
  with sharding.use_mesh(mesh):
    step = sharded_step(tiny_setup, mesh).lower(params, batch).compile()
    got_loss, got_grads = step(params, batch)
  np.testing.assert_allclose(got_loss, want_loss, rtol=1e-5)
  jax.tree.map(
    lambda g, w: np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6), got_grads, want_grads
  )
  # Each device holds 16 of the 64 tokens of its row and gathers the keys' segment ids
  # (int32 [1 row, 64 keys]) over the sequence axis (devices 0-3, 4-7) inside attention.
  hlo = step.as_text()
  sequence_groups = r"replica_groups=\{\{0,1,2,3\},\{4,5,6,7\}\}"
  assert re.search(r"= s32\[1,64\]\{[^}]*\} all-gather\(.*" + sequence_groups, hlo)
  # The backward pass returns each device its own keys' gradients: a reduce-scatter.
  assert re.search(r"= f32\[1,16,2,64\]\{[^}]*\} reduce-scatter\(.*" + sequence_groups, hlo)
  assert step.input_shardings[0][1]["inputs"].spec == jax.sharding.PartitionSpec("fsdp", "sequence")
