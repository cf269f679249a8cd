"""One run of the program, in the child the fork server forks for a test.

The child wires its fds, applies rlimits and either execs the compiled binary or runs the
Python program in a clean ``__main__``, ending the way a fresh ``python3 solution.py``
would (threads joined, atexit run, streams flushed). In call modes the harness itself calls
the entry point and reports the value on fd 3; in check mode this is the candidate side,
a freshly exec'd interpreter answering the check process's calls.
"""

import _signal  # not `signal`: its enums cost ~5 ms per sandbox start
import atexit
import builtins
import io
import os
import resource
import sys

from .wire import decode, encode, write_all

REPORT_FD = 3
# Check mode, in the candidate process: calls from the check process, replies to it, and
# the solution's marshalled code object (read once, then closed).
_CALLS_FD = 4
_REPLIES_FD = 5
_CODE_FD = 6
_MEMORY_RECORD = b'{"memory_error": true}'
# Frames hidden from the program's tracebacks: the harness modules (compiled with
# "<judge-...>" file names) and the call prelude.
_OWN_FILE_PREFIX = "<judge-"
_PRELUDE_FILE = "<string>"
# Call-style tasks (LeetCode, LiveCodeBench functional) assume these names, as LiveCodeBench's
# own runner does; run before the program, so its line numbers are unchanged. The server
# imports them once at setup, so that each run's prelude costs dictionary lookups only.
CALL_PRELUDE_MODULES = (
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
  f"from typing import *\nfrom collections import *\nimport {', '.join(CALL_PRELUDE_MODULES)}\n"
)


def provide_site_builtins():
  """The builtins ``site`` defines (the harness runs under -S), so a program's exit() works."""
  import _sitebuiltins

  eof = "Ctrl-D (i.e. EOF)"
  builtins.exit = _sitebuiltins.Quitter("exit", eof)
  builtins.quit = _sitebuiltins.Quitter("quit", eof)
  builtins.help = _sitebuiltins._Helper()
  builtins.copyright = _sitebuiltins._Printer("copyright", sys.copyright)
  builtins.credits = _sitebuiltins._Printer("credits", "See https://www.python.org/.")
  builtins.license = _sitebuiltins._Printer("license", "See https://www.python.org/psf/license/")


def apply_limits(limits):
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
  # Runtimes that reserve more address space than they use get a backstop here; their limit
  # is on resident memory (supervise.py).
  set_limit(resource.RLIMIT_AS, limits.get("address_space_bytes", limits["memory_bytes"]))


def fresh_std_streams():
  """Recreates sys.std* on fds 0-2 the way a fresh interpreter would.

  The zygote does it once, before it forks anything, and never writes to them: each run
  inherits untouched streams that its own fds 0-2 stand behind (building them in every
  run cost ~80 copy-on-write page faults, ~0.3 ms)."""
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

  os.write(REPORT_FD, json.dumps(record).encode())


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


def _serve_calls(namespace):
  """Check mode, candidate side: answers the check process's calls with plain values."""
  import json

  with os.fdopen(_CALLS_FD, "rb") as calls:
    for line in calls:
      request = json.loads(line)
      args = [decode(item) for item in request["a"]]
      kwargs = {key: decode(item) for key, item in request["k"]}
      result = namespace[request["f"]](*args, **kwargs)
      write_all(_REPLIES_FD, (json.dumps({"v": encode(result)}) + "\n").encode())


def _is_own_frame(frame):
  filename = frame.f_code.co_filename
  return filename.startswith(_OWN_FILE_PREFIX) or filename == _PRELUDE_FILE


def _run_python(request, code, workdir):
  """Runs the program in a clean __main__; returns the process exit status."""
  nonce, mode = request.get("nonce"), request["mode"]
  call = None
  if mode in ("leetcode", "function"):
    import json  # preloaded by setup for call modes

    call = {"fn_name": request["fn_name"], "args": json.loads(request.get("args_json", "[]"))}
  argv = request.get("argv", [])
  request.clear()  # from here on the nonce lives only in this frame
  main = type(sys)("__main__")
  main.__file__ = os.path.join(workdir, "solution.py")
  sys.modules["__main__"] = main
  sys.argv = [main.__file__] + argv
  sys.path[0] = workdir
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
      os.write(REPORT_FD, _MEMORY_RECORD)  # built before the run, so no allocation
      raise
  except SystemExit as exit_request:
    status = _exit_status(exit_request)
  except BaseException as error:  # the program's own failure, shown as python3 would
    try:
      frames = error.__traceback__
      while frames is not None and _is_own_frame(frames.tb_frame):
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


def run_environment(workdir):
  """The environment of a run in ``workdir``."""
  return {"PATH": "/usr/bin:/bin", "HOME": workdir, "LANG": "C.UTF-8", "TMPDIR": workdir}


def run_child(request, workdir, fds, code, binary_fd):
  """Runs in the forked child, wires fds 0-3 to the run's streams; never returns.

  A Python run inherits os.environ from the server, which set it once for its fixed run
  directory (Server.__init__): rewriting it here cost ~130 copy-on-write page faults,
  ~0.6 ms per run. An exec'd program gets ``run_environment(workdir)``.
  """
  status = 127
  try:
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
    apply_limits(request["limits"])
    if request.get("exec") or binary is not None:
      target = binary if binary is not None else request["exec"][0]
      argv = request.get("exec") or ["solution"] + request.get("argv", [])
      _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)  # Python's SIG_IGN stays for Python
      try:
        os.execve(target, argv, {**run_environment(workdir), **request.get("env", {})})
      except OSError as error:
        _report({"nonce": request.get("nonce"), "exec_failed": f"{argv[0]}: {error}"})
        os._exit(127)
    status = _run_python(request, code, workdir)
  finally:
    os._exit(status)


def serve_candidate():
  """Check mode, candidate side (a fresh interpreter): loads the program, answers calls."""
  import marshal

  with os.fdopen(_CODE_FD, "rb") as code_file:
    code = marshal.loads(code_file.read())
  fresh_std_streams()
  status = _run_python({"mode": "candidate"}, code, os.getcwd())
  os._exit(status)
