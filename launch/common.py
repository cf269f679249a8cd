"""Multi-process start-up flags shared by every launcher."""

from __future__ import annotations

from absl import flags

from xcoder_jax import sharding

_COORDINATOR = flags.DEFINE_string(
  "coordinator_address",
  None,
  "host:port of process 0 for multi-process runs; unset: detect the cluster (SLURM, TPU) or "
  "run as a single process.",
)
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Processes in a multi-process run.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index in the run.")
_INIT_TIMEOUT = flags.DEFINE_integer(
  "distributed_timeout_s",
  sharding.DEFAULT_DISTRIBUTED_TIMEOUT_S,
  "Seconds to wait for all processes to join at start-up.",
)


def start_distributed() -> None:
  sharding.initialize_distributed(
    _COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value, _INIT_TIMEOUT.value
  )
