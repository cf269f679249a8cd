"""Device meshes, the one table of logical-axis rules, and multi-host start-up.

Layers name the axes of their parameters and activations with logical names ("embed",
"heads", "activation_batch", ...). `LOGICAL_AXIS_RULES` maps each name to mesh axes; it is the
only place where a sharding decision is made. Changing the parallelism of a run means changing
the mesh sizes, never the model code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from flax import nnx
from jax.experimental import mesh_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

# Outer to inner: data parallel across slices/hosts, tensor parallel on the fastest links.
MESH_AXES = ("data", "fsdp", "sequence", "tensor")

# logical name -> mesh axis, tuple of mesh axes, or None (replicated).
LOGICAL_AXIS_RULES: dict[str, str | tuple[str, ...] | None] = {
  # parameters
  "vocab": "tensor",
  # Weights are also split over `sequence`: the devices of a context-parallel group hold
  # different tokens but the same weights, so they share the weights' memory like fsdp does.
  "embed": ("fsdp", "sequence"),
  "heads": "tensor",
  "kv_heads": "tensor",
  "head_dim": None,
  "mlp": "tensor",
  "norm": None,
  "layers": None,
  # activations
  "activation_batch": ("data", "fsdp"),
  "activation_length": "sequence",
  "activation_embed": None,
  "activation_heads": "tensor",
  "activation_kv_heads": "tensor",
  "activation_mlp": "tensor",
  "activation_vocab": "tensor",
  # KV cache of the sampler
  "cache_batch": ("data", "fsdp"),
  "cache_length": None,
}

DEFAULT_DISTRIBUTED_TIMEOUT_S = 900


@dataclasses.dataclass(frozen=True)
class MeshConfig:
  """Per-axis sizes. `ici` spans devices within a slice/host group; -1 fills the rest.

  `dcn` sizes (across slices or hosts over the data-centre network) multiply the ici sizes;
  when any dcn size exceeds 1 the mesh is a hybrid mesh.
  """

  ici: Mapping[str, int] = dataclasses.field(default_factory=lambda: {"fsdp": -1})
  dcn: Mapping[str, int] = dataclasses.field(default_factory=dict)


def _resolve_sizes(sizes: Mapping[str, int], total: int, what: str) -> list[int]:
  unknown = sorted(set(sizes) - set(MESH_AXES))
  if unknown:
    raise ValueError(f"unknown mesh axes {unknown} in {what}; mesh axes are {MESH_AXES}")
  resolved = [int(sizes.get(axis, 1)) for axis in MESH_AXES]
  fill = [i for i, size in enumerate(resolved) if size == -1]
  if len(fill) > 1:
    raise ValueError(f"{what}: at most one axis may be -1, got {dict(sizes)}")
  if any(size == 0 or size < -1 for size in resolved):
    raise ValueError(f"{what}: axis sizes must be positive or -1, got {dict(sizes)}")
  known = math.prod(size for size in resolved if size != -1)
  if fill:
    if total % known:
      raise ValueError(f"{what}: {total} devices cannot be split with sizes {dict(sizes)}")
    resolved[fill[0]] = total // known
  if math.prod(resolved) != total:
    raise ValueError(
      f"{what}: sizes {dict(zip(MESH_AXES, resolved))} use "
      f"{math.prod(resolved)} devices but {total} are available; "
      "set one axis to -1 to fill the rest"
    )
  return resolved


def make_mesh(
  config: MeshConfig | None = None, devices: Sequence[jax.Device] | None = None
) -> Mesh:
  """Builds a mesh with axes MESH_AXES from per-axis sizes."""
  config = config or MeshConfig()
  devices = list(devices if devices is not None else jax.devices())
  dcn_total = math.prod(int(config.dcn.get(a, 1)) for a in MESH_AXES)
  dcn = _resolve_sizes(config.dcn, dcn_total, "dcn mesh") if config.dcn else [1] * len(MESH_AXES)
  if len(devices) % math.prod(dcn):
    raise ValueError(f"{len(devices)} devices cannot be split into {math.prod(dcn)} dcn groups")
  ici = _resolve_sizes(config.ici, len(devices) // math.prod(dcn), "ici mesh")
  if math.prod(dcn) > 1 and hasattr(devices[0], "slice_index"):
    array = mesh_utils.create_hybrid_device_mesh(ici, dcn, devices)  # TPU multi-slice
  elif math.prod(dcn) > 1 and jax.process_count() > 1:
    array = mesh_utils.create_hybrid_device_mesh(ici, dcn, devices, process_is_granule=True)
  elif math.prod(dcn) > 1:
    array = _grouped_mesh(np.asarray(devices), ici, dcn)
  else:
    try:
      array = mesh_utils.create_device_mesh(ici, devices)
    except (AssertionError, NotImplementedError, ValueError):
      # Topology-aware placement is only defined for some device kinds; order is enough here.
      array = np.asarray(devices).reshape(ici)
  return Mesh(array, MESH_AXES)


def mesh_from_settings(settings: Mapping[str, int]) -> Mesh:
  """A mesh from flat sizes as configs and flags spell them: `<axis>` within a slice,
  `dcn_<axis>` across slices (1 or absent: no dcn split on that axis)."""
  ici = {axis: int(settings[axis]) for axis in MESH_AXES if axis in settings}
  dcn = {a: int(settings[f"dcn_{a}"]) for a in MESH_AXES if settings.get(f"dcn_{a}", 1) != 1}
  return make_mesh(MeshConfig(ici=ici, dcn=dcn))


def _grouped_mesh(devices: np.ndarray, ici: list[int], dcn: list[int]) -> np.ndarray:
  """Hybrid layout by device order: consecutive devices form a dcn group (one process here)."""
  n = len(MESH_AXES)
  grid = devices.reshape(*dcn, *ici)
  interleaved = grid.transpose([j for i in range(n) for j in (i, n + i)])
  return interleaved.reshape([d * i for d, i in zip(dcn, ici)])


def logical_to_spec(
  names: Sequence[str | None],
  shape: Sequence[int] | None = None,
  mesh: Mesh | None = None,
  rules: Mapping[str, Any] = LOGICAL_AXIS_RULES,
  what: str = "array",
) -> PartitionSpec:
  """Maps logical axis names to a PartitionSpec through the rules table.

  A mesh axis is used at most once per array. When a shape and mesh are given, a dimension
  that the mesh axes do not divide is replicated (and logged) instead of failing, e.g. 4 KV
  heads on a tensor axis of 8.
  """
  used: set[str] = set()
  spec = []
  for dim, name in enumerate(names):
    if name is None:
      spec.append(None)
      continue
    if name not in rules:
      raise KeyError(
        f"logical axis {name!r} of {what} has no rule; add it to "
        "LOGICAL_AXIS_RULES in xcoder_jax/sharding.py"
      )
    target = rules[name]
    axes = (target,) if isinstance(target, str) else tuple(target or ())
    axes = tuple(a for a in axes if a not in used and (mesh is None or mesh.shape[a] > 1))
    if axes and shape is not None and mesh is not None:
      size = math.prod(mesh.shape[a] for a in axes)
      if shape[dim] % size:
        _warn_once(
          f"{what}: dimension {dim} ({name}, size {shape[dim]}) is not divisible by "
          f"mesh axes {axes} (size {size}); replicating it"
        )
        axes = ()
    used.update(axes)
    spec.append(None if not axes else axes[0] if len(axes) == 1 else axes)
  while spec and spec[-1] is None:
    spec.pop()
  return PartitionSpec(*spec)


_warned: set[str] = set()


def _warn_once(message: str) -> None:
  if message not in _warned:
    _warned.add(message)
    logging.warning(message)


class _Context(threading.local):
  mesh: Mesh | None = None
  rules: Mapping[str, Any] = LOGICAL_AXIS_RULES


_context = _Context()


@contextlib.contextmanager
def use_mesh(mesh: Mesh, rules: Mapping[str, Any] = LOGICAL_AXIS_RULES) -> Iterator[Mesh]:
  """Makes `mesh` and `rules` the targets of `constrain` inside the block."""
  previous = (_context.mesh, _context.rules)
  _context.mesh, _context.rules = mesh, rules
  try:
    with jax.set_mesh(mesh):
      yield mesh
  finally:
    _context.mesh, _context.rules = previous


@contextlib.contextmanager
def per_device() -> Iterator[None]:
  """Makes `constrain` a no-op inside the block: for code traced per device under a
  `shard_map`, where every mesh axis is manual and shardings cannot be constrained."""
  previous, _context.mesh = _context.mesh, None
  try:
    yield
  finally:
    _context.mesh = previous


def current_mesh() -> Mesh | None:
  return _context.mesh


def named_sharding(
  names: Sequence[str | None],
  shape: Sequence[int] | None = None,
  mesh: Mesh | None = None,
  what: str = "array",
) -> NamedSharding:
  mesh = mesh or _context.mesh
  if mesh is None:
    raise ValueError("no mesh: pass one or enter `with sharding.use_mesh(mesh):`")
  return NamedSharding(mesh, logical_to_spec(names, shape, mesh, _context.rules, what))


def constrain(x: jax.Array, names: Sequence[str | None]) -> jax.Array:
  """Constrains an activation's sharding by logical names; a no-op outside `use_mesh`."""
  mesh = _context.mesh
  if mesh is None or mesh.size == 1:
    return x
  return jax.lax.with_sharding_constraint(x, named_sharding(names, x.shape, mesh))


