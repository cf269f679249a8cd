"""What every teacher backend shares: the ``Teacher`` interface with per-stage usage counts,
``TeacherError``, the request key that recording and replay agree on, and the registry."""

from __future__ import annotations

import collections
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

from xcoder_jax.registry import Registry
from xcoder_jax.rollout.types import Completion

Messages = list[dict[str, str]]


class TeacherError(RuntimeError):
  """A request the teacher could not answer. A ``retriable`` one (an outage: connection
  errors, 429, 5xx) is never stored, so a rerun asks again; any other is a counted drop."""

  def __init__(self, message: str, retriable: bool = False):
    super().__init__(message)
    self.retriable = retriable


def request_key(stage: str, messages: Messages, sampling: dict[str, Any]) -> str:
  """SHA-256 of the stage, the chat and the sampling: one answer per distinct request."""
  payload = json.dumps(
    {"stage": stage, "messages": messages, "sampling": sampling}, sort_keys=True, ensure_ascii=False
  )
  return hashlib.sha256(payload.encode()).hexdigest()


class Teacher:
  """Base: ``complete`` answers one chat; usage is counted per stage.

  An answer is a ``Completion`` carrying only ``text``, ``prompt_tokens`` and
  ``completion_tokens``: what a recording keeps, so live and replayed answers are equal.
  ``IDENTITY_KEYS`` name the config keys that decide what this backend answers (the model,
  not where it is served or how fast): a work directory records them with each stage.
  """

  IDENTITY_KEYS: tuple[str, ...] = ()

  def __init__(self):
    self.usage: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    self._usage_lock = threading.Lock()

  def complete(self, stage: str, messages: Messages, sampling: dict[str, Any]) -> Completion:
    completion = self._complete(stage, messages, sampling)
    with self._usage_lock:
      self.usage[stage].update(
        requests=1,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
      )
    return completion

  def _complete(self, stage: str, messages: Messages, sampling: dict[str, Any]) -> Completion:
    raise NotImplementedError

  def check(self) -> None:
    """Raises ``TeacherError`` when the teacher cannot answer at all; the pipeline calls it
    once before the first teacher stage, so an outage is one clear line, not a silent run."""


Usage = dict[str, collections.Counter]  # stage -> requests, prompt_tokens, completion_tokens


def merge_usage(*usages) -> Usage:
  """Several teachers' ``usage`` (or snapshots of it, stage -> counts) added up per stage."""
  merged: Usage = collections.defaultdict(collections.Counter)
  for usage in usages:
    for stage, counts in usage.items():
      merged[stage].update(counts)
  return merged


# Backend name -> factory taking the ``teacher`` config section. A backend registers itself
# when its module is imported; configs name one in ``teacher.backend``.
TEACHERS: Registry[Callable[..., Teacher]] = Registry("teacher backend")


def teacher_identity(config) -> dict[str, Any]:
  """The part of the ``teacher`` config section that decides the answers: the backend and its
  ``IDENTITY_KEYS``; concurrency, timeouts, retries and the server address are left out."""
  backend = TEACHERS.get(config.backend)
  keys = getattr(backend, "IDENTITY_KEYS", ())
  return {"backend": config.backend, **{key: config.get(key) for key in keys}}
