"""Named extension points: one small registry type for every pluggable choice.

Each extension point (output checkers, teacher backends, attention kernels, remat policies,
LR schedules, init sources, rollout engines, reward functions, advantage estimators, policy
losses, ...) is a `Registry`. Configs name an entry by string; validation reads `names()`,
and an unknown name fails with the list of known ones, so a typo is never silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
  """Name -> entry for one extension point. `kind` appears in error messages."""

  def __init__(self, kind: str):
    self.kind = kind
    self._entries: dict[str, T] = {}

  def register(self, name: str, entry: T | None = None):
    """`registry.register("name", obj)`, or `@registry.register("name")` as a decorator.
    A name may be registered once; registering it again is a bug and raises."""
    if entry is not None:
      self._add(name, entry)
      return entry

    def decorator(obj: T) -> T:
      self._add(name, obj)
      return obj

    return decorator

  def _add(self, name: str, entry: T) -> None:
    if not isinstance(name, str) or not name:
      raise ValueError(f"{self.kind} names must be non-empty strings, got {name!r}")
    if name in self._entries:
      raise ValueError(f"{self.kind} {name!r} is already registered")
    self._entries[name] = entry

  def get(self, name: str) -> T:
    try:
      return self._entries[name]
    except KeyError:
      raise KeyError(self.unknown_message(name)) from None

  def unknown_message(self, name: object) -> str:
    return f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names()) or '(none)'}"

  def check(self, name: str, setting: str = "") -> str:
    """Returns `name` if registered; otherwise raises ValueError naming the config `setting`."""
    if name not in self._entries:
      where = f"{setting}: " if setting else ""
      raise ValueError(where + self.unknown_message(name))
    return name

  def names(self) -> tuple[str, ...]:
    return tuple(sorted(self._entries))

  def __contains__(self, name: object) -> bool:
    return name in self._entries

  def __iter__(self) -> Iterator[str]:
    return iter(self.names())

  def __len__(self) -> int:
    return len(self._entries)

  def __repr__(self) -> str:
    return f"Registry({self.kind!r}, {list(self.names())})"
