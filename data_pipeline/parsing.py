"""Robust parsing of teacher answers: delimited JSON and python code blocks."""

from __future__ import annotations

import ast
import json
import re

JSON_BEGIN, JSON_END = "<<<JSON", "JSON>>>"
_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.S)
_PYTHON_BLOCK = re.compile(r"```(?:python3|python|py)[ \t]*\n(.*?)```", re.S | re.I)
THINK_BEGIN, THINK_END = "<think>", "</think>"
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


class ParseError(ValueError):
  """Malformed teacher output; ``reason`` is the short label counted in the funnel."""

  def __init__(self, reason: str, detail: str = ""):
    super().__init__(f"{reason}: {detail}" if detail else reason)
    self.reason = reason


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


def answer_part(text: str) -> str:
  """What follows the last ``</think>``: draft code inside the reasoning is not the answer."""
  end = text.rfind(THINK_END)
  if end < 0 and THINK_BEGIN in text:
    raise ParseError("unfinished_reasoning")  # cut off while thinking: no answer yet
  return text[end + len(THINK_END) :] if end >= 0 else text


def extract_single_python_block(text: str) -> str:
  """The code of the only python block after the reasoning; refuses zero, several, or
  unparseable blocks (the recipe keeps answers with exactly one complete parseable block)."""
  blocks = _PYTHON_BLOCK.findall(answer_part(text))
  if not blocks:
    raise ParseError("no_code_block")
  if len(blocks) > 1:
    raise ParseError("multiple_code_blocks", f"{len(blocks)} blocks")
  try:
    ast.parse(blocks[0])
  except SyntaxError as error:
    raise ParseError("syntax_error", str(error)) from error
  return blocks[0]
