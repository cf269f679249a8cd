"""Flags shared by the launchers: the device mesh and multi-host start-up."""

from __future__ import annotations

from absl import flags

from xcoder_jax import sharding

_MESH = {axis: flags.DEFINE_integer(
    f"mesh_{axis}", -1 if axis == "fsdp" else 1,
    f"Devices on the '{axis}' mesh axis within a slice (-1: all devices left).")
         for axis in sharding.MESH_AXES}
_DCN = {axis: flags.DEFINE_integer(
    f"dcn_{axis}", 1, f"Slices/hosts groups on the '{axis}' axis across the data-centre network.")
        for axis in sharding.MESH_AXES}
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None,
    "host:port of process 0 for multi-process runs; unset: detect the cluster (SLURM, TPU) or "
    "run as a single process.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Processes in a multi-process run.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index in the run.")
_INIT_TIMEOUT = flags.DEFINE_integer(
    "distributed_timeout_s", sharding.DEFAULT_DISTRIBUTED_TIMEOUT_S,
    "Seconds to wait for all processes to join at start-up.")


def start_distributed() -> None:
  sharding.initialize_distributed(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value,
                                  _INIT_TIMEOUT.value)


def mesh_from_flags():
  dcn = {axis: f.value for axis, f in _DCN.items() if f.value != 1}
  return sharding.make_mesh(sharding.MeshConfig(
      ici={axis: f.value for axis, f in _MESH.items()}, dcn=dcn))
