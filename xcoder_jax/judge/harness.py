"""The fork server that runs inside each sandbox (standard library only).

The judge compiles this file and protocol.py once with the sandbox's own interpreter and
starts ``python3 -I /judge/harness.pyc`` inside bubblewrap; nothing heavy is imported, so a
sandbox starts in ~20 ms. It keeps one warm interpreter per solution and forks a fresh child per
test: the child gets a fresh private directory, its own session, rlimits, and either execs
the compiled C++ binary or runs the Python program in a clean ``__main__``. Between tests
every other process in the sandbox's PID namespace is killed (``kill(-1)``), so nothing a
test started survives into the next one. Expected outputs never enter the sandbox: the
server only returns what the program printed (or, in call modes, the JSON-serialised
return value) and the judge compares.

In stdio/call modes a run can ptrace its own server (same uid); that gains it nothing, as
the server never holds expected outputs and serves that one solution only (the judge parses
its answers as JSON, with a size cap and a deadline). In check mode the server holds check
sources, so it makes itself undumpable and runs no user code in its own or the check's
process (see Server._start_check).
"""

import atexit
import fcntl
import gc
import io
import os
import resource
import select
import signal
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # protocol.pyc beside us
from protocol import read_request, write_response  # noqa: E402

_CONTROL_IN_FD = 100
_CONTROL_OUT_FD = 101
_REPORT_FD = 3
# Check mode, in the candidate process: calls from the check process, replies to it, and
# the solution's marshalled code object (read once, then closed).
_CALLS_FD = 4
_REPLIES_FD = 5
_CODE_FD = 6
_PR_SET_DUMPABLE = 4
_settings = {"tmp_root": "/tmp", "isolated": True}  # set by serve() from argv
_POLL_INTERVAL_S = 0.02
_OWN_FILES = ("<judge-harness>", "<string>")  # frames hidden from the program's tracebacks
_STDERR_CAP = 64 * 1024
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Call-style tasks (LeetCode, LiveCodeBench functional) assume these names, as LiveCodeBench's
# own runner does; run before the program, so its line numbers are unchanged. The server
# imports them once at setup, so that each run's prelude costs dictionary lookups only.
_CALL_PRELUDE_MODULES = (
  "typing",
  "collections",
  "math",
  "heapq",
  "bisect",
  "itertools",
  "functools",
  "string",
  "re",
)
_CALL_PRELUDE = (
  f"from typing import *\nfrom collections import *\nimport {', '.join(_CALL_PRELUDE_MODULES)}\n"
)


def _apply_limits(limits):
  """Rlimits for one run; RLIMIT_NPROC counts every task of the sandbox user."""

  def set_limit(kind, soft, hard=None):
    hard = soft if hard is None else hard
    current_hard = resource.getrlimit(kind)[1]
    if current_hard != resource.RLIM_INFINITY:
      hard = min(hard, current_hard)
    resource.setrlimit(kind, (min(soft, hard), hard))

  set_limit(resource.RLIMIT_CORE, 0)
  set_limit(resource.RLIMIT_NPROC, limits["nproc"])
  set_limit(resource.RLIMIT_NOFILE, limits["nofile"])
  set_limit(resource.RLIMIT_FSIZE, limits["fsize_bytes"])
  set_limit(resource.RLIMIT_STACK, limits["stack_bytes"])
  cpu_seconds = int(limits["cpu_s"]) + 1
  set_limit(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)
  set_limit(resource.RLIMIT_AS, limits["memory_bytes"])


def _fresh_std_streams():
  """Recreates sys.std* on fds 0-2 the way a fresh interpreter would."""
  sys.stdin = io.TextIOWrapper(
    io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8"
  )
  sys.stdout = io.TextIOWrapper(
    io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8"
  )
  sys.stderr = io.TextIOWrapper(
    io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
    encoding="utf-8",
    errors="backslashreplace",
    line_buffering=True,
  )
  sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def _exit_status(exit_request):
  """Maps a SystemExit to the status a fresh interpreter would exit with."""
  code = exit_request.code
  if code is None or isinstance(code, int):
    return (code or 0) & 0xFF
  print(code, file=sys.stderr)
  return 1


def _report(record):
  """Writes the run's result record; only the harness writes it, after the call or checks."""
  import json  # preloaded by setup for call modes; elsewhere only on an error path

  os.write(_REPORT_FD, json.dumps(record).encode())


