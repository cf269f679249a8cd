"""One trainer per work directory: a lock file held for the run's lifetime.

Two trainers writing the same checkpoints and metrics.jsonl corrupt each other, so a run takes
`WORKDIR/run.lock` (created exclusively; it records the holder's host, pid and start time)
and removes it when it ends, on an exception too. A lock whose holder is gone (same host, its
pid no longer runs, or runs a newer process) is stale and taken over; a lock held from another
host cannot be checked from here and is reported with its holder. On a multi-host run process
0 holds the lock and every process stops when it cannot be taken.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator

import jax
from absl import logging

from xcoder_jax import sharding

LOCK_FILE = "run.lock"


class WorkdirLockedError(FileExistsError):
  """Another live run holds the work directory."""


def _process_start(pid: int) -> int | None:
  """The process's start time in clock ticks after boot (Linux), to tell a reused pid apart."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      return int(f.read().rpartition(")")[2].split()[19])
  except (OSError, ValueError, IndexError):
    return None


def _holder_alive(holder: dict) -> bool:
  """False only when the holder ran on this host and is certainly gone."""
  if holder.get("host") != socket.gethostname():
    return True
  pid = holder.get("pid")
  if not isinstance(pid, int) or pid <= 0:
    return True  # not a lock this module wrote: leave it to the user
  try:
    os.kill(pid, 0)  # signal 0: only asks whether the process exists
  except ProcessLookupError:
    return False
  except PermissionError:
    pass  # exists, owned by another user
  recorded = holder.get("process_start")
  return recorded is None or _process_start(pid) in (None, recorded)


def _read_holder(path: str) -> dict | None:
  try:
    with open(path) as f:
      return json.load(f)
  except FileNotFoundError:
    return None
  except (OSError, ValueError):
    return {}  # being written, or torn: treated as held by an unknown holder


def acquire(workdir: str) -> str:
  """Creates WORKDIR/run.lock for this process; returns its path. Raises WorkdirLockedError
  naming the holder when a live run holds it."""
  path = os.path.join(workdir, LOCK_FILE)
  me = {
    "host": socket.gethostname(),
    "pid": os.getpid(),
    "process_start": _process_start(os.getpid()),
    "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
  }
  for _ in range(3):
    try:
      fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
      holder = _read_holder(path)
      if holder is None:
        continue  # released meanwhile
      if holder and not _holder_alive(holder):
        logging.warning("removing the stale lock %s of a finished run: %s", path, holder)
        with contextlib.suppress(FileNotFoundError):
          os.remove(path)
        continue
      who = (
        f"pid {holder.get('pid')} on host {holder.get('host')}, started {holder.get('started')}"
        if holder
        else "an unknown holder"
      )
      raise WorkdirLockedError(
        f"{workdir} is in use by another run ({who}): two runs in one work directory "
        f"overwrite each other's checkpoints. Wait for it to finish, use another --workdir, "
        f"or, if that run is gone, delete {path}"
      ) from None
    with os.fdopen(fd, "w") as f:
      json.dump(me, f)
    return path
  raise WorkdirLockedError(f"could not take {path}: other runs keep creating it; retry")


def release(path: str) -> None:
  """Removes the lock if it is still this process's."""
  holder = _read_holder(path)
  if holder and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
    os.remove(path)


@contextlib.contextmanager
def hold(workdir: str) -> Iterator[None]:
  """Holds WORKDIR's lock (process 0) while the block runs; all processes raise when it is
  held elsewhere."""
  path, error = None, None
  if jax.process_index() == 0:
    try:
      path = acquire(workdir)
    except WorkdirLockedError as e:
      error = e
  if not sharding.on_every_process(error is None):
    raise error or WorkdirLockedError(
      f"process 0 could not lock {workdir}: another run uses it (see process 0's log)"
    )
  try:
    yield
  finally:
    if path:
      release(path)
