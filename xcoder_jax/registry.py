"""Named extension points: one small registry type for every pluggable choice.

Each extension point (output checkers, teacher backends, attention kernels, remat policies,
LR schedules, init sources, rollout engines, reward functions, advantage estimators, policy
losses, ...) is a `Registry`. Configs name an entry by string; validation reads `names()`,
and an unknown name fails with the list of known ones, so a typo is never silently ignored.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
  """Name -> entry for one extension point. `kind` appears in error messages."""

  def __init__(self, kind: str):
    self.kind = kind
    self._entries: dict[str, T] = {}
    self._lazy: dict[str, str] = {}  # name -> "module:attribute", imported on first get

  def register_lazy(self, name: str, target: str) -> None:
    """Registers ``name`` as the attribute of a module imported only when the entry is first
    used ("package.module:Attribute"): a heavy entry (one that imports JAX) costs nothing to
    processes that only list or check names. The module must not register ``name`` itself."""
    self._check_new(name)
    self._lazy[name] = target

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

  def _check_new(self, name: str) -> None:
    if not isinstance(name, str) or not name:
      raise ValueError(f"{self.kind} names must be non-empty strings, got {name!r}")
    if name in self:
      raise ValueError(f"{self.kind} {name!r} is already registered")

  def _add(self, name: str, entry: T) -> None:
    self._check_new(name)
    self._entries[name] = entry

  def get(self, name: str) -> T:
    if name in self._lazy:  # moved to the entries only once its import succeeded
      module, attribute = self._lazy[name].split(":")
      self._entries[name] = getattr(importlib.import_module(module), attribute)
      del self._lazy[name]
    try:
      return self._entries[name]
    except KeyError:
      raise KeyError(self.unknown_message(name)) from None

  def unknown_message(self, name: object) -> str:
    return f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names()) or '(none)'}"

  def check(self, name: str, setting: str = "") -> str:
    """Returns `name` if registered; otherwise raises ValueError naming the config `setting`."""
    if name not in self:
      where = f"{setting}: " if setting else ""
      raise ValueError(where + self.unknown_message(name))
    return name

  def names(self) -> tuple[str, ...]:
    return tuple(sorted([*self._entries, *self._lazy]))

  def __contains__(self, name: object) -> bool:
    return name in self._entries or name in self._lazy

  def __iter__(self) -> Iterator[str]:
    return iter(self.names())

  def __len__(self) -> int:
    return len(self._entries) + len(self._lazy)

  def __repr__(self) -> str:
    return f"Registry({self.kind!r}, {list(self.names())})"