def _call_and_report(mode, namespace, call, nonce):
  """Function-call modes: the harness calls the entry point and reports the result.

  The record is only a value: the program could write one itself, but all it can claim is
  a return value, which the judge compares outside the sandbox.
  """
  if mode == "leetcode":
    result = getattr(namespace["Solution"](), call["fn_name"])(*call["args"])
  else:
    result = namespace[call["fn_name"]](*call["args"])
  _report({"nonce": nonce, "result": result})


def _encode(value):
  """Plain data as tagged JSON (tuples, sets, dicts with any keys survive the trip)."""
  if value is None or isinstance(value, (bool, int, float, str)):
    return value
  if isinstance(value, list):
    return [_encode(item) for item in value]
  for tag, kind in (("t", tuple), ("s", set), ("f", frozenset)):
    if isinstance(value, kind):
      return {tag: [_encode(item) for item in value]}
  if isinstance(value, dict):
    return {"d": [[_encode(key), _encode(item)] for key, item in value.items()]}
  if isinstance(value, complex):
    return {"c": [value.real, value.imag]}
  if isinstance(value, bytes):
    return {"b": value.hex()}
  raise TypeError(f"the check can only exchange plain data, not {type(value).__name__}")


_DECODERS = {
  "t": lambda items: tuple(_decode(item) for item in items),
  "s": lambda items: {_decode(item) for item in items},
  "f": lambda items: frozenset(_decode(item) for item in items),
  "d": lambda items: {_decode(key): _decode(item) for key, item in items},
  "c": lambda parts: complex(*parts),
  "b": bytes.fromhex,
}


def _decode(data):
  """Rebuilds only builtin plain values: nothing the candidate sends can carry behaviour."""
  if data is None or type(data) in (bool, int, float, str):
    return data
  if type(data) is list:
    return [_decode(item) for item in data]
  if type(data) is dict and len(data) == 1:
    [(tag, payload)] = data.items()
    if tag in _DECODERS:
      return _DECODERS[tag](payload)
  raise ValueError("malformed value from the candidate")


def _write_all(fd, data):
  view = memoryview(data)
  while view:
    view = view[os.write(fd, view) :]


def _serve_calls(namespace):
  """Check mode, candidate side: answers the check process's calls with plain values."""
  import json

  with os.fdopen(_CALLS_FD, "rb") as calls:
    for line in calls:
      request = json.loads(line)
      args = [_decode(item) for item in request["a"]]
      kwargs = {key: _decode(item) for key, item in request["k"]}
      result = namespace[request["f"]](*args, **kwargs)
      _write_all(_REPLIES_FD, (json.dumps({"v": _encode(result)}) + "\n").encode())


def _run_python(request, code, workdir, memory_record):
  """Runs the program in a clean __main__; returns the process exit status."""
  nonce, mode = request.get("nonce"), request["mode"]
  call = None
  if mode in ("leetcode", "function"):
    import json  # preloaded by setup for call modes

    call = {"fn_name": request["fn_name"], "args": json.loads(request.get("args_json", "[]"))}
  argv = request.get("argv", [])
  request.clear()  # from here on the nonce lives only in this frame
  main = types.ModuleType("__main__")
  main.__file__ = os.path.join(workdir, "solution.py")
  sys.modules["__main__"] = main
  sys.argv = [main.__file__] + argv
  sys.path[0] = workdir
  _fresh_std_streams()
  status = 0
  try:
    try:
      if mode in ("leetcode", "function"):
        exec(_CALL_PRELUDE, main.__dict__)
      exec(code, main.__dict__)
      if call is not None:
        _call_and_report(mode, main.__dict__, call, nonce)
      elif mode == "candidate":
        _serve_calls(main.__dict__)
    except MemoryError:
      os.write(_REPORT_FD, memory_record)
      raise
  except SystemExit as exit_request:
    status = _exit_status(exit_request)
  except BaseException as error:  # the program's own failure, shown as python3 would
    try:
      frames = error.__traceback__
      while frames is not None and frames.tb_frame.f_code.co_filename in _OWN_FILES:
        frames = frames.tb_next  # hide the harness's own frames
      import traceback  # imported on this error path only: the server starts faster

      traceback.print_exception(type(error), error, frames)
    except BaseException:
      pass
    status = 1
  return _finalize_like_python(status)