def take_rows(
  table: jax.Array, ids: jax.Array, table_names: Sequence[str], names: Sequence[str | None]
) -> jax.Array:
  """``table[ids]`` (an embedding lookup) constrained to the activation sharding ``names``.

  The rows come out split like the table's columns (the embed dim over fsdp x sequence).
  XLA moves a split from one dimension to another with an all-to-all only one mesh axis at a
  time; asked to move two at once (fsdp to the batch and sequence to the length, under
  context parallelism) it first replicates the whole [batch, length, embed] array on every
  device ("involuntary full rematerialization": 2.3 GiB more per device for Qwen3-8B at 32k
  on fsdp 16 x sequence 8). So the split moves here one mesh axis per constraint, and the
  gradient retraces the steps backwards.
  """
  rows = jnp.take(table, ids, axis=0)
  mesh = _context.mesh
  if mesh is None or mesh.size == 1:
    return rows
  target = logical_to_spec(names, rows.shape, mesh, _context.rules, "rows")
  columns = logical_to_spec(table_names, table.shape, mesh, _context.rules, "table")
  column_axes = spec_axes(columns, 1)
  target_axes = [spec_axes(target, dim) for dim in range(rows.ndim)]
  moved: list[str] = []
  for axis in column_axes:
    if axis in target_axes[-1]:
      continue
    moved.append(axis)
    step = [
      tuple(a for a in target_axes[dim] if a not in column_axes or a in moved)
      for dim in range(rows.ndim - 1)
    ] + [tuple(a for a in column_axes if a not in moved)]
    spec = PartitionSpec(*(None if not axes else axes for axes in step))
    rows = jax.lax.with_sharding_constraint(rows, NamedSharding(mesh, spec))
  return jax.lax.with_sharding_constraint(rows, NamedSharding(mesh, target))


