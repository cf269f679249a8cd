"""Multi-process start-up flags shared by every launcher."""

from __future__ import annotations

import contextlib
import sys

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


@contextlib.contextmanager
def user_errors(name: str):
  """Set-up mistakes (missing files, bad config values) end the launcher with one line on
  stderr naming the problem and exit status 2, instead of a traceback. Wrap only set-up:
  an error during training keeps its traceback."""
  try:
    yield
  except (FileNotFoundError, FileExistsError, NotADirectoryError, ValueError) as error:
    print(f"{name}: error: {error}", file=sys.stderr)
    sys.exit(2)
