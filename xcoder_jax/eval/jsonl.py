"""JSON-lines input with errors that name the file, the line and the fix.

(``xcoder_jax.data.readers.read_jsonl`` does the same for SFT data, but importing the data
package loads Grain and JAX, which scoring a samples file does not need.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from xcoder_jax.eval.types import EvalInputError


def records(path: str, what: str, fix: str) -> Iterator[tuple[str, Any]]:
  """(``FILE:LINE``, decoded JSON) per non-blank line; ``what`` names the file in errors."""
  try:
    handle = open(path, encoding="utf-8")
  except OSError as error:
    raise EvalInputError(f"cannot read {what} {path!r} ({error.strerror}); {fix}") from None
  with handle:
    for number, line in enumerate(handle, 1):
      if not line.strip():
        continue
      where = f"{path}:{number}"
      try:
        yield where, json.loads(line)
      except json.JSONDecodeError as error:
        raise EvalInputError(f"{where}: not JSON ({error}); {fix}") from None
