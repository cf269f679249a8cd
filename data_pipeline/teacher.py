"""Teacher LLM backends behind one registry, with recording and exact replay.

Every request is keyed by ``request_key(stage, messages, sampling)`` (a SHA-256 of the three);
``RecordingTeacher`` appends each answer to a JSONL file under that key and ``ReplayTeacher``
answers from such a file, so any recorded run can be replayed exactly, offline.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable

Messages = list[dict[str, str]]


class TeacherError(RuntimeError):
  """A request the teacher could not answer (counted as a drop, never a crash)."""


@dataclasses.dataclass
class Completion:
  text: str
  prompt_tokens: int = 0
  completion_tokens: int = 0


def request_key(stage: str, messages: Messages, sampling: dict[str, Any]) -> str:
  payload = json.dumps({"stage": stage, "messages": messages, "sampling": sampling},
                       sort_keys=True, ensure_ascii=False)
  return hashlib.sha256(payload.encode()).hexdigest()


class Teacher:
  """Base: ``complete`` answers one chat; usage is counted per stage."""

  def __init__(self):
    self.usage: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    self._usage_lock = threading.Lock()

  def complete(self, stage: str, messages: Messages, sampling: dict[str, Any]) -> Completion:
    completion = self._complete(stage, messages, sampling)
    with self._usage_lock:
      self.usage[stage].update(requests=1, prompt_tokens=completion.prompt_tokens,
                               completion_tokens=completion.completion_tokens)
    return completion

  def _complete(self, stage, messages, sampling) -> Completion:
    raise NotImplementedError


TEACHERS: dict[str, Callable[..., Teacher]] = {}


def register(name: str):
  def wrap(factory):
    TEACHERS[name] = factory
    return factory
  return wrap


def make_teacher(config) -> Teacher:
  """Builds ``config.backend`` from the registry; wraps it to record when ``config.record_to``."""
  if config.backend not in TEACHERS:
    raise ValueError(f"unknown teacher backend {config.backend!r}; pick one of "
                     f"{sorted(TEACHERS)}")
  teacher = TEACHERS[config.backend](config)
  if config.get("record_to"):
    teacher = RecordingTeacher(teacher, config.record_to)
  return teacher


def load_recording(path: str) -> dict[str, dict]:
  answers = {}
  with open(path) as f:
    for line in f:
      if line.strip():
        entry = json.loads(line)
        answers[entry["key"]] = entry
  return answers


@register("replay")
class ReplayTeacher(Teacher):
  """Answers from a recorded file; an unrecorded request is a TeacherError."""

  def __init__(self, config):
    super().__init__()
    if not config.replay_file or not os.path.exists(config.replay_file):
      raise FileNotFoundError(f"teacher.replay_file {config.replay_file!r} does not exist; "
                              "record one with --config.teacher.record_to=FILE")
    self.answers = load_recording(config.replay_file)
    self.latency_s = config.get("replay_latency_s", 0.0)

  def _complete(self, stage, messages, sampling):
    entry = self.answers.get(request_key(stage, messages, sampling))
    if entry is None:
      raise TeacherError(f"no recorded answer for this {stage} request")
    if self.latency_s:
      time.sleep(self.latency_s)  # stands in for a real teacher's latency (tests, benchmarks)
    return Completion(entry["text"], *entry.get("usage", (0, 0)))


class RecordingTeacher(Teacher):
  """Wraps a teacher and appends every answer (fsynced) to a replayable JSONL file."""

  def __init__(self, inner: Teacher, path: str):
    super().__init__()
    self.inner, self.path, self._lock = inner, path, threading.Lock()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

  def _complete(self, stage, messages, sampling):
    completion = self.inner.complete(stage, messages, sampling)
    entry = {"key": request_key(stage, messages, sampling), "stage": stage,
             "messages": messages, "sampling": sampling, "text": completion.text,
             "usage": [completion.prompt_tokens, completion.completion_tokens]}
    with self._lock, open(self.path, "a") as f:
      f.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
      f.flush()
      os.fsync(f.fileno())
    return completion


@register("openai")
class OpenAITeacher(Teacher):
  """OpenAI-compatible ``/chat/completions`` (SGLang, vLLM, hosted APIs) over plain HTTP.

  At most ``concurrency`` requests are in flight; failures (connection errors, 429, 5xx,
  timeouts) are retried ``max_retries`` times with exponential backoff.
  """

  def __init__(self, config):
    super().__init__()
    self.url = config.base_url.rstrip("/") + "/chat/completions"
    self.model, self.api_key = config.model, config.get("api_key", "")
    self.timeout_s, self.max_retries = config.timeout_s, config.max_retries
    self.backoff_s = config.backoff_s
    self._slots = threading.BoundedSemaphore(config.concurrency)

  def _post(self, body: dict) -> dict:
    headers = {"Content-Type": "application/json"}
    if self.api_key:
      headers["Authorization"] = f"Bearer {self.api_key}"
    request = urllib.request.Request(self.url, json.dumps(body).encode(), headers)
    with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
      return json.loads(response.read())

  def _complete(self, stage, messages, sampling):
    body = {"model": self.model, "messages": messages, **sampling}
    last_error: Exception | None = None
    for attempt in range(self.max_retries + 1):
      if attempt:
        time.sleep(self.backoff_s * 2 ** (attempt - 1))
      try:
        with self._slots:
          answer = self._post(body)
        usage = answer.get("usage") or {}
        return Completion(answer["choices"][0]["message"]["content"] or "",
                          usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))
      except urllib.error.HTTPError as error:
        last_error = error
        if error.code != 429 and error.code < 500:
          break  # a client error will not get better by retrying
      except (urllib.error.URLError, TimeoutError, OSError, KeyError, IndexError,
              json.JSONDecodeError) as error:
        last_error = error
    raise TeacherError(f"{stage}: {self.url} failed after retries: {last_error}")


@register("scripted_demo_author")
def _scripted_demo_author(config) -> Teacher:
  """The deterministic script that authored the demo recording (never a real teacher)."""
  from data_pipeline.demo import scripted_author
  return scripted_author.ScriptedDemoAuthor()