def _finalize_like_python(status):
  """What interpreter shutdown does: join non-daemon threads, run atexit, flush."""
  try:
    threading = sys.modules.get("threading")
    if threading is not None:
      threading._shutdown()
    atexit._run_exitfuncs()
  except SystemExit as exit_request:
    status = _exit_status(exit_request)
  except BaseException:
    status = status or 1
  try:
    sys.stdout.flush()
    sys.stderr.flush()
  except BaseException:
    status = status or 120
  return status


def _child(request, workdir, fds, code, binary_fd):
  """Runs in the forked child, wires fds 0-3 to the run's streams; never returns."""
  status = 127
  try:
    memory_record = b'{"memory_error": true}'
    os.setsid()
    os.chdir(workdir)
    high = [os.dup2(fd, 1000 + index) for index, fd in enumerate(fds)]
    binary = os.dup2(binary_fd, 1000 + len(fds)) if binary_fd is not None else None
    for target, source in enumerate(high):
      os.dup2(source, target)
    os.closerange(len(fds), 1000)
    os.closerange(1000 + len(fds) + 1, 1 << 16)
    for fd in high:
      os.close(fd)
    env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "LANG": "C.UTF-8", "TMPDIR": workdir}
    _apply_limits(request["limits"])
    if request.get("exec") or binary is not None:
      target = binary if binary is not None else request["exec"][0]
      argv = request.get("exec") or ["solution"] + request.get("argv", [])
      signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # Python's SIG_IGN stays for Python
      try:
        os.execve(target, argv, env)
      except OSError as error:
        _report({"nonce": request.get("nonce"), "exec_failed": f"{argv[0]}: {error}"})
        os._exit(127)
    os.environ.clear()
    os.environ.update(env)
    status = _run_python(request, code, workdir, memory_record)
  finally:
    os._exit(status)


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


def kill_everything_else(pid):
  """SIGKILLs every process in the sandbox except init and the server, until none is left.

  Without a sandbox (the unsafe opt-out) only the run's own process group is killed.
  """
  if not _settings["isolated"]:
    try:
      os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
      pass
    return
  for _ in range(10000):
    try:
      os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
      return  # nothing else is left, not even a zombie
    while True:
      try:
        if os.waitpid(-1, os.WNOHANG)[0] == 0:
          break
      except ChildProcessError:
        break
    if not _sandbox_pids():
      return
    time.sleep(0.001)
  raise RuntimeError("processes survived repeated SIGKILL")


def _cpu_seconds(pid):
  try:
    with open(f"/proc/{pid}/stat") as stat:
      fields = stat.read().rsplit(")", 1)[1].split()
  except OSError:
    return 0.0
  return sum(int(value) for value in fields[11:15]) / _CLOCK_TICKS


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


