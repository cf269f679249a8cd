"""Watching one run from the fork server: pipes drained with byte caps, CPU time (and, for
runtimes limited on resident memory, RSS) polled, a wall deadline, and afterwards every
other process in the sandbox killed, so nothing a test started (daemons included) survives
into the next one."""

import _signal  # not `signal`: its enums cost ~5 ms per sandbox start
import os
import select
import time

_POLL_INTERVAL_S = 0.02
_STDERR_CAP = 64 * 1024
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _sandbox_pids():
  """Pids of live processes in this PID namespace other than init and the server."""
  pids = []
  for name in os.listdir("/proc"):
    if not name.isdigit() or int(name) in (1, os.getpid()):
      continue
    try:
      with open(f"/proc/{name}/stat") as stat:
        state = stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
      continue
    if state not in ("Z", "X"):
      pids.append(int(name))
  return pids


def kill_everything_else(pid, isolated):
  """SIGKILLs every process in the sandbox except init and the server, until none is left.

  Without a sandbox (the unsafe opt-out) only the run's own process group is killed.
  """
  if not isolated:
    try:
      os.killpg(pid, _signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
      pass
    return
  for _ in range(10000):
    try:
      os.kill(-1, _signal.SIGKILL)
    except ProcessLookupError:
      return  # nothing else is left, not even a zombie
    reap_exited_children()
    if not _sandbox_pids():
      return
    time.sleep(0.001)
  raise RuntimeError("processes survived repeated SIGKILL")


def reap_exited_children():
  """Reaps every child that has exited, without waiting for the others."""
  try:
    while os.waitpid(-1, os.WNOHANG)[0]:
      pass
  except ChildProcessError:
    pass


def _reap_orphans(run_pid):
  """Reaps exited children other than the run: as the sandbox's init, the server inherits
  every process a run orphans, and unreaped ones would count toward its process limit."""
  while True:
    try:
      info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
      return
    if info is None or info.si_pid == run_pid:
      return
    os.waitpid(info.si_pid, 0)


def kill_and_reap(pid):
  try:
    os.kill(pid, _signal.SIGKILL)
  except ProcessLookupError:
    pass
  try:
    os.waitpid(pid, 0)
  except ChildProcessError:
    pass  # already reaped by kill_everything_else


def cpu_seconds(pid):
  """CPU time of ``pid``'s threads plus that of the children it has reaped (0 once gone);
  the judge uses it too, from outside the sandbox, on the sandbox's process tree."""
  try:
    fields = read_proc(f"/proc/{pid}/stat").rsplit(b")", 1)[1].split()
  except OSError:
    return 0.0
  return sum(int(value) for value in fields[11:15]) / _CLOCK_TICKS


def read_proc(path):
  """A small /proc file's bytes, with two system calls and no file object (the judge reads
  several per request)."""
  fd = os.open(path, os.O_RDONLY)
  try:
    return os.read(fd, 1 << 16)
  finally:
    os.close(fd)


def resident_bytes(pid, isolated):
  """Resident memory of the run: every process in the sandbox (only ``pid`` without one)."""
  total = 0
  for member in _sandbox_pids() if isolated else [pid]:
    try:
      total += int(read_proc(f"/proc/{member}/statm").split()[1]) * _PAGE_BYTES
    except (OSError, IndexError, ValueError):
      pass  # exited meanwhile
  return total


class _Collector:
  """Drains one pipe while the program runs, keeping at most ``cap`` bytes."""

  def __init__(self, fd, cap):
    self.fd, self.cap, self.chunks, self.size, self.overflow = fd, cap, [], 0, False
    os.set_blocking(fd, False)

  def drain(self):
    """Reads what is available; returns False at end of file."""
    while True:
      try:
        chunk = os.read(self.fd, 1 << 16)
      except BlockingIOError:
        return True
      if not chunk:
        return False
      keep = max(0, min(len(chunk), self.cap - self.size))
      if keep:
        self.chunks.append(chunk[:keep])
        self.size += keep
      if keep < len(chunk):
        self.overflow = True

  def data(self):
    return b"".join(self.chunks)


def supervise(pid, started, limits, isolated, out_r, err_r, report_r, check_r=None):
  """Drains the run's pipes until it exits or breaks a limit, then kills everything else."""
  collectors = {
    out_r: _Collector(out_r, limits["output_bytes"]),
    err_r: _Collector(err_r, _STDERR_CAP),
    report_r: _Collector(report_r, 1 << 26),
  }
  if check_r is not None:
    collectors[check_r] = _Collector(check_r, 1 << 16)
  pidfd = os.pidfd_open(pid)
  open_fds = set(collectors)
  stopped_by = None
  deadline = started + limits["wall_s"]
  last_cpu_poll = started
  resident_limit = limits.get("resident_bytes")
  while True:
    timeout = max(0.0, min(_POLL_INTERVAL_S, deadline - time.monotonic()))
    ready, _, _ = select.select(list(open_fds) + [pidfd], [], [], timeout)
    for fd in ready:
      if fd in open_fds and not collectors[fd].drain():
        open_fds.discard(fd)
    now = time.monotonic()
    if collectors[out_r].overflow:
      stopped_by = "output"
    elif pidfd in ready:
      break
    elif now >= deadline:
      stopped_by = "wall"
    elif now - last_cpu_poll >= _POLL_INTERVAL_S:
      last_cpu_poll = now
      if cpu_seconds(pid) > limits["cpu_s"]:
        stopped_by = "cpu"
      elif resident_limit and resident_bytes(pid, isolated) > resident_limit:
        stopped_by = "memory"
      elif isolated:
        _reap_orphans(pid)
    if stopped_by:
      os.kill(pid, _signal.SIGKILL)  # still our unreaped child, so the pid is not reused
      break
  _, wait_status, usage = os.wait4(pid, 0)
  wall_s = time.monotonic() - started
  os.close(pidfd)
  kill_everything_else(pid, isolated)
  for fd in open_fds:
    collectors[fd].drain()
  for fd in collectors:
    os.close(fd)
  return {
    "exit_code": os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else None,
    "signal": os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else None,
    "stopped_by": stopped_by,
    "wall_s": wall_s,
    "cpu_s": usage.ru_utime + usage.ru_stime,
    "max_rss_kb": usage.ru_maxrss,
    "stdout": collectors[out_r].data(),
    "stdout_overflow": collectors[out_r].overflow,
    "stderr": collectors[err_r].data(),
    "report": collectors[report_r].data(),
    "check_report": collectors[check_r].data() if check_r is not None else b"",
  }