def spec_axes(spec: PartitionSpec, dim: int) -> tuple[str, ...]:
  """The mesh axes that split dimension ``dim`` of ``spec`` (empty when replicated)."""
  entry = spec[dim] if dim < len(spec) else None
  return () if entry is None else (entry,) if isinstance(entry, str) else tuple(entry)


def shard_count(name: str, mesh, size: int | None = None) -> int:
  """Devices the logical axis `name` splits over on `mesh` (an abstract one will do; 1 when
  replicated); with `size`, also 1 where the rules replicate a dimension the axes do not divide."""
  spec = logical_to_spec((name,), None if size is None else (size,), mesh)
  return math.prod(mesh.shape[axis] for axis in spec_axes(spec, 0))


def _is_variable(x: Any) -> bool:
  return isinstance(x, nnx.Variable)


def state_shardings(state: Any, mesh: Mesh) -> Any:
  """NamedShardings for an nnx.State (abstract or concrete) from each variable's logical axes."""

  def one(path, variable):
    names = getattr(variable, "logical_axes", None)
    what = "/".join(str(getattr(k, "key", k)) for k in path)
    if names is None:
      names = (None,) * len(variable.get_value().shape)
    return variable.replace(named_sharding(names, variable.get_value().shape, mesh, what))

  return jax.tree_util.tree_map_with_path(one, state, is_leaf=_is_variable)


def on_every_process(flag: bool) -> bool:
  """True when `flag` holds on all processes. A collective: every process must call it, e.g.
  so that all hosts stop together when one of them runs out of data."""
  if jax.process_count() == 1:
    return bool(flag)
  from jax.experimental import multihost_utils

  return bool(np.min(multihost_utils.process_allgather(np.asarray(int(flag)))))


def initialize_distributed(
  coordinator_address: str | None = None,
  num_processes: int | None = None,
  process_id: int | None = None,
  timeout_s: int = DEFAULT_DISTRIBUTED_TIMEOUT_S,
) -> None:
  """Starts multi-process JAX; a no-op for a single process.

  With no arguments JAX detects the cluster (SLURM, TPU VMs, Open MPI, ...). The timeout
  defaults to 900 s because cold starts of large jobs routinely exceed JAX's 300 s default.
  """
  explicit = coordinator_address is not None or (num_processes or 1) > 1
  in_cluster = any(
    v in os.environ
    for v in (
      "SLURM_JOB_ID",
      "TPU_WORKER_HOSTNAMES",
      "OMPI_COMM_WORLD_SIZE",
      "JAX_COORDINATOR_ADDRESS",
    )
  )
  if not explicit and not in_cluster:
    return
  # Cross-process collectives on the CPU backend need gloo; accelerators ignore this.
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(
    coordinator_address=coordinator_address,
    num_processes=num_processes,
    process_id=process_id,
    initialization_timeout=int(timeout_s),
  )
  logging.info(
    "process %d of %d, %d local / %d global devices",
    jax.process_index(),
    jax.process_count(),
    jax.local_device_count(),
    jax.device_count(),
  )
