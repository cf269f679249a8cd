"""How the program is taken out of a model's answer; the rule is named in every report.

- ``lcb``: LiveCodeBench's rule for chat models (lcb_runner/utils/extraction_utils.py,
  ``extract_code``): the lines that contain three backticks anywhere are delimiters, and the
  code is what lies between the last two of them; fewer than two such lines means no code.
  Reasoning before the answer is not removed: a fenced block after the solution wins.
- ``xcoder``: X-Coder's reward rule (RECIPE.md, "Reward"): the last python-fenced block in
  the text after the last ``</think>``; an answer whose reasoning never closed has no code.

Both return "" when there is no code; the grader then fails the sample without running it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from xcoder_jax.registry import Registry

EXTRACTORS: Registry[Callable[[str], str]] = Registry("extraction rule")

THINK_BEGIN, THINK_END = "<think>", "</think>"
_PYTHON_BLOCK = re.compile(r"```(?:python3|python|py)[ \t]*\n(.*?)```", re.S | re.I)


@EXTRACTORS.register("lcb")
def extract_lcb(response: str) -> str:
  lines = response.split("\n")
  fences = [index for index, line in enumerate(lines) if "```" in line]
  if len(fences) < 2:
    return ""
  return "\n".join(lines[fences[-2] + 1 : fences[-1]])


@EXTRACTORS.register("xcoder")
def extract_xcoder(response: str) -> str:
  end = response.rfind(THINK_END)
  if end < 0 and THINK_BEGIN in response:
    return ""  # cut off while thinking
  answer = response[end + len(THINK_END) :] if end >= 0 else response
  blocks = _PYTHON_BLOCK.findall(answer)
  return blocks[-1] if blocks else ""


def extract(rule: str, response: str) -> str:
  return EXTRACTORS.get(rule)(response)
