"""The zygote: one warm interpreter per judge worker that forks a fresh sandbox per solution.

Starting bubblewrap and a Python interpreter for every solution cost ~20 ms of CPU, more
than the runs of a typical 20-test submission. The zygote pays that once: bubblewrap starts
it (the outer sandbox: read-only system directories, no network, its own namespaces, and
capabilities inside its own user namespace only), it imports the harness and then never
runs anything but this loop. For each solution the judge sends it one end of a new socket;
the zygote forks, and the child builds the solution's own sandbox inside the outer one:

- new mount, PID, network (loopback only), IPC, UTS and cgroup namespaces, then a fork so
  that the server is the new PID namespace's init;
- a fresh size-capped tmpfs at /tmp, a fresh /proc (its odd corners read-only, as bubblewrap
  does), loopback up;
- then a new user namespace mapping only the worker's uid, every capability dropped from
  all sets and the bounding set, no_new_privs, undumpable; then the fork server.

So a solution shares no writable file, process, socket, IPC object, keyring or address
space with any other: what it inherits is a copy-on-write image of an interpreter that
never saw a submission. The zygote is its outer namespace's init: when it exits (the judge
closed its socket, or died) the kernel kills every sandbox it made.
"""

import _signal
import _socket
import fcntl
import marshal
import os
import struct

from . import libc, program, server
from .server import make_undumpable
from .supervise import reap_exited_children

_CLONE_NEWNS = 0x00020000
_CLONE_NEWCGROUP = 0x02000000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND = 32, 4096
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_CAPABILITY_VERSION_3 = 0x20080522
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
# What bubblewrap covers read-only in its /proc, covered the same way in each fresh one.
_PROC_COVERED = ("sys", "sysrq-trigger", "irq", "bus")
_MAX_FDS = 2  # the solution's channel and its log
_DEVPTS = b"newinstance,ptmxmode=0666,mode=0620"


def serve(isolated, tmpfs_bytes, candidate_command):
  """Forks one sandbox per message on fd 0 until the judge closes it."""
  make_undumpable()
  # Killed with bubblewrap (the parent outside): the judge's last resort reaches it.
  libc.call("prctl", _PR_SET_PDEATHSIG, _signal.SIGKILL, 0, 0, 0)
  # Reaped by wait, not by ignoring SIGCHLD, so that the sandboxes' CPU time adds up in this
  # process's own figures (the judge and the benchmarks read them).
  _signal.signal(_signal.SIGCHLD, lambda signal_number, frame: reap_exited_children())
  control = _socket.socket(fileno=os.dup(0))
  null = os.open("/dev/null", os.O_RDWR)
  for fd in (0, 1):
    os.dup2(null, fd)
  os.close(null)
  program.fresh_std_streams()
  with open("/proc/sys/kernel/cap_last_cap") as file:
    last_capability = int(file.read())
  while True:
    message, ancillary, _, _ = control.recvmsg(1 << 16, _socket.CMSG_SPACE(4 * _MAX_FDS))
    if not message:
      return
    fds = []
    for level, kind, data in ancillary:
      if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
        fds += struct.unpack(f"{len(data) // 4}i", data[: len(data) // 4 * 4])
    if len(fds) == _MAX_FDS:  # only the judge holds this socket: always
      settings = (marshal.loads(message)["tmp_root"], isolated, tmpfs_bytes, last_capability)
      try:
        if os.fork() == 0:
          control.close()
          _spawn(*fds, *settings, candidate_command)
      except OSError as error:  # the judge sees the channel close without a greeting
        os.write(2, f"zygote: cannot fork a sandbox: {error}\n".encode())
    for fd in fds:
      os.close(fd)


def _spawn(channel, log, tmp_root, isolated, tmpfs_bytes, last_capability, command):
  """In the zygote's child: new namespaces, then a fork whose child, their init, becomes
  the fork server (the unsafe opt-out serves in this process); never returns."""
  status = 1
  try:
    _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
    # A handled signal reaches even a namespace's init: SIGINT would raise in the server.
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    os.dup2(log, 2)
    os.close(log)
    if not isolated:
      server.serve(channel, tmp_root, False, command)
    else:
      _unshare(_CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS)
      if os.fork() == 0:
        _enter_fresh_sandbox(tmpfs_bytes, last_capability)
        server.serve(channel, tmp_root, True, command)
    status = 0
  except BaseException:
    import traceback

    traceback.print_exc()
  finally:
    os._exit(status)


def _unshare(flags):
  """unshare(2), with a cgroup namespace where the kernel offers one (as bwrap's -try)."""
  try:
    libc.call("unshare", flags | _CLONE_NEWCGROUP)
  except OSError:
    libc.call("unshare", flags)


def _enter_fresh_sandbox(tmpfs_bytes, last_capability):
  """As the new PID namespace's init: fresh /tmp, /proc and /dev/pts, loopback, a user
  namespace of its own, and no capabilities left in any set."""
  flags = _MS_NOSUID | _MS_NODEV
  libc.call("mount", b"tmpfs", b"/tmp", b"tmpfs", flags, b"size=%d,mode=0755" % tmpfs_bytes)
  os.chdir("/tmp")  # the zygote's cwd was the outer /tmp, now covered
  libc.call("mount", b"proc", b"/proc", b"proc", flags | _MS_NOEXEC, None)
  for name in _PROC_COVERED:
    path = b"/proc/" + name.encode()
    if os.path.exists(path):
      libc.call("mount", path, path, None, _MS_BIND, None)
      libc.call("mount", path, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY, None)
  # Terminals of its own (bubblewrap's instance would be shared by the zygote's sandboxes).
  libc.call("mount", b"devpts", b"/dev/pts", b"devpts", _MS_NOSUID | _MS_NOEXEC, _DEVPTS)
  _loopback_up()
  uid, gid = os.getuid(), os.getgid()
  libc.call("unshare", _CLONE_NEWUSER)
  # An undumpable process cannot write its own /proc/self maps. Nothing can reach this one
  # meanwhile: its PID namespace holds nothing else yet, and no sibling sandbox can name it.
  libc.call("prctl", _PR_SET_DUMPABLE, 1, 0, 0, 0)
  for name, content in (
    ("setgroups", "deny"),
    ("uid_map", f"{uid} {uid} 1"),
    ("gid_map", f"{gid} {gid} 1"),
  ):
    with open(f"/proc/self/{name}", "w") as file:
      file.write(content)
  for capability in range(last_capability + 1):
    libc.call("prctl", _PR_CAPBSET_DROP, capability, 0, 0, 0)
  libc.call("capset", struct.pack("=II", _CAPABILITY_VERSION_3, 0), bytes(24))
  libc.call("prctl", _PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
  make_undumpable()
  with open("/proc/self/status") as status:
    held = [line for line in status if line.startswith("Cap") and line.split()[1].strip("0")]
  if held:
    raise RuntimeError(f"capabilities left after dropping them all: {held}")


def _loopback_up():
  probe = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
  try:
    request = struct.pack("16sh", b"lo", 0)
    flags = struct.unpack("16sh", fcntl.ioctl(probe.fileno(), _SIOCGIFFLAGS, request))[1]
    fcntl.ioctl(probe.fileno(), _SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | _IFF_UP))
  finally:
    probe.close()
