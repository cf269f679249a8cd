"""A judge worker's zygote: bubblewrap and a warm interpreter, started once, that fork a
fresh sandbox for every solution (see harness/zygote.py for what each sandbox gets).

Starting bubblewrap and an interpreter per solution cost ~20 ms of CPU, more than the runs
of a 20-test submission; forking them costs ~1-2 ms. What a solution shares with the next
is only a copy-on-write image of an interpreter that never ran a submission.

The judge talks to the zygote over a SOCK_SEQPACKET socket (one message per sandbox, with
the sandbox's channel and log as SCM_RIGHTS), and to each sandbox over its own stream
socket with SO_PASSCRED, so the server's greeting carries its pid as this host sees it.
Closing the zygote's socket (or this process dying) makes it exit, and, as its namespace's
init, take every sandbox with it.
"""

import array
import marshal
import os
import select
import socket
import struct
import subprocess
import tempfile
import threading
import time
import weakref

from xcoder_jax.judge import sandbox
from xcoder_jax.judge.harness import protocol
from xcoder_jax.judge.sandbox import JudgeError, Sandbox, SandboxConfig

_START_TIMEOUT_S = 30.0
_live_zygotes: "weakref.WeakSet[Zygote]" = weakref.WeakSet()


class Zygote:
  """Forks sandboxes for one worker uid; started on the first ``spawn``, restarted if it died."""

  def __init__(self, config: SandboxConfig, uid: int | None):
    self.config, self.uid = config, uid
    self._lock = threading.Lock()
    self._process: subprocess.Popen | None = None
    self._control: socket.socket | None = None
    self._bwrap_exit = -1  # a pidfd: readable once bubblewrap has exited
    self._log = None
    _live_zygotes.add(self)

  def spawn(self) -> Sandbox:
    """A new sandbox with its fork server waiting for the solution's setup request."""
    with self._lock:
      try:
        return self._spawn()
      except _NotStarted:  # a dead or stuck zygote: one fresh start, then give up
        self._stop()
      try:
        return self._spawn()
      except _NotStarted as failure:
        raise JudgeError(f"the sandbox failed to start: {failure}") from None

  def start(self) -> None:
    """Starts bubblewrap and the zygote now (``spawn`` otherwise does on first use)."""
    with self._lock:
      self._start_if_needed()

  def _start_if_needed(self) -> None:
    if self._process is None or self._process.poll() is not None:
      self._start()

  def _spawn(self) -> Sandbox:
    self._start_if_needed()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    log = tempfile.TemporaryFile()
    unsafe_dir = tempfile.mkdtemp(prefix="judge-unsafe-") if self.config.unsafe_no_sandbox else None
    pidfd = -1
    try:
      try:
        self._control.sendmsg(
          [marshal.dumps({"tmp_root": unsafe_dir or "/tmp"})],
          [(socket.SOL_SOCKET, socket.SCM_RIGHTS, _fd_array(theirs.fileno(), log.fileno()))],
        )
      except OSError as error:
        raise _NotStarted(f"the zygote is gone ({error}): {self.log()[-2000:]}") from None
      theirs.close()
      pid = _greeting(ours, self._bwrap_exit, time.monotonic() + _START_TIMEOUT_S)
      if pid is not None:
        pidfd = os.pidfd_open(pid)
      # The greeting's pid is only this server's while its end of the channel is open: a
      # server that died at once (its pid free for reuse) has closed it by now.
      if pid is None or select.select([ours], [], [], 0)[0]:
        log.seek(0)
        detail = log.read().decode("utf-8", "replace")[-2000:] or self.log()[-2000:]
        raise _NotStarted(detail or "no greeting from the sandbox")
      process = self._process
      return Sandbox(ours, pid, pidfd, log, unsafe_dir, lambda: _exited(process, 0.5))
    except BaseException:
      for closable in (ours, theirs, log):
        closable.close()
      if pidfd >= 0:
        os.close(pidfd)
      if unsafe_dir:
        os.rmdir(unsafe_dir)
      raise

  def _start(self) -> None:
    self._stop()
    config = self.config
    harness_dir = sandbox.compiled_harness_dir(config.python)
    site_path = sandbox.site_path(config.python)
    tmpfs_bytes = str(config.tmpfs_mb << 20)
    if config.unsafe_no_sandbox:
      entry = os.path.join(harness_dir, sandbox.HARNESS_ENTRY)
      command = [config.python, *sandbox.INTERPRETER_FLAGS, entry, "zygote", site_path, "unsafe"]
    else:
      entry = f"{sandbox.HARNESS_DIR_IN_SANDBOX}/{sandbox.HARNESS_ENTRY}"
      command = sandbox.bwrap_command(config, harness_dir) + [
        config.python,
        *sandbox.INTERPRETER_FLAGS,
        entry,
        "zygote",
        site_path,
        "isolated",
      ]
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    drop_root = self.uid is not None and os.geteuid() == 0 and not config.unsafe_no_sandbox
    self._log = tempfile.TemporaryFile()
    try:
      self._process = subprocess.Popen(
        [*command, tmpfs_bytes],
        stdin=theirs,
        stdout=subprocess.DEVNULL,
        stderr=self._log,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        close_fds=True,
        process_group=0,
        cwd="/",
        user=self.uid if drop_root else None,
        group=self.uid if drop_root else None,
        extra_groups=[] if drop_root else None,
      )
    except OSError as error:
      ours.close()
      raise JudgeError(f"cannot start the sandbox ({command[0]}): {error}") from error
    finally:
      theirs.close()
    self._control = ours
    # bubblewrap keeps the zygote's socket open too, so a dead zygote may still take a
    # message; bubblewrap's own exit (it follows the zygote) is what ends the wait for it.
    self._bwrap_exit = os.pidfd_open(self._process.pid)

  def log(self) -> str:
    """What bubblewrap and the zygote wrote to stderr (why a start failed)."""
    if self._log is None:
      return ""
    self._log.seek(0)
    return self._log.read().decode("utf-8", "replace")

  def pids(self) -> list[int]:
    """bubblewrap's pid and the zygote's (empty when not running): idle processes that
    belong to the worker's uid between solutions."""
    if self._process is None or self._process.poll() is not None:
      return []
    return [self._process.pid, *sandbox.children(self._process.pid)]

  def close(self) -> None:
    with self._lock:
      self._stop()

  def _stop(self) -> None:
    """Closes the socket (the zygote exits and the kernel ends its sandboxes), then waits."""
    if self._control is not None:
      self._control.close()
      self._control = None
    if self._bwrap_exit >= 0:
      os.close(self._bwrap_exit)
      self._bwrap_exit = -1
    if self._process is not None:
      inner = sandbox.children(self._process.pid)
      try:
        self._process.wait(timeout=2.0)
      except subprocess.TimeoutExpired:
        self._process.kill()
        self._process.wait()
      for pid in inner:
        sandbox.wait_until_dead(pid)
      self._process = None
    if self._log is not None:
      self._log.close()
      self._log = None


