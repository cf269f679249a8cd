"""Messages between the judge and the fork server in a sandbox (standard library only).

Requests (judge -> server) are marshal: built in, so the server never imports json, which
costs ~7 ms per sandbox start. Answers (server -> judge) are JSON written by hand for the
server's flat records, bytes as {"b64": ...}; the judge parses them with json, a size cap
and a deadline, since a program may have taken over its own server.
"""

import binascii
import marshal
import os
import select
import time

from .wire import write_all

_HEADER_BYTES = 4  # big-endian payload size
GREETING = b"+"  # a new server's first byte, before any request
_MAX_MESSAGE_BYTES = 1 << 28


def _frame(fd, payload):
  write_all(fd, len(payload).to_bytes(_HEADER_BYTES, "big") + payload)


def write_request(fd, request):
  """Judge -> server."""
  _frame(fd, marshal.dumps(request))


def write_response(fd, response):
  """Server -> judge."""
  _frame(fd, _to_json(response).encode())


def _to_json(value):
  """JSON without the json module, for the server's flat answers; bytes go as base64."""
  if value is None or isinstance(value, bool):
    return {None: "null", True: "true", False: "false"}[value]
  if isinstance(value, (int, float)):
    return repr(value)
  if isinstance(value, bytes):
    return '{"b64": "%s"}' % binascii.b2a_base64(value, newline=False).decode()
  if isinstance(value, str) and value.isidentifier():
    return '"%s"' % value
  if isinstance(value, dict):
    return "{%s}" % ", ".join(f'"{key}": {_to_json(item)}' for key, item in value.items())
  if isinstance(value, list):
    return "[%s]" % ", ".join(_to_json(item) for item in value)
  raise TypeError(f"cannot send {type(value).__name__} {value!r:.50}")


def read_exact(fd, size, deadline=None):
  """Reads exactly ``size`` bytes, or returns None at end of file or past ``deadline``
  (a time.monotonic() value; the judge never waits forever on a sandbox)."""
  chunks, remaining = [], size
  while remaining:
    if (
      deadline is not None
      and not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]
    ):
      return None
    chunk = os.read(fd, min(remaining, 1 << 20))
    if not chunk:
      return None
    chunks.append(chunk)
    remaining -= len(chunk)
  return b"".join(chunks)


def _read_frame(fd, deadline=None):
  header = read_exact(fd, _HEADER_BYTES, deadline)
  if header is None:
    return None
  size = int.from_bytes(header, "big")
  if size > _MAX_MESSAGE_BYTES:
    raise ValueError(f"message of {size} bytes")
  return read_exact(fd, size, deadline)


def read_request(fd):
  payload = _read_frame(fd)
  return None if payload is None else marshal.loads(payload)


def read_response(fd, deadline):
  """Parses the server's answer (None at end of file or past the deadline)."""
  import json  # the judge's side only

  def decode_bytes(record):
    return binascii.a2b_base64(record["b64"]) if record.keys() == {"b64"} else record

  payload = _read_frame(fd, deadline)
  return None if payload is None else json.loads(payload, object_hook=decode_bytes)
