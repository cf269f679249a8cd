"""Meshes, the logical-axis rules table, and multi-process start-up."""

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from xcoder_jax import sharding

from ports import free_port


def test_mesh_fills_minus_one_and_orders_axes():
  mesh = sharding.make_mesh(sharding.MeshConfig(ici={"data": 2, "fsdp": -1, "tensor": 2}))
  assert mesh.axis_names == sharding.MESH_AXES
  assert dict(mesh.shape) == {"data": 2, "fsdp": 2, "sequence": 1, "tensor": 2}


def test_hybrid_mesh_from_dcn_sizes():
  devices = jax.devices()
  mesh = sharding.make_mesh(sharding.MeshConfig(ici={"fsdp": -1}, dcn={"data": 2}), devices)
  assert dict(mesh.shape)["data"] == 2 and dict(mesh.shape)["fsdp"] == 4


@pytest.mark.parametrize(
  "ici,message",
  [
    ({"fsdp": 3}, "use 3 devices but 8"),
    ({"fsdp": -1, "tensor": -1}, "at most one axis"),
    ({"fsdp": -1, "tensor": 3}, "cannot be split"),
    ({"model": 2}, "unknown mesh axes"),
  ],
)
def test_bad_mesh_sizes_are_explained(ici, message):
  with pytest.raises(ValueError, match=message):
    sharding.make_mesh(sharding.MeshConfig(ici=ici))


def test_rules_map_logical_names_and_skip_trivial_axes():
  mesh = sharding.make_mesh(sharding.MeshConfig(ici={"fsdp": 4, "tensor": 2}))
  assert sharding.logical_to_spec(("embed", "heads", "head_dim"), (8, 4, 2), mesh) == P(
    "fsdp", "tensor"
  )
  assert sharding.logical_to_spec(("activation_batch", "activation_length"), (8, 4), mesh) == P(
    "fsdp"
  )
  data = sharding.make_mesh(sharding.MeshConfig(ici={"data": 2, "fsdp": 4}))
  assert sharding.logical_to_spec(("activation_batch",), (8,), data) == P(("data", "fsdp"))


def test_indivisible_dimension_is_replicated_not_crashed():
  mesh = sharding.make_mesh(sharding.MeshConfig(ici={"fsdp": 1, "tensor": 8}))
  # 4 KV heads on 8-way tensor parallelism (the 7B model on 8 GPUs): replicate the heads.
  assert sharding.logical_to_spec(("embed", "kv_heads", "head_dim"), (16, 4, 8), mesh) == P()


def test_unknown_logical_name_points_at_the_table():
  with pytest.raises(KeyError, match="LOGICAL_AXIS_RULES"):
    sharding.logical_to_spec(("embedding",))


def test_constrain_is_identity_without_mesh():
  x = np.ones((4, 4))
  assert sharding.constrain(x, ("activation_batch", None)) is x


def test_single_process_start_is_a_no_op(monkeypatch):
  for var in (
    "SLURM_JOB_ID",
    "TPU_WORKER_HOSTNAMES",
    "OMPI_COMM_WORLD_SIZE",
    "JAX_COORDINATOR_ADDRESS",
  ):
    monkeypatch.delenv(var, raising=False)
  sharding.initialize_distributed()
  assert jax.process_count() == 1


_WORKER = textwrap.dedent("""
    import sys
    import numpy as np
    import jax
    from xcoder_jax import sharding
    from xcoder_jax.models import get_preset
    from xcoder_jax.models.build import create_model
    from jax.experimental import multihost_utils
    sharding.initialize_distributed(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), timeout_s=120)
    assert jax.process_count() == int(sys.argv[2]) and jax.device_count() == 4
    mesh = sharding.make_mesh(sharding.MeshConfig(ici={"fsdp": 2, "tensor": 2}))
    config = get_preset("tiny", vocab_size=256, num_layers=2)
    model = create_model(config, mesh, seed=3)
    tokens = np.arange(4 * 8).reshape(4, 8) % 256
    with sharding.use_mesh(mesh):
      logits = jax.jit(lambda m, t: m(t))(model, tokens)
    total = multihost_utils.process_allgather(logits, tiled=True).astype(np.float64).sum()
    print(f"CHECKSUM {total:.6f}", flush=True)
""")


@pytest.mark.slow
def test_two_processes_agree_with_one(tmp_path):
  script = tmp_path / "worker.py"
  script.write_text(_WORKER)
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
  address = f"127.0.0.1:{free_port()}"
  procs = [
    subprocess.Popen(
      [sys.executable, str(script), address, "2", str(i)],
      env=env,
      stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT,
      text=True,
    )
    for i in range(2)
  ]
  outputs = [p.communicate(timeout=240)[0] for p in procs]
  assert all(p.returncode == 0 for p in procs), outputs
  sums = [
    float(line.split()[1])
    for out in outputs
    for line in out.splitlines()
    if line.startswith("CHECKSUM")
  ]
  env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
  single = subprocess.run(
    [sys.executable, str(script), address, "1", "0"],
    env=env,
    capture_output=True,
    text=True,
    timeout=240,
  )
  # A 1-process run of the same 4-device job gives the reference.
  reference = [
    float(line.split()[1]) for line in single.stdout.splitlines() if line.startswith("CHECKSUM")
  ]
  assert len(sums) == 2 and reference, (outputs, single.stdout, single.stderr[-2000:])
  assert sums[0] == sums[1]
  assert abs(sums[0] - reference[0]) < 1e-3 * max(1.0, abs(reference[0]))


def _full_arrays(compiled_text: str, shape: str) -> list[str]:
  return [line for line in compiled_text.splitlines() if f"f32[{shape}]" in line.split("=")[0]]


def test_embedding_lookup_never_holds_the_whole_activation_on_one_device():
  # The rows of a table split over fsdp x sequence must move to (batch, length) one mesh axis
  # at a time: moving both at once made XLA replicate the whole [batch, length, embed]
  # array on every device (2.3 GiB more per device for Qwen3-8B at 32k), forward and backward.
  mesh = sharding.make_mesh(sharding.MeshConfig(ici={"fsdp": 2, "sequence": 4}))
  table = np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32)
  tokens = np.random.default_rng(1).integers(0, 64, size=(4, 16)).astype(np.int32)
  names = ("activation_batch", "activation_length", "activation_embed")

  def loss(table, tokens):
    rows = sharding.take_rows(table, tokens, ("vocab", "embed"), names)
    return (rows * jax.numpy.arange(32.0)).sum()

  with sharding.use_mesh(mesh):
    table_sharding = sharding.named_sharding(("vocab", "embed"), table.shape)
    placed = jax.device_put(table, table_sharding)
    step = jax.jit(jax.value_and_grad(loss))
    value, grad = step(placed, tokens)
    text = step.lower(placed, tokens).compile().as_text()
  assert _full_arrays(text, "4,16,32") == [], "the whole activation is materialised"
  np.testing.assert_allclose(value, (table[tokens] * np.arange(32.0)).sum(), rtol=1e-5)
  expected = np.zeros_like(table)
  np.add.at(expected, tokens.reshape(-1), np.broadcast_to(np.arange(32.0), (64, 32)))
  np.testing.assert_allclose(grad, expected, rtol=1e-5)
