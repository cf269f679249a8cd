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
from collections.abc import Callable
from typing import Any

Messages = list[dict[str, str]]


class TeacherError(RuntimeError):
  """A request the teacher could not answer. A ``retriable`` one (an outage: connection
  errors, 429, 5xx) is never stored, so a rerun asks again; any other is a counted drop."""

  def __init__(self, message: str, retriable: bool = False):
    super().__init__(message)
    self.retriable = retriable


@dataclasses.dataclass
class Completion:
  text: str
  prompt_tokens: int = 0
  completion_tokens: int = 0


def request_key(stage: str, messages: Messages, sampling: dict[str, Any]) -> str:
  payload = json.dumps(
    {"stage": stage, "messages": messages, "sampling": sampling}, sort_keys=True, ensure_ascii=False
  )
  return hashlib.sha256(payload.encode()).hexdigest()


class Teacher:
  """Base: ``complete`` answers one chat; usage is counted per stage."""

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
    raise ValueError(f"unknown teacher backend {config.backend!r}; pick one of {sorted(TEACHERS)}")
  teacher = TEACHERS[config.backend](config)
  if config.get("record_to"):
    teacher = RecordingTeacher(teacher, config.record_to)
  return teacher


def load_recording(path: str) -> dict[str, dict]:
  """Every recorded answer; a torn last line (a recording killed mid-write) is skipped."""
  answers = {}
  with open(path, encoding="utf-8") as f:
    lines = [line for line in f if line.strip()]
  for index, line in enumerate(lines):
    try:
      entry = json.loads(line)
    except json.JSONDecodeError:
      if index == len(lines) - 1 and not line.endswith("\n"):
        break
      raise
    answers[entry["key"]] = entry
  return answers


def _cut_torn_line(path: str) -> None:
  """Truncates to the last newline, so appends never continue a half-written line."""
  if not os.path.exists(path):
    return
  with open(path, "rb") as f:
    data = f.read()
  good = data.rfind(b"\n") + 1
  if good < len(data):
    with open(path, "r+b") as f:
      f.truncate(good)


@register("replay")
class ReplayTeacher(Teacher):
  """Answers from a recorded file; an unrecorded request is a TeacherError."""

  def __init__(self, config):
    super().__init__()
    if not config.replay_file or not os.path.exists(config.replay_file):
      raise FileNotFoundError(
        f"teacher.replay_file {config.replay_file!r} does not exist; "
        "record one with --config.teacher.record_to=FILE"
      )
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
    _cut_torn_line(path)

  def _complete(self, stage, messages, sampling):
    completion = self.inner.complete(stage, messages, sampling)
    entry = {
      "key": request_key(stage, messages, sampling),
      "stage": stage,
      "messages": messages,
      "sampling": sampling,
      "text": completion.text,
      "usage": [completion.prompt_tokens, completion.completion_tokens],
    }
    with self._lock, open(self.path, "a") as f:
      f.write(json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n")
      f.flush()
      os.fsync(f.fileno())
    return completion


def _answer_text(message: dict) -> str:
  """Content, with a separately served reasoning (SGLang/vLLM ``reasoning_content``) put back
  in front inside <think>...</think>, so SFT responses keep the reasoning."""
  content, reasoning = message["content"] or "", message.get("reasoning_content")
  return f"<think>\n{reasoning.strip()}\n</think>\n\n{content}" if reasoning else content


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
    retriable = True
    for attempt in range(self.max_retries + 1):
      if attempt:
        time.sleep(self.backoff_s * 2 ** (attempt - 1))
      try:
        with self._slots:
          answer = self._post(body)
        usage = answer.get("usage") or {}
        return Completion(
          _answer_text(answer["choices"][0]["message"]),
          usage.get("prompt_tokens", 0),
          usage.get("completion_tokens", 0),
        )
      except urllib.error.HTTPError as error:
        last_error = error
        if error.code != 429 and error.code < 500:
          retriable = False  # a client error will not get better by retrying
          break
      except (
        urllib.error.URLError,
        TimeoutError,
        OSError,
        KeyError,
        IndexError,
        json.JSONDecodeError,
      ) as error:
        last_error = error
    raise TeacherError(f"{stage}: {self.url} failed after retries: {last_error}", retriable)


@register("jax")
class JaxTeacher(Teacher):
  """An HF model directory run in-process with the JAX sampler (no server needed).

  Config: ``model_dir`` (HF safetensors + config.json), optional ``tokenizer_dir`` (defaults
  to ``model_dir``), ``dtype`` (compute dtype override), ``concurrency`` (the largest batch),
  ``batch_wait_s`` (how long the first request of a batch waits for company), ``seed`` (used
  when a request names none). Concurrent ``complete`` calls from the stages' thread pools are
  answered together in one batched generation. Requests carry OpenAI fields: temperature,
  top_p, top_k (-1 or 0 = off), max_tokens (default 4096), seed. A request without a seed
  uses the configured one, so the same request always gets the same answer, as on replay.
  """

  SAMPLING_KEYS = ("temperature", "top_p", "top_k", "max_tokens", "seed")

  def __init__(self, config):
    super().__init__()
    from xcoder_jax.data.tokenizer import load_tokenizer
    from xcoder_jax.hf import load_hf
    from xcoder_jax.rollout import RequestBatcher, Sampler

    if not config.get("model_dir"):
      raise ValueError(
        "the jax teacher needs teacher.model_dir, an HF model directory "
        "(config.json + *.safetensors)"
      )
    overrides = {"dtype": config.dtype} if config.get("dtype") else {}
    model = load_hf(config.model_dir, **overrides)
    self.tokenizer = load_tokenizer(config.get("tokenizer_dir") or config.model_dir)
    self.sampler = Sampler(model, self.tokenizer)
    self.batcher = RequestBatcher(
      self.sampler,
      max_batch=config.get("concurrency", 64),
      max_wait_s=config.get("batch_wait_s", 0.02),
    )
    self.default_seed = config.get("seed", 0)

  def _sampling_params(self, sampling: dict[str, Any]):
    from xcoder_jax.rollout import SamplingParams

    unknown = sorted(set(sampling) - set(self.SAMPLING_KEYS))
    if unknown:
      raise TeacherError(
        f"the jax teacher does not support sampling keys {unknown}; it "
        f"knows {list(self.SAMPLING_KEYS)}"
      )
    try:
      return SamplingParams(
        max_new_tokens=sampling.get("max_tokens", 4096),
        temperature=sampling.get("temperature", 1.0),
        top_p=sampling.get("top_p", 1.0),
        top_k=max(0, sampling.get("top_k", 0)),  # SGLang's -1 means off
        seed=sampling.get("seed", self.default_seed),
      )
    except ValueError as error:
      raise TeacherError(str(error)) from error

  def _complete(self, stage, messages, sampling):
    params = self._sampling_params(sampling)
    prompt = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    result = self.batcher.generate(prompt, params)
    return Completion(result.text, result.prompt_tokens, result.completion_tokens)


@register("scripted_demo_author")
def _scripted_demo_author(config) -> Teacher:
  """The deterministic script that authored the demo recording (never a real teacher)."""
  from data_pipeline.demo import scripted_author

  return scripted_author.ScriptedDemoAuthor()
