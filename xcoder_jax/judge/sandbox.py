"""The sandbox a solution runs in, and how the judge talks to it.

Layers, outermost first: an unprivileged host uid (the judge drops root before bwrap, so
RLIMIT_NPROC is enforced); bubblewrap around the worker's zygote (zygote.py), with new user,
PID, network, IPC and UTS namespaces, a read-only view of only the system directories a
compiler and an interpreter need (no /home, /root, /work, host /tmp), a read-only / and /dev
and an empty environment; then, per solution, what the zygote's child builds inside that:
fresh mount, PID, network (loopback only), IPC, UTS, cgroup and user namespaces, a
size-capped private tmpfs at /tmp, a fresh /proc, no capabilities, no_new_privs (see
harness/zygote.py); then the per-run rlimits, session and fresh directory the fork server
applies. The fork server is its namespace's init and undumpable: no run can trace, stop or
kill it, and no other process in the sandbox holds the judge's socket. Its exit kills every
process in the sandbox, daemons included.

What decides time verdicts is also measured here, outside the sandbox: the wall time of
each request and the CPU time of the sandbox's whole process tree (the server and every
process it reaped during the run, from this host's /proc), so a server a program somehow
took over can at worst fail that program's own run.
"""

import atexit
import dataclasses
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from xcoder_jax.judge import languages
from xcoder_jax.judge.harness import protocol
from xcoder_jax.judge.harness.supervise import cpu_seconds, read_proc

# The harness package, the only code the sandbox runs besides the program: compiled to a
# directory of .pyc files and bound read-only at /judge (so /judge/harness is the package).
_HARNESS_PACKAGE = Path(protocol.__file__).parent
HARNESS_ENTRY = f"{_HARNESS_PACKAGE.name}/__main__.pyc"
# Also prints the interpreter's sys.path with site (the harness runs under -S and adds it).
_COMPILE_PACKAGE = """
import os, pathlib, py_compile, sys
print(os.pathsep.join(sys.path))
source_dir, target_dir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for source in sorted(source_dir.glob("*.py")):
  py_compile.compile(
    str(source),
    cfile=str(target_dir / (source.stem + ".pyc")),
    dfile=f"<judge-{source_dir.name}/{source.name}>",
    doraise=True,
  )
"""

BWRAP_INSTALL_HINT = "install bubblewrap: apt-get install -y bubblewrap"
HARNESS_DIR_IN_SANDBOX = "/judge"
# The sandbox interpreter's flags: isolated mode, and no `site` (~3.5 ms per start; the
# harness restores its sys.path and builtins, see harness/__main__.py).
INTERPRETER_FLAGS = ("-I", "-S")
_compiled_harness_dirs: dict[str, str] = {}
_site_paths: dict[str, str] = {}
_compile_lock = threading.Lock()
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = (
  "/etc/ld.so.cache",
  "/etc/ld.so.conf",
  "/etc/ld.so.conf.d",
  "/etc/alternatives",
  "/etc/localtime",
)


class JudgeError(RuntimeError):
  """The judge itself failed (misconfiguration, crashed server): never the program's fault."""


class SandboxDied(RuntimeError):
  """The sandbox ended during a run: the program killed its supervisor."""


@dataclasses.dataclass(frozen=True)
class SandboxConfig:
  """Where the tools are and how the sandbox is built."""

  python: str = "/usr/bin/python3"
  # (language, executable) pairs replacing a language's main tool from the language table
  # (languages.py), e.g. (("cpp", "/usr/bin/g++-13"),)
  toolchains: tuple[tuple[str, str], ...] = ()
  bwrap: str = "bwrap"
  extra_ro_paths: tuple[str, ...] = ()  # e.g. an interpreter installed outside /usr
  tmpfs_mb: int = 256  # the only writable space: private run dirs and the C++ build
  uid_base: int = 62000  # workers run as free host uids from here on (when the judge is root)
  unsafe_no_sandbox: bool = False  # runs without any isolation: only for trusted code

  def check(self) -> None:
    """Refuses to run without bubblewrap (unless the explicit unsafe opt-out is set)."""
    if not self.unsafe_no_sandbox and shutil.which(self.bwrap) is None:
      raise JudgeError(
        f"bubblewrap ({self.bwrap!r}) not found; {BWRAP_INSTALL_HINT}, "
        "or pass unsafe_no_sandbox=True / --unsafe-no-sandbox to run "
        "untrusted code WITHOUT isolation"
      )
    if not os.access(self.python, os.X_OK):
      raise JudgeError(f"sandbox interpreter {self.python!r} is not an executable file")
    if not self.unsafe_no_sandbox:
      for tool in (self.python, *(path for _, path in self.toolchains)):
        real = os.path.realpath(tool)
        if os.path.exists(real) and not self._visible(real):
          raise JudgeError(
            f"{tool} resolves to {real}, outside the sandbox's view; "
            "add its prefix to SandboxConfig.extra_ro_paths"
          )

  def _visible(self, path: str) -> bool:
    roots = [os.path.realpath(p) for p in _SYSTEM_DIRS + self.extra_ro_paths]
    return any(path == root or path.startswith(root + os.sep) for root in roots)


