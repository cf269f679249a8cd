"""Prompt templates live in prompts/*.txt (string.Template syntax: $name)."""

from __future__ import annotations

import functools
import os
import string

PROMPT_DIR = os.path.join(os.path.dirname(__file__), "prompts")


@functools.cache
def _template(name: str) -> string.Template:
  with open(os.path.join(PROMPT_DIR, f"{name}.txt")) as f:
    return string.Template(f.read())


def render(name: str, **values: str) -> list[dict[str, str]]:
  """A one-message chat built from template ``name``."""
  return [{"role": "user", "content": _template(name).substitute(values)}]


def text(name: str) -> str:
  """A template file's raw text (style guides)."""
  return _template(name).template.strip()
