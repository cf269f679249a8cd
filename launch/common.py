"""What every launcher shares: multi-process start-up flags, and how a user's mistake ends a
command (one line on stderr naming the problem and its fix, exit status 2, no traceback).

Each launcher ends with `common.run(main, NAME)` instead of `app.run(main)`. Mistakes are told
apart from bugs by where they come from:
  * flag parsing, including ml_collections' `--config` file and its `--config.KEY=VALUE`
    overrides (loaded before `main` runs): every error there is the command line's fault;
  * set-up code inside `with common.user_errors(NAME):` (config checks, opening inputs): a
    ValueError or a missing / unreadable path, from wherever it was raised;
  * anywhere else, only errors that name a user's mistake on purpose: `UserError`, a missing or
    clashing path (FileNotFoundError, FileExistsError, ...), or a ValueError (or an error class
    of this project) raised by a `raise` statement of this project's own code, whose message
    is written for the user. A ValueError thrown by a library deep inside training, or by a
    failed operation in our code, is a bug and keeps its traceback.
`--debug` shows the traceback of every error.
"""

from __future__ import annotations

import contextlib
import functools
import linecache
import os
import re
import sys
from collections.abc import Callable, Sequence

from absl import app, flags, logging

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT_PACKAGES = ("xcoder_jax", "data_pipeline", "configs", "launch")
EXIT_USER_ERROR = 2  # argparse's status for usage errors

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
  None,
  "Seconds to wait for all processes to join at start-up (default: 15 minutes).",
)
_DEBUG = flags.DEFINE_bool(
  "debug",
  False,
  "Show the full traceback of a user error (bad flag, config, input file) instead of one line.",
)

# Errors that name a path the user gave: a user's mistake wherever they are raised.
PATH_ERRORS = (
  FileNotFoundError,
  FileExistsError,
  NotADirectoryError,
  IsADirectoryError,
  PermissionError,
)


class UserError(Exception):
  """A mistake in the flags, the config or the input files; the message names the fix."""


def start_trainer(argv: Sequence[str]) -> None:
  """What every training launcher does first: refuse stray arguments, keep Orbax's per-save
  INFO lines out unless --verbosity asks for them, join the multi-host run if there is one."""
  if len(argv) > 1:
    raise UserError(f"unexpected arguments {argv[1:]}; flags take the form --name=value")
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  start_distributed()


def start_distributed() -> None:
  from xcoder_jax import sharding  # here: importing this module must not start jax (quickstart)

  timeout = _INIT_TIMEOUT.value or sharding.DEFAULT_DISTRIBUTED_TIMEOUT_S
  sharding.initialize_distributed(
    _COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value, timeout
  )


def _debug() -> bool:
  return _DEBUG.value if flags.FLAGS.is_parsed() else "--debug" in sys.argv


@contextlib.contextmanager
def listening(host: str, port: int):
  """Around a server's start: a port already taken, or an address that is not this host's,
  is the user's to fix, in one line."""
  try:
    yield
  except OSError as error:
    raise UserError(
      f"cannot listen on {host}:{port} ({error.strerror or error}); choose another --port or --host"
    ) from None


def fail(name: str, message: str) -> None:
  """Ends the command with one line on stderr and exit status 2."""
  print(f"{name}: error: {' '.join(str(message).split())}", file=sys.stderr)
  sys.exit(EXIT_USER_ERROR)


def _in_project(path: str) -> bool:
  path = os.path.abspath(path)
  if "site-packages" in path or not path.startswith(ROOT + os.sep):
    return False
  return os.path.relpath(path, ROOT).split(os.sep)[0] in PROJECT_PACKAGES


def raised_on_purpose(error: BaseException) -> bool:
  """True when the innermost frame of `error` is a `raise` statement in this project's code."""
  tb = error.__traceback__
  if tb is None:
    return False
  while tb.tb_next is not None:
    tb = tb.tb_next
  path = tb.tb_frame.f_code.co_filename
  return _in_project(path) and linecache.getline(path, tb.tb_lineno).lstrip().startswith("raise")


