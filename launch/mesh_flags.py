"""Mesh-size flags for launchers that take the mesh from the command line (import/export)."""

from __future__ import annotations

from absl import flags

from xcoder_jax import sharding

_ICI = {
  axis: flags.DEFINE_integer(
    f"mesh_{axis}",
    -1 if axis == "fsdp" else 1,
    f"Devices on the '{axis}' mesh axis within a slice (-1: all devices left).",
  )
  for axis in sharding.MESH_AXES
}
_DCN = {
  axis: flags.DEFINE_integer(
    f"dcn_{axis}",
    1,
    f"Slices (or host groups) on the '{axis}' axis across the data-centre network.",
  )
  for axis in sharding.MESH_AXES
}


def mesh_from_flags():
  return sharding.mesh_from_settings(
    {
      **{axis: f.value for axis, f in _ICI.items()},
      **{f"dcn_{a}": f.value for a, f in _DCN.items()},
    }
  )
