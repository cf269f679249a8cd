"""Taking the program out of a model's answer: the python code after the reasoning.

One rule for everyone who reads model answers: SynthSmith keeps teacher answers with exactly
one parseable block (`extract_single_python_block`; `extract_single_block` for any judge
language); the RL reward grades the last block
(`extract_last_python_block`). Draft code inside ``<think>...</think>`` is never the answer.
"""

from __future__ import annotations

import ast
import re
import threading

from xcoder_jax.judge import languages

THINK_BEGIN, THINK_END = "<think>", "</think>"
# A fenced block tagged python / python3 / py (any case); untagged fences are not code
# blocks, so sample input/output shown after the program never replaces it.
PYTHON_BLOCK = re.compile(r"```(?:python3|python|py)[ \t]*\n(.*?)```", re.S | re.I)


# CPython 3.11 keeps the AST converter's recursion depth in state its threads share, so
# concurrent ast.parse calls can fail with a spurious "SystemError: AST constructor recursion
# depth mismatch" (CPython gh-106905; seen with SynthSmith's concurrent teacher items).
_PARSE_LOCK = threading.Lock()


def parse_python(code: str) -> ast.Module:
  """``ast.parse``, one thread at a time (see ``_PARSE_LOCK``)."""
  with _PARSE_LOCK:
    return ast.parse(code)


class ParseError(ValueError):
  """Malformed model output; ``reason`` is a short label (counted in funnels and metrics)."""

  def __init__(self, reason: str, detail: str = ""):
    super().__init__(f"{reason}: {detail}" if detail else reason)
    self.reason = reason


def answer_part(text: str) -> str:
  """What follows the last ``</think>``: draft code inside the reasoning is not the answer."""
  end = text.rfind(THINK_END)
  if end < 0 and THINK_BEGIN in text:
    raise ParseError("unfinished_reasoning")  # cut off while thinking: no answer yet
  return text[end + len(THINK_END) :] if end >= 0 else text


def check_syntax(code: str) -> str:
  """Returns ``code`` when it parses as Python; a null byte counts as a syntax error."""
  try:
    parse_python(code)
  except (SyntaxError, ValueError) as error:  # ValueError: source with null bytes
    raise ParseError("syntax_error", str(error)) from error
  return code


def extract_single_python_block(text: str) -> str:
  """The code of the only python block after the reasoning; refuses zero, several, or
  unparseable blocks (the recipe keeps answers with exactly one complete parseable block)."""
  blocks = PYTHON_BLOCK.findall(answer_part(text))
  if not blocks:
    raise ParseError("no_code_block")
  if len(blocks) > 1:
    raise ParseError("multiple_code_blocks", f"{len(blocks)} blocks")
  return check_syntax(blocks[0])


def extract_single_block(text: str, language: str) -> str:
  """The code of the only block tagged with ``language`` (its name or an alias, any case)
  after the reasoning. Python must parse; other languages' code is left to their compilers
  (a block that does not compile is the judge's ``compile_error``)."""
  row = languages.get(language)
  if row.in_harness:
    return extract_single_python_block(text)
  tags = "|".join(re.escape(tag) for tag in sorted((row.name, *row.aliases), key=len, reverse=True))
  blocks = re.findall(rf"```(?:{tags})[ \t]*\n(.*?)```", answer_part(text), re.S | re.I)
  if not blocks:
    raise ParseError("no_code_block")
  if len(blocks) > 1:
    raise ParseError("multiple_code_blocks", f"{len(blocks)} blocks")
  if not blocks[0].strip():
    raise ParseError("empty_code_block")
  return blocks[0]


def extract_last_python_block(text: str) -> str:
  """The code of the last python block after the reasoning (X-Coder's reward rule; their
  trainer took the first block by mistake). Raises ParseError ``unfinished_reasoning``,
  ``no_code_block`` or ``syntax_error``."""
  blocks = PYTHON_BLOCK.findall(answer_part(text))
  if not blocks:
    raise ParseError("no_code_block")
  return check_syntax(blocks[-1])