def is_user_error(error: BaseException) -> bool:
  """Whether `error` reports a user's mistake rather than a bug (see the module docstring)."""
  if isinstance(error, (UserError, *PATH_ERRORS)):
    return True
  ours = type(error).__module__.split(".")[0] in PROJECT_PACKAGES
  return (isinstance(error, ValueError) or ours) and raised_on_purpose(error)


@contextlib.contextmanager
def user_errors(name: str):
  """Set-up: a ValueError, path or import error raised inside ends the command in one line."""
  try:
    yield
  except (UserError, ValueError, ImportError, *PATH_ERRORS) as error:
    if _debug():
      raise
    fail(name, error)


def _unknown_config_key(error: Exception, argv: Sequence[str]) -> str | None:
  """`'KEY'` (with ml_collections' suggestion) when `error` refuses a --config.*.KEY override."""
  text = str(error).replace("\\", "")
  key = re.search(r"'(\w+)'", text)
  if not isinstance(error, (AttributeError, KeyError)) or not key:
    return None
  if not any(re.match(rf"--\w+\.(\w+\.)*{key[1]}(=|$)", arg) for arg in argv):
    return None
  guess = re.search(r'Did you mean "(\w+)"', text)
  return repr(key[1]) + (f" (did you mean {guess[1]!r}?)" if guess else "")


def _config_files(argv: Sequence[str]) -> list[str]:
  return [arg.split("=", 1)[1] for arg in argv if arg.startswith("--config=")]


def parse_flags(name: str, argv: Sequence[str]) -> list[str]:
  """absl's flag parsing, with every error (ml_collections' included) as one line, status 2."""
  try:
    rest = flags.FLAGS(argv)
    config = flags.FLAGS["config"].value if "config" in flags.FLAGS else None
    if config is not None:
      config.get  # noqa: B018 -- a file that failed to load raises at the first attribute
    return rest
  except Exception as error:
    if "--debug" in argv:
      raise
    key = _unknown_config_key(error, argv)
    files = ", ".join(_config_files(argv)) or "the --config file"
    if isinstance(error, flags.Error):
      message = f"{error}; see --help"
    elif key:
      message = (
        f"unknown config key {key} in a --config.* override; {files} defines the valid keys "
        "(spelling and section, e.g. --config.train.steps=10)"
      )
    else:  # the config file itself did not load: missing, unreadable, or Python errors
      lines = [line.strip() for line in str(error).splitlines() if line.strip()]
      reason = lines[-1] if lines else ""
      if not reason.startswith(type(error).__name__):
        reason = f"{type(error).__name__}: {reason}"
      message = f"cannot load {files}: {reason}; fix the file or give another --config"
    fail(name, message)


def guarded(name: str, main: Callable[[list[str]], object]) -> Callable[[list[str]], object]:
  """`main`, with user errors ending the command in one line (unless --debug)."""

  def wrapper(argv):
    try:
      return main(argv)
    except Exception as error:
      if _debug() or not is_user_error(error):
        raise
      fail(name, error)

  return wrapper


def run(main: Callable[[list[str]], object], name: str, argv: list[str] | None = None) -> None:
  """`app.run(main)` for a launcher: flags parsed, user errors reported in one line."""
  app.run(guarded(name, main), argv=argv, flags_parser=lambda args: parse_flags(name, args))


def check_batch(config, batch_keys: Sequence[str]) -> None:
  """Refuses sizes that would fail only after minutes of set-up and compilation: counts that
  are not positive, train.grad_accum not dividing the rows of an update, rows not splitting
  over the devices of the data x fsdp mesh axes. `batch_keys` name the keys setting the rows."""
  import jax

  from xcoder_jax.planning import setting as setting_lib

  for key in (*batch_keys, "train.grad_accum", "train.loss_chunk", "train.steps"):
    value = functools.reduce(getattr, key.split("."), config)
    if value < 1:
      raise UserError(f"{key}={value} must be positive; set --config.{key} to a positive count")
  setting = setting_lib.from_config(config, jax.device_count())
  shards = setting.mesh["data"] * setting.mesh["fsdp"]
  if setting.rows % shards:
    raise UserError(
      f"the {setting.rows} rows per update (from {', '.join(batch_keys)}) do not split over the "
      f"{shards} devices of the data x fsdp mesh axes; make them a multiple of {shards}"
    )