class _NotStarted(Exception):
  """No sandbox came from the zygote (a dead or stuck zygote, or a failed setup)."""


def _exited(process: subprocess.Popen, timeout_s: float) -> bool:
  try:
    process.wait(timeout=timeout_s)
    return True
  except subprocess.TimeoutExpired:
    return False


def _fd_array(*fds: int) -> bytes:
  return array.array("i", fds).tobytes()


def _greeting(channel: socket.socket, bwrap_exit: int, deadline: float) -> int | None:
  """Reads the server's first byte; returns its pid on this host (None if it never came,
  or bubblewrap exited first)."""
  ready = select.select([channel, bwrap_exit], [], [], max(0.0, deadline - time.monotonic()))[0]
  if channel not in ready:
    return None
  data, ancillary, _, _ = channel.recvmsg(1, socket.CMSG_SPACE(12))
  if data != protocol.GREETING:
    return None
  for level, kind, payload in ancillary:
    if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
      return struct.unpack("i", payload[:4])[0]  # struct ucred's pid
  return None


def _forget_in_child() -> None:
  """A process forked from the judge (a data loader's worker) must not keep zygotes alive,
  nor wait on a lock some other thread of its parent held at the fork."""
  for zygote in list(_live_zygotes):
    zygote._lock = threading.Lock()
    if zygote._control is not None:
      zygote._control.close()
      zygote._control = None
    if zygote._bwrap_exit >= 0:
      os.close(zygote._bwrap_exit)
    zygote._process, zygote._bwrap_exit = None, -1


os.register_at_fork(after_in_child=_forget_in_child)
