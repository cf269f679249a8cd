"""Check mode (HumanEval): ``check(candidate)`` runs where the program cannot reach it.

The check program (and its expected values) lives only in the check process, which is
forked from the undumpable fork server before any user code runs and never runs user code.
The candidate is exec'd (a fresh address space that never saw a check source) and only
answers calls with plain values (wire.py); the check process decides, and reports on a
pipe the candidate does not hold. Nothing the candidate does in its own process can forge
that.
"""

import os
import sys

from .program import apply_limits
from .wire import decode, encode, write_all


def start_check(request, code, candidate_command):
  """Forks the check process, then returns the request for a fresh candidate interpreter.

  ``candidate_command`` runs the harness's entry script as the candidate.
  Returns (candidate request, check pid, check report fd, the candidate's fds 4-6).
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
  os.write(code_fd, marshal.dumps(code))
  os.lseek(code_fd, 0, os.SEEK_SET)
  candidate = {
    "mode": "candidate",
    "limits": request["limits"],
    "nonce": request.get("nonce"),
    "exec": candidate_command,
  }
  return candidate, check_pid, check_r, [calls_r, replies_w, code_fd]


def _check_names(code):
  """Every name the check program's code objects look up, nested functions included."""
  names = set(code.co_names)
  for constant in code.co_consts:
    if isinstance(constant, type(code)):
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
      "a": [encode(arg) for arg in args],
      "k": [[key, encode(value)] for key, value in kwargs.items()],
    }
    try:
      write_all(self.calls_w, (json.dumps(message) + "\n").encode())
    except BrokenPipeError:
      raise _CandidateGone() from None
    line = self.replies.readline()
    if not line.endswith(b"\n"):
      raise _CandidateGone()
    return decode(json.loads(line)["v"])


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
    apply_limits(request["limits"])
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
    write_all(check_w, json.dumps(record).encode())
    status = 0
  finally:
    os._exit(status)