class Server:
  """One solution's warm interpreter: set up once, then fork a child per run."""

  def __init__(self):
    self.code = None
    self.binary_fd = None
    self.run_count = 0

  def setup(self, request):
    """Compiles the solution once: Python to a code object, C++ to a sealed memfd."""
    if request["lang"] == "python":
      try:
        self.code = compile(request["source"], "solution.py", "exec")
      except (SyntaxError, ValueError) as error:
        import traceback

        return {"compile_error": "".join(traceback.format_exception_only(error)).encode()}
      if request.get("mode") == "check":
        _make_undumpable()  # the server and check processes hold check sources
      if request.get("mode", "stdio") != "stdio":  # what every run would import
        import json  # noqa: F401  (the result record)

        if request["mode"] in ("leetcode", "function"):
          for module in _CALL_PRELUDE_MODULES:
            __import__(module)
      gc.freeze()  # fewer copy-on-write faults in each forked run
      return {"ok": True}
    build_dir = os.path.join(_settings["tmp_root"], "build")
    os.mkdir(build_dir, 0o700)
    with open(os.path.join(build_dir, request["source_name"]), "w") as source_file:
      source_file.write(request["source"])
    result = self.run(
      {
        "mode": "stdio",
        "exec": request["compile_command"],
        "input": b"",
        "limits": request["limits"],
      },
      workdir=build_dir,
    )
    binary_path = os.path.join(build_dir, request["binary_name"])
    if result["exit_code"] == 0 and os.path.isfile(binary_path):
      self.binary_fd = _sealed_copy(binary_path)
    _wipe_tmp()
    return {"compile_result": result}

  def run(self, request, workdir=None):
    """Runs one test in a fresh private directory; /tmp is wiped afterwards."""
    self.run_count += 1
    token = request.get("token")
    keep_workdir = workdir is not None
    if workdir is None:
      workdir = os.path.join(_settings["tmp_root"], f"run-{self.run_count}")
      os.mkdir(workdir, 0o700)
    for name, content in request.get("files", {}).items():
      with open(os.path.join(workdir, name), "wb") as file:
        file.write(content)
    stdin_fd = os.memfd_create("stdin")
    os.write(stdin_fd, request["input"])
    os.lseek(stdin_fd, 0, os.SEEK_SET)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    report_r, report_w = os.pipe()
    child_fds = [stdin_fd, out_w, err_w, report_w]
    binary_fd = None if request.get("exec") else self.binary_fd
    check_pid = check_r = None
    if request["mode"] == "check":
      request, check_pid, check_r, extra_fds = self._start_check(request)
      child_fds += extra_fds
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
      _child(request, workdir, child_fds, self.code, binary_fd)
    for fd in child_fds:
      os.close(fd)
    result = _supervise(pid, started, request["limits"], out_r, err_r, report_r, check_r)
    if check_pid is not None:
      _kill_and_reap(check_pid)
    if not keep_workdir:
      _wipe_tmp()
    result["token"] = token  # a run can write to the judge's pipe (/proc/1/fd/1), not this
    return result

  def _start_check(self, request):
    """Check mode: forks the check process, then asks for a fresh candidate interpreter.

    The check program (and its expected values) lives only in the check process, which is
    forked from this undumpable server before any user code runs and never runs user code.
    The candidate is exec'd (a fresh address space that never saw a check source) and only
    answers calls with plain values; the check process decides, and reports on a pipe the
    candidate does not hold. Nothing the candidate does in its own process can forge that.
    """
    calls_r, calls_w = os.pipe()
    replies_r, replies_w = os.pipe()
    check_r, check_w = os.pipe()
    check_pid = os.fork()
    if check_pid == 0:
      _check_child(request, calls_w, replies_r, check_w)
    for fd in (calls_w, replies_r, check_w):
      os.close(fd)
    import marshal

    code_fd = os.memfd_create("code")
    os.write(code_fd, marshal.dumps(self.code))
    os.lseek(code_fd, 0, os.SEEK_SET)
    harness = os.path.abspath(__file__)
    candidate = {
      "mode": "candidate",
      "limits": request["limits"],
      "nonce": request.get("nonce"),
      "exec": [sys.executable, "-I", harness, "candidate"],
    }
    return candidate, check_pid, check_r, [calls_r, replies_w, code_fd]


def _make_undumpable():
  """No ptrace, /proc/PID/mem or /proc/PID/fd access by same-uid processes (the runs)."""
  import ctypes

  libc = ctypes.CDLL(None, use_errno=True)
  if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def _kill_and_reap(pid):
  try:
    os.kill(pid, signal.SIGKILL)
  except ProcessLookupError:
    pass
  try:
    os.waitpid(pid, 0)
  except ChildProcessError:
    pass  # already reaped by kill_everything_else


def _check_names(code):
  """Every name the check program's code objects look up, nested functions included."""
  names = set(code.co_names)
  for constant in code.co_consts:
    if isinstance(constant, types.CodeType):
      names |= _check_names(constant)
  return names


class _Remote:
  """A function of the candidate's program, called across the pipe with plain values."""

  def __init__(self, link, name):
    self.link, self.name = link, name

  def __call__(self, *args, **kwargs):
    return self.link.call(self.name, args, kwargs)


class _CandidateGone(Exception):
  """The candidate exited or crashed before answering a call."""


class _Link:
  def __init__(self, calls_w, replies_r):
    self.calls_w, self.replies = calls_w, os.fdopen(replies_r, "rb")

  def call(self, name, args, kwargs):
    import json

    message = {
      "f": name,
      "a": [_encode(arg) for arg in args],
      "k": [[key, _encode(value)] for key, value in kwargs.items()],
    }
    try:
      _write_all(self.calls_w, (json.dumps(message) + "\n").encode())
    except BrokenPipeError:
      raise _CandidateGone() from None
    line = self.replies.readline()
    if not line.endswith(b"\n"):
      raise _CandidateGone()
    return _decode(json.loads(line)["v"])


