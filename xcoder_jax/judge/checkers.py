"""Output checkers: one registry, strict rules, no lenient fallbacks.

Each checker answers "is this output right?" from the program's output and the expected
output; it runs in the judge process, so expected outputs never enter a sandbox. Tolerant
rules exist only where named (``float``); none accepts reordered tokens, prefixes, or large
integers compared as floats.
"""

import math
import re
from collections.abc import Callable
from typing import Any

from xcoder_jax.registry import Registry

Checker = Callable[[str, str], bool]

CHECKERS: Registry[Checker] = Registry("checker")
register = CHECKERS.register
FLOAT_SPEC = "float:ABS_TOL[:REL_TOL]"  # the parameterised form `get` also accepts
FLOAT_TOLERANCE = 1e-6  # plain "float": absolute and relative
_INTEGER = re.compile(r"[+-]?\d+")


def available() -> list[str]:
  return [*CHECKERS.names(), FLOAT_SPEC]


def get(spec: str) -> Checker:
  """Resolves a checker name; ``float:1e-6`` or ``float:1e-6:1e-9`` sets the tolerances."""
  name, _, params = spec.partition(":")
  if name == "float" and params:
    abs_tol, rel_tol = _tolerances(spec)
    return lambda output, expected: float_match(output, expected, abs_tol, rel_tol)
  if name not in CHECKERS or params:
    raise ValueError(f"unknown checker {spec!r}; choose one of {', '.join(available())}")
  return CHECKERS.get(name)


def _tolerances(spec: str) -> tuple[float, float]:
  parts = spec.split(":")[1:]
  try:
    values = [float(part) for part in parts]
  except ValueError:
    values = []
  if not 1 <= len(values) <= 2 or not all(value >= 0 for value in values):
    raise ValueError(f"checker {spec!r}: write {FLOAT_SPEC} with non-negative numbers")
  return values[0], values[-1]


def float_tolerance(spec: str) -> float | None:
  """The absolute tolerance a ``float`` spec asks for call-style results (None: exact)."""
  name, _, params = spec.partition(":")
  if name != "float":
    return None
  return _tolerances(spec)[0] if params else FLOAT_TOLERANCE


@register("exact")
def exact_match(output: str, expected: str) -> bool:
  """X-Coder's rule: equal after stripping surrounding whitespace."""
  return output.strip() == expected.strip()


@register("exit_status")
def exit_status(output: str, expected: str) -> bool:
  """Whatever was printed: a run that completes with exit status 0 within its limits passes
  (the judge has already failed every other run). MultiPL-E's rule, where the program's own
  asserts decide."""
  del output, expected
  return True


@register("lines")
def line_match(output: str, expected: str) -> bool:
  """LiveCodeBench's rule: same lines, each stripped of surrounding whitespace."""
  return [line.strip() for line in output.strip().splitlines()] == [
    line.strip() for line in expected.strip().splitlines()
  ]


@register("tokens")
def token_match(output: str, expected: str) -> bool:
  """Same whitespace-separated tokens in the same order."""
  return output.split() == expected.split()


def _tokens_close(got: str, want: str, abs_tol: float, rel_tol: float) -> bool:
  if got == want:
    return True
  if _INTEGER.fullmatch(got) and _INTEGER.fullmatch(want):
    return int(got) == int(want)  # integers exactly, never through floats
  try:
    got_value, want_value = float(got), float(want)
  except ValueError:
    return False
  if not (math.isfinite(got_value) and math.isfinite(want_value)):
    return False
  return abs(got_value - want_value) <= max(abs_tol, rel_tol * abs(want_value))


@register("float")
def float_match(
  output: str, expected: str, abs_tol: float = FLOAT_TOLERANCE, rel_tol: float = FLOAT_TOLERANCE
) -> bool:
  """Token-wise; decimal tokens within abs/rel tolerance, integer tokens exactly."""
  got, want = output.split(), expected.split()
  return len(got) == len(want) and all(
    _tokens_close(g, w, abs_tol, rel_tol) for g, w in zip(got, want)
  )


def values_equal(got: Any, expected: Any, float_tol: float | None = None) -> bool:
  """Compares JSON values from call-style tests: strict types (True is not 1), lists
  element-wise, floats within ``float_tol`` only when one is given."""
  if isinstance(got, bool) or isinstance(expected, bool):
    return type(got) is type(expected) and got == expected
  if isinstance(got, (int, float)) and isinstance(expected, (int, float)):
    if isinstance(got, int) and isinstance(expected, int):
      return got == expected
    if float_tol is not None:
      return math.isclose(got, expected, rel_tol=float_tol, abs_tol=float_tol)
    return got == expected
  if isinstance(got, list) and isinstance(expected, list):
    return len(got) == len(expected) and all(
      values_equal(g, e, float_tol) for g, e in zip(got, expected)
    )
  if isinstance(got, dict) and isinstance(expected, dict):
    return got.keys() == expected.keys() and all(
      values_equal(got[key], expected[key], float_tol) for key in got
    )
  return type(got) is type(expected) and got == expected