def bwrap_command(config: SandboxConfig, harness_dir: str) -> list[str]:
  command = [
    config.bwrap,
    "--unshare-user",
    "--unshare-pid",
    "--as-pid-1",
    "--unshare-net",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--cap-add",
    "ALL",  # inside bwrap's user namespace only: the zygote builds each sandbox with them
    "--new-session",
    "--clearenv",
    "--setenv",
    "PATH",
    "/usr/bin:/bin",
    "--setenv",
    "LANG",
    "C.UTF-8",
    "--setenv",
    "HOME",
    "/tmp",
  ]
  for path in _SYSTEM_DIRS:
    if os.path.islink(path):
      command += ["--symlink", os.readlink(path), path]
    elif os.path.isdir(path):
      command += ["--ro-bind", path, path]
  for path in _ETC_FILES + config.extra_ro_paths:
    if os.path.exists(path):
      command += ["--ro-bind", path, path]
  for host_path, sandbox_path in languages.sandbox_binds():
    command += ["--ro-bind", host_path, sandbox_path]
  command += [
    "--ro-bind",
    harness_dir,
    HARNESS_DIR_IN_SANDBOX,
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--size",
    str(1 << 20),  # the zygote's own; each sandbox mounts a fresh one of config.tmpfs_mb
    "--tmpfs",
    "/tmp",
    "--remount-ro",
    "/dev",
    "--remount-ro",
    "/",
    "--chdir",
    "/tmp",
  ]
  return command


def compiled_harness_dir(python: str) -> str:
  """A world-readable directory holding the harness package as .pyc files, compiled once by
  the sandbox's own interpreter, not at every sandbox start."""
  with _compile_lock:
    if python not in _compiled_harness_dirs:
      directory = tempfile.mkdtemp(prefix="xcoder-judge-harness-")
      atexit.register(shutil.rmtree, directory, True)
      package = os.path.join(directory, _HARNESS_PACKAGE.name)
      os.mkdir(package)
      done = subprocess.run(
        [python, "-I", "-c", _COMPILE_PACKAGE, str(_HARNESS_PACKAGE), package],
        capture_output=True,
        text=True,
      )
      if done.returncode != 0:
        raise JudgeError(f"{python} cannot compile {_HARNESS_PACKAGE}: {done.stderr}")
      for compiled in os.listdir(package):
        os.chmod(os.path.join(package, compiled), 0o644)
      for path in (directory, package):
        os.chmod(path, 0o755)
      _compiled_harness_dirs[python] = directory
      _site_paths[python] = done.stdout.strip()
    return _compiled_harness_dirs[python]


def site_path(python: str) -> str:
  """The interpreter's sys.path with site (the harness runs under -S and restores it)."""
  compiled_harness_dir(python)
  return _site_paths[python]


