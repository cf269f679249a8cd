"""The few libc calls the standard library lacks (prctl, unshare, mount, capset), through
_ctypes: importing ``ctypes`` itself costs ~4 ms per interpreter start."""

import _ctypes
import os


class _Int(_ctypes._SimpleCData):
  _type_ = "i"


class _Libc:
  _handle = _ctypes.dlopen(None)


class _Function(_ctypes.CFuncPtr):
  """A C function returning int that records errno (arguments: ints, bytes, None)."""

  _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
  _restype_ = _Int


_functions = {}


def call(name, *args):
  """Calls libc's ``name``; raises OSError with its errno when it returns -1."""
  function = _functions.get(name)
  if function is None:
    function = _functions[name] = _Function((name, _Libc()))
  result = function(*args)
  if result == -1:
    code = _ctypes.get_errno()
    raise OSError(code, f"{name}: {os.strerror(code)}")
  return result
