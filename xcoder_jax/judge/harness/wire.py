"""Plain values between the check process and the candidate, as tagged JSON lines.

Only builtin data crosses: the check never receives an object of the candidate's making,
so a lying ``__eq__`` or a patched builtin in the candidate cannot change what it compares.
"""

import os


def encode(value):
  """Plain data as tagged JSON (tuples, sets, dicts with any keys survive the trip)."""
  if value is None or isinstance(value, (bool, int, float, str)):
    return value
  if isinstance(value, list):
    return [encode(item) for item in value]
  for tag, kind in (("t", tuple), ("s", set), ("f", frozenset)):
    if isinstance(value, kind):
      return {tag: [encode(item) for item in value]}
  if isinstance(value, dict):
    return {"d": [[encode(key), encode(item)] for key, item in value.items()]}
  if isinstance(value, complex):
    return {"c": [value.real, value.imag]}
  if isinstance(value, bytes):
    return {"b": value.hex()}
  raise TypeError(f"the check can only exchange plain data, not {type(value).__name__}")


_DECODERS = {
  "t": lambda items: tuple(decode(item) for item in items),
  "s": lambda items: {decode(item) for item in items},
  "f": lambda items: frozenset(decode(item) for item in items),
  "d": lambda items: {decode(key): decode(item) for key, item in items},
  "c": lambda parts: complex(*parts),
  "b": bytes.fromhex,
}


def decode(data):
  """Rebuilds only builtin plain values: nothing the candidate sends can carry behaviour."""
  if data is None or type(data) in (bool, int, float, str):
    return data
  if type(data) is list:
    return [decode(item) for item in data]
  if type(data) is dict and len(data) == 1:
    [(tag, payload)] = data.items()
    if tag in _DECODERS:
      return _DECODERS[tag](payload)
  raise ValueError("malformed value from the candidate")


def write_all(fd, data):
  """os.write until every byte is out (a pipe may take a large line in pieces)."""
  view = memoryview(data)
  while view:
    view = view[os.write(fd, view) :]
