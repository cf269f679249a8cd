"""The fork server: one warm interpreter per solution, a forked child per test.

It answers the judge's setup/run requests on its channel (a socket from the zygote). Setup
compiles the solution once (Python to a code object; a native binary (C++, Go, Rust) into a
sealed memfd nobody can modify; other languages' compiled files, or their source, kept to be
written into every run's directory); each run gets a fresh private directory under the tmp root,
is watched by supervise.py, and the tmp root is emptied afterwards. Expected outputs never
enter the sandbox: the server only returns what the program printed (or, in call modes, the
JSON-serialised return value) and the judge compares.
"""

import fcntl
import gc
import os
import stat
import time

from . import check, libc
from .program import CALL_PRELUDE_MODULES, run_child, run_environment
from .protocol import GREETING, read_request, write_response
from .supervise import kill_and_reap, supervise
from .wire import write_all

_CONTROL_IN_FD = 100
_CONTROL_OUT_FD = 101
_PR_SET_DUMPABLE = 4
_STDOUT_PIPE_BYTES = 1 << 20  # the default /proc/sys/fs/pipe-max-size


def make_undumpable():
  """No ptrace, /proc/PID/mem or /proc/PID/fd access to this process (and the processes it
  forks, until they exec) by same-uid processes: the runs. Every answer to the judge, the
  check process and the control channel's token live here."""
  libc.call("prctl", _PR_SET_DUMPABLE, 0, 0, 0, 0)


class Server:
  """One solution's warm interpreter: set up once, then fork a child per run.

  ``tmp_root`` is the only writable place; ``isolated`` is False for the unsafe opt-out
  (no PID namespace, so only a run's own process group is killed after it);
  ``candidate_command`` is what check mode execs as the candidate.
  """

  def __init__(self, tmp_root, isolated, candidate_command):
    self.tmp_root, self.isolated = tmp_root, isolated
    self.candidate_command = candidate_command
    self.code = None
    self.binary_fd = None
    self.artefacts, self.run_command, self.env = [], None, {}
    # Every run uses the same directory, recreated empty (the tmp root is wiped after each
    # run), so the server's own environment is set to the runs' once, not in each child.
    self.run_dir = os.path.join(tmp_root, "run")
    os.environ.clear()
    os.environ.update(run_environment(self.run_dir))

  def setup(self, request):
    """Compiles the solution once (see the module docstring); the request says how (the
    judge's language table, xcoder_jax/judge/languages.py)."""
    if request["lang"] == "python":
      try:
        self.code = compile(request["source"], "solution.py", "exec")
      except (SyntaxError, ValueError) as error:
        import traceback

        return {"compile_error": "".join(traceback.format_exception_only(error)).encode()}
      if request.get("mode", "stdio") != "stdio":  # what every run would import
        import json  # noqa: F401  (the result record)

        if request["mode"] in ("leetcode", "function"):
          for module in CALL_PRELUDE_MODULES:
            __import__(module)
      gc.freeze()  # fewer copy-on-write faults in each forked run
      return {"ok": True}
    self.env = request.get("env", {})
    if "artefacts" in request:  # compiled earlier from the same source (the judge's cache)
      self._install(request, request["artefacts"])
      return {"ok": True}
    if not request.get("compile_command"):  # interpreted: the source is all a run needs
      self._install(request, [[request["source_name"], request["source"].encode()]])
      return {"ok": True}
    build_dir = os.path.join(self.tmp_root, "build")
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
    response = {"compile_result": result}
    artefacts = _outputs(build_dir, request["outputs"]) if result["exit_code"] == 0 else []
    if artefacts:
      self._install(request, artefacts)
      if sum(len(content) for _, content in artefacts) <= request.get("return_bytes", 0):
        # for the judge's cache; names as bytes, since the answer's JSON writer takes plain
        # identifiers only as text
        response["artefacts"] = [[name.encode(), content] for name, content in artefacts]
    _remove_contents(self.tmp_root)
    return response

  def _install(self, request, artefacts):
    """Keeps what the runs need: a native binary in a sealed memfd; other files in memory,
    written into each run's fresh directory, with the command that runs them."""
    if request.get("native"):
      self.binary_fd = _sealed_copy(artefacts[0][1])
    else:
      self.artefacts, self.run_command = artefacts, request["run_command"]

  def run(self, request, workdir=None):
    """Runs one test in a fresh private directory; the tmp root is wiped afterwards."""
    token = request.get("token")
    keep_workdir = workdir is not None
    if workdir is None:
      workdir = self.run_dir
      os.mkdir(workdir, 0o700)
      if self.run_command:
        request["exec"] = self.run_command + request.get("argv", [])
        for name, content in self.artefacts:
          with open(os.path.join(workdir, name), "wb") as file:
            file.write(content)
    request["env"] = self.env
    for name, content in request.get("files", {}).items():
      path = os.path.join(workdir, name)
      os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
      with open(path, "wb") as file:
        file.write(content)
    stdin_fd = os.memfd_create("stdin")
    os.write(stdin_fd, request["input"])
    os.lseek(stdin_fd, 0, os.SEEK_SET)
    out_r, out_w = os.pipe()
    try:  # fewer hand-offs between a program printing megabytes and its reader
      fcntl.fcntl(out_w, fcntl.F_SETPIPE_SZ, _STDOUT_PIPE_BYTES)
    except OSError:
      pass  # above this user's pipe buffer allowance: the default 64 KiB
    err_r, err_w = os.pipe()
    report_r, report_w = os.pipe()
    child_fds = [stdin_fd, out_w, err_w, report_w]
    binary_fd = None if request.get("exec") else self.binary_fd
    check_pid = check_r = None
    if request["mode"] == "check":
      request, check_pid, check_r, extra_fds = check.start_check(
        request, self.code, self.candidate_command
      )
      child_fds += extra_fds
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
      run_child(request, workdir, child_fds, self.code, binary_fd)
    for fd in child_fds:
      os.close(fd)
    result = supervise(
      pid, started, request["limits"], self.isolated, out_r, err_r, report_r, check_r
    )
    if check_pid is not None:
      kill_and_reap(check_pid)
    if request.get("fetch"):
      result["fetched"] = _fetch(workdir, request["fetch"], request["limits"]["output_bytes"])
    if not keep_workdir:
      _remove_contents(self.tmp_root)
    result["token"] = token  # proves the answer is this server's, for this request
    return result


