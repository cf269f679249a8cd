"""Messages between the judge and the fork server in a sandbox (standard library only).

Requests (judge -> server) are marshal: built in, so the server never imports json, which
costs ~7 ms per sandbox start. Answers (server -> judge) are JSON written by hand for the
server's flat records, followed by the raw bytes they carry: a bytes value is written as
{"bytes": [offset, length]} into the part after the JSON (base64 and a JSON string of a
2 MB output cost ~15 ms per run each way). The judge parses them with json, a size cap and a
deadline, and slices every attachment within bounds, since a program may have taken over
its own server.
"""

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
  """Server -> judge: a 4-byte JSON length, the JSON, then the attachments."""
  attachments = []
  header = _to_json(response, attachments).encode()
  _frame(fd, len(header).to_bytes(_HEADER_BYTES, "big") + header + b"".join(attachments))


def _to_json(value, attachments):
  """JSON without the json module, for the server's flat answers; bytes are attached."""
  if value is None or isinstance(value, bool):
    return {None: "null", True: "true", False: "false"}[value]
  if isinstance(value, (int, float)):
    return repr(value)
  if isinstance(value, bytes):
    offset = sum(len(attachment) for attachment in attachments)
    attachments.append(value)
    return '{"bytes": [%d, %d]}' % (offset, len(value))
  if isinstance(value, str) and value.isidentifier():
    return '"%s"' % value
  if isinstance(value, dict):
    return "{%s}" % ", ".join(
      f'"{key}": {_to_json(item, attachments)}' for key, item in value.items()
    )
  if isinstance(value, list):
    return "[%s]" % ", ".join(_to_json(item, attachments) for item in value)
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
  """Parses the server's answer (None at end of file or past the deadline); a malformed
  one raises ValueError."""
  import json  # the judge's side only

  payload = _read_frame(fd, deadline)
  if payload is None:
    return None
  header_end = _HEADER_BYTES + int.from_bytes(payload[:_HEADER_BYTES], "big")
  attachments = memoryview(payload)[header_end:]

  def attached_bytes(record):
    if record.keys() != {"bytes"}:
      return record
    where = record["bytes"]
    if not (
      isinstance(where, list)
      and len(where) == 2
      and all(type(n) is int and n >= 0 for n in where)
      and where[0] + where[1] <= len(attachments)
    ):
      raise ValueError(f"attachment {where!r:.50} outside the answer")
    return bytes(attachments[where[0] : where[0] + where[1]])

  return json.loads(payload[_HEADER_BYTES:header_end], object_hook=attached_bytes)
