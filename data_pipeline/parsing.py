"""Robust parsing of teacher answers: delimited JSON here; python code blocks through the
library's extraction rule (`xcoder_jax.judge.extract`), shared with the RL reward."""

from __future__ import annotations

import json
import re

# SynthSmith's stages import both from here; the extraction rule itself lives in the library.
from xcoder_jax.judge.extract import ParseError, extract_single_block, extract_single_python_block

__all__ = [
  "JSON_BEGIN",
  "JSON_END",
  "ParseError",
  "extract_single_block",
  "extract_single_python_block",
  "parse_json_object",
]

JSON_BEGIN, JSON_END = "<<<JSON", "JSON>>>"
_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _candidates(text: str) -> list[str]:
  found = []
  start = text.rfind(JSON_BEGIN)
  if start >= 0:
    end = text.find(JSON_END, start)
    found.append(text[start + len(JSON_BEGIN) : end if end >= 0 else len(text)])
  found += _FENCE.findall(text)
  first, last = text.find("{"), text.rfind("}")
  if 0 <= first < last:
    found.append(text[first : last + 1])
  return found


def parse_json_object(text: str) -> dict:
  """The JSON object between the delimiters (falling back to a fence or the outer braces)."""
  candidates = _candidates(text)
  if not candidates:
    raise ParseError("no_json", "no delimited JSON object in the answer")
  for candidate in candidates:
    for attempt in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
      try:
        value = json.loads(attempt.strip())
      except json.JSONDecodeError:
        continue
      if isinstance(value, dict):
        return value
  raise ParseError("malformed_json", candidates[0][:80])