def _fetch(workdir, paths, budget):
  """[path, content] (both bytes) of the regular files at ``paths`` the run left in
  ``workdir``, all together at most ``budget`` bytes; a path that is missing, not a regular
  file, or leads outside the directory (a symlink the program made) is left out. Pairs, not
  a dict: the answer's JSON writer takes only identifiers as text (names are bytes)."""
  fetched = []
  root = os.path.realpath(workdir)
  for name in paths:
    path = os.path.join(workdir, name)
    if os.path.commonpath([root, os.path.realpath(path)]) != root:
      continue
    try:
      fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
      continue
    try:
      info = os.fstat(fd)
      if not stat.S_ISREG(info.st_mode) or info.st_size > budget:
        continue
      chunks, left = [], info.st_size
      while left > 0 and (chunk := os.read(fd, left)):
        chunks.append(chunk)
        left -= len(chunk)
      content = b"".join(chunks)
    finally:
      os.close(fd)
    fetched.append([name.encode(), content])  # names as bytes: any text survives
    budget -= len(content)
  return fetched


def _outputs(build_dir, patterns):
  """[name, content] of the files in ``build_dir`` the compile made that match ``patterns``
  (sorted: the same compile gives the same list)."""
  import fnmatch

  names = sorted(
    name
    for name in os.listdir(build_dir)
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
    and os.path.isfile(os.path.join(build_dir, name))
  )
  outputs = []
  for name in names:
    with open(os.path.join(build_dir, name), "rb") as output:
      outputs.append([name, output.read()])
  return outputs


def _sealed_copy(binary):
  """Copies the compiled binary into a sealed memfd that no run can modify."""
  binary_fd = os.memfd_create("solution", os.MFD_ALLOW_SEALING)
  write_all(binary_fd, binary)
  fcntl.fcntl(
    binary_fd,
    fcntl.F_ADD_SEALS,
    fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL,
  )
  return binary_fd


def _remove_contents(directory):
  """Deletes everything under ``directory``, whatever permissions a run left behind, so
  no state carries over between runs."""
  os.chmod(directory, 0o700)
  with os.scandir(directory) as entries:
    for entry in entries:
      if entry.is_dir(follow_symlinks=False):
        _remove_contents(entry.path)
        os.rmdir(entry.path)
      else:
        os.unlink(entry.path)


def serve(channel, tmp_root, isolated, candidate_command):
  """Answers setup/run requests on ``channel`` (a socket) until the judge closes it.

  ``isolated`` is False for the explicit no-sandbox opt-out. Inside a sandbox the server is
  the PID namespace's init (zygote.py), so a run can neither stop nor kill it (the kernel
  drops SIGKILL/SIGSTOP sent to init from inside), and it is undumpable before any request
  is read, in every mode. Its first byte on the channel is a greeting, from which the judge
  learns this process's pid on the host (SO_PASSCRED) to measure the sandbox's CPU time.
  """
  make_undumpable()
  os.dup2(channel, _CONTROL_IN_FD)
  os.dup2(channel, _CONTROL_OUT_FD)
  os.close(channel)
  null = os.open("/dev/null", os.O_RDWR)
  os.dup2(null, 0)
  os.dup2(null, 1)
  os.close(null)
  server = Server(tmp_root, isolated, candidate_command)
  write_all(_CONTROL_OUT_FD, GREETING)
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