class Sandbox:
  """One solution's sandbox, forked by a worker's zygote (zygote.py): the channel to its
  fork server, and the server's pid on this host, from which it is measured and killed."""

  def __init__(
    self,
    channel: socket.socket,
    pid: int,
    pidfd: int,
    log,
    unsafe_dir: str | None,
    zygote_exited: Callable[[], bool],
  ):
    self._channel, self.pid, self._pidfd, self._log = channel, pid, pidfd, log
    self._unsafe_dir, self._zygote_exited = unsafe_dir, zygote_exited
    self._tree_cpu_seen: float | None = None
    _live_sandboxes.add(self)

  def request(self, message: dict, timeout_s: float) -> dict:
    """Sends one request and waits for its answer; raises SandboxDied or JudgeError.

    The answer gains ``host_wall_s`` and ``host_cpu_s``: the request's wall time and the
    CPU time the sandbox's process tree used meanwhile, measured here, outside the sandbox.
    """
    # Nothing runs between requests (each run ends with every other process killed), so the
    # figure after one request is the next one's starting point: one walk per request.
    cpu_before = self._tree_cpu_seen if self._tree_cpu_seen is not None else self.tree_cpu_seconds()
    started = time.monotonic()
    try:
      protocol.write_request(self._channel.fileno(), message)
    except OSError:
      raise self._death() from None
    deadline = started + timeout_s
    try:
      response = protocol.read_response(self._channel.fileno(), deadline)
    except ValueError:  # not JSON: only a server the program took over writes that
      self._kill()
      raise SandboxDied("the sandbox answered garbage (its server was tampered with)") from None
    if response is None and time.monotonic() >= deadline:
      self._kill()
      raise JudgeError(f"sandbox did not answer within {timeout_s:.1f}s")
    if not isinstance(response, dict):
      raise self._death()
    if "judge_error" in response:
      raise JudgeError(f"sandbox server failed: {response['judge_error']!r}")
    response["host_wall_s"] = time.monotonic() - started
    self._tree_cpu_seen = self.tree_cpu_seconds()
    response["host_cpu_s"] = self._tree_cpu_seen - cpu_before
    return response

  def tree_cpu_seconds(self) -> float:
    """CPU time used so far by the server and every process below it, alive or reaped.

    A process's reaped children count in its own figure (cutime), so the live tree holds
    the whole history; only children a program lets the kernel reap (SIGCHLD ignored)
    escape, and those are bounded by the wall limit.
    """
    return sum(cpu_seconds(pid) for pid in [self.pid, *descendants(self.pid)])

  def _death(self) -> Exception:
    self._stop()
    log = self.server_log()
    if "Traceback" in log:
      return JudgeError(f"sandbox server crashed: {log[-2000:]}")
    if self._zygote_exited():  # it took its sandboxes with it: not the program's doing
      return JudgeError("the worker's zygote died during the run")
    return SandboxDied("the sandbox's supervisor died during the run (killed by the program)")

  def server_log(self) -> str:
    self._log.seek(0)
    return self._log.read().decode("utf-8", "replace")

  def close(self) -> None:
    self._stop()
    self._log.close()

  def _stop(self) -> None:
    """Ends the sandbox and returns only once no process of it is left.

    Closing the channel makes the server, the namespace's init, exit, which kills
    everything in its PID namespace; one that does not go within a second is killed.
    """
    if self._channel.fileno() >= 0:
      self._channel.close()
      if not _exited(self._pidfd, 1.0):
        self._kill()
    if self._unsafe_dir:
      shutil.rmtree(self._unsafe_dir, ignore_errors=True)
      self._unsafe_dir = None
    if self._pidfd >= 0:
      os.close(self._pidfd)
      self._pidfd = -1

  def _kill(self) -> None:
    if self._pidfd >= 0:
      try:
        signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
      except ProcessLookupError:
        pass
      _exited(self._pidfd, 5.0)
    self._channel.close()

  def __enter__(self) -> "Sandbox":
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()


def _forget_in_child() -> None:
  """A process forked from the judge lets go of its parent's sandboxes (their servers exit
  when the judge closes its end, which a copy here would keep open)."""
  for box in list(_live_sandboxes):
    box._channel.close()


_live_sandboxes: "weakref.WeakSet[Sandbox]" = weakref.WeakSet()
os.register_at_fork(after_in_child=_forget_in_child)


def _exited(pidfd: int, timeout_s: float) -> bool:
  """Waits until the process is gone; a namespace's init only counts as gone once the kernel
  has killed and reaped everything else in its PID namespace."""
  return bool(select.select([pidfd], [], [], timeout_s)[0])


def children(pid: int) -> list[int]:
  """Children of every thread of ``pid`` (none once it is gone)."""
  children = []
  try:
    for task in os.listdir(f"/proc/{pid}/task"):
      children += [int(c) for c in read_proc(f"/proc/{pid}/task/{task}/children").split()]
  except OSError:
    pass
  return children


def descendants(pid: int) -> list[int]:
  """Every process below ``pid``, zombies included (none once it is gone)."""
  found, pending = [], children(pid)
  while pending:
    child = pending.pop()
    found.append(child)
    pending += children(child)
  return found


def _is_alive(pid: int) -> bool:
  """True while ``pid`` runs; a zombie is dead (a namespace's init becomes one only after
  the kernel has killed and reaped everything else in its PID namespace)."""
  try:
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
  except (OSError, IndexError):
    return False
  return state not in ("Z", "X")


def wait_until_dead(pid: int, timeout_s: float = 5.0) -> None:
  deadline = time.monotonic() + timeout_s
  while _is_alive(pid) and time.monotonic() < deadline:
    time.sleep(0.001)


def wait_for_no_processes(uid: int, timeout_s: float = 2.0, ignore=()) -> list[int]:
  """Live pids still owned by host ``uid`` after ``timeout_s`` (empty once sandboxes are
  gone), except those in ``ignore`` (a Judge's idle zygotes: ``Judge.zygote_pids()``)."""
  deadline = time.monotonic() + timeout_s
  while True:
    pids = []
    for entry in Path("/proc").iterdir():
      if entry.name.isdigit():
        try:
          pid = int(entry.name)
          if entry.stat().st_uid == uid and pid not in ignore and _is_alive(pid):
            pids.append(pid)
        except OSError:
          continue
    if not pids or time.monotonic() > deadline:
      return pids
    time.sleep(0.01)