def _check_child(request, calls_w, replies_r, check_w):
  """The check process: runs check(candidate) with calls forwarded to the candidate.

  Names the check uses but does not define (prompt helpers such as ``poly``) are looked up
  in the candidate's program, as in HumanEval's own harness; a standard-library module name
  is the module (a prompt's ``import math``).
  """
  status = 1
  try:
    import builtins
    import json

    os.setsid()
    null = os.open("/dev/null", os.O_RDWR)
    for target in (0, 1, 2):
      os.dup2(null, target)
    keep = {0, 1, 2, calls_w, replies_r, check_w}
    for fd in range(3, max(keep) + 1):
      if fd not in keep:
        try:
          os.close(fd)
        except OSError:
          pass
    os.closerange(max(keep) + 1, 1 << 16)
    _apply_limits(request["limits"])
    link = _Link(calls_w, replies_r)
    code = compile(request["check_source"], "check.py", "exec")
    namespace = {"__name__": "check", "__builtins__": builtins}
    for name in _check_names(code):
      if hasattr(builtins, name):
        continue
      if name in sys.stdlib_module_names and name not in ("this", "antigravity"):
        try:
          namespace[name] = __import__(name)
          continue
        except Exception:
          pass
      namespace[name] = _Remote(link, name)
    try:
      exec(code, namespace)
      namespace["check"](_Remote(link, request["fn_name"]))
      record = {"checked": True}
    except AssertionError as failure:
      record = {"assertion_failed": repr(failure)[:500]}
    except _CandidateGone:
      record = {"candidate_gone": True}
    except Exception as error:
      record = {"check_error": repr(error)[:500]}
    _write_all(check_w, json.dumps(record).encode())
    status = 0
  finally:
    os._exit(status)


def _serve_candidate():
  """Check mode, candidate side (a fresh interpreter): loads the program, answers calls."""
  import marshal

  with os.fdopen(_CODE_FD, "rb") as code_file:
    code = marshal.loads(code_file.read())
  status = _run_python({"mode": "candidate"}, code, os.getcwd(), b'{"memory_error": true}')
  os._exit(status)


def _sealed_copy(path):
  """Copies the compiled binary into a sealed memfd that no run can modify."""
  binary_fd = os.memfd_create("solution", os.MFD_ALLOW_SEALING)
  with open(path, "rb") as binary:
    os.write(binary_fd, binary.read())
  fcntl.fcntl(
    binary_fd,
    fcntl.F_ADD_SEALS,
    fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL,
  )
  return binary_fd


def _wipe_tmp():
  """Empties the tmp root (the only writable place) so no state carries over between runs."""
  _remove_contents(_settings["tmp_root"])


def _remove_contents(directory):
  """Deletes everything under ``directory``, whatever permissions a run left behind."""
  os.chmod(directory, 0o700)
  with os.scandir(directory) as entries:
    for entry in entries:
      if entry.is_dir(follow_symlinks=False):
        _remove_contents(entry.path)
        os.rmdir(entry.path)
      else:
        os.unlink(entry.path)


def _supervise(pid, started, limits, out_r, err_r, report_r, check_r=None):
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
      if _cpu_seconds(pid) > limits["cpu_s"]:
        stopped_by = "cpu"
    if stopped_by:
      os.kill(pid, signal.SIGKILL)  # still our unreaped child, so the pid is not reused
      break
  _, wait_status, usage = os.wait4(pid, 0)
  wall_s = time.monotonic() - started
  os.close(pidfd)
  kill_everything_else(pid)
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


def serve(mode, tmp_root):
  """Answers setup/run requests on the control fds until the judge closes them.

  ``mode`` is "isolated" inside a sandbox, "unsafe" for the explicit no-sandbox opt-out.
  """
  _settings.update(tmp_root=tmp_root, isolated=(mode == "isolated"))
  os.dup2(0, _CONTROL_IN_FD)
  os.dup2(1, _CONTROL_OUT_FD)
  null = os.open("/dev/null", os.O_RDWR)
  os.dup2(null, 0)
  os.dup2(null, 1)
  os.close(null)
  server = Server()
  while True:
    request = read_request(_CONTROL_IN_FD)
    if request is None or request.get("op") == "quit":
      return
    try:
      if request["op"] == "setup":
        response = server.setup(request)
      else:
        response = server.run(request)
    except Exception:  # the judge's own fault: reported, never blamed on the program
      import traceback

      response = {"judge_error": traceback.format_exc()[-2000:].encode()}
    write_response(_CONTROL_OUT_FD, response)


if __name__ == "__main__":
  if sys.argv[1] == "candidate":
    _serve_candidate()
  else:
    serve(sys.argv[1], sys.argv[2])
