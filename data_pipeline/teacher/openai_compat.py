"""An OpenAI-compatible ``/chat/completions`` teacher (SGLang, vLLM, hosted APIs) over HTTP."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request

from absl import logging

from data_pipeline.teacher.base import TEACHERS, Teacher, TeacherError
from xcoder_jax.rollout.types import Completion

# Worth retrying: connection errors and timeouts (OSError, URLError included), a dropped answer,
# a malformed answer (KeyError, IndexError, JSONDecodeError).
_TRANSIENT = (OSError, http.client.HTTPException, KeyError, IndexError, json.JSONDecodeError)


def _answer_text(message: dict) -> str:
  """Content, with a separately served reasoning (SGLang/vLLM ``reasoning_content``) put back
  in front inside <think>...</think>, so SFT responses keep the reasoning."""
  content, reasoning = message["content"] or "", message.get("reasoning_content")
  return f"<think>\n{reasoning.strip()}\n</think>\n\n{content}" if reasoning else content


def _describe_failure(error: Exception, timeout_s: float) -> str:
  """A failed request in a few words a user can act on."""
  if isinstance(error, urllib.error.HTTPError):
    return f"HTTP {error.code} {error.reason}"
  reason = error.reason if isinstance(error, urllib.error.URLError) else error
  if isinstance(reason, ConnectionRefusedError):
    return "connection refused"
  if isinstance(reason, TimeoutError):
    return f"no answer within {timeout_s:g} s"
  if isinstance(error, (KeyError, IndexError, json.JSONDecodeError)):
    return f"malformed answer ({type(error).__name__}: {error})"
  return str(reason)


@TEACHERS.register("openai")
class OpenAITeacher(Teacher):
  """Plain HTTP, no client library.

  At most ``concurrency`` requests are in flight; failures (connection errors, 429, 5xx,
  timeouts) are retried ``max_retries`` times with exponential backoff, each retry logged.
  A request that fails every attempt marks the teacher down: the run's later requests fail
  at once as retriable (the stage ends unfinished, a rerun retries them) instead of each
  waiting out its own timeouts and backoff.
  """

  IDENTITY_KEYS = ("model",)

  def __init__(self, config):
    super().__init__()
    self.base_url = config.base_url.rstrip("/")
    self.url = self.base_url + "/chat/completions"
    self.model, self.api_key = config.model, config.get("api_key", "")
    self.timeout_s, self.max_retries = config.timeout_s, config.max_retries
    self.backoff_s = config.backoff_s
    self.health_timeout_s = config.get("health_timeout_s", 30.0)
    self._slots = threading.BoundedSemaphore(config.concurrency)
    self._down_lock = threading.Lock()
    self.down: str | None = None  # why the teacher was given up on, once it was

  def _headers(self) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if self.api_key:
      headers["Authorization"] = f"Bearer {self.api_key}"
    return headers

  def _post(self, body: dict) -> dict:
    request = urllib.request.Request(self.url, json.dumps(body).encode(), self._headers())
    with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
      return json.loads(response.read())

  def check(self) -> None:
    """GET ``/models`` within ``health_timeout_s``: any answer but an auth refusal or a server
    error proves the server is up (a 404 only means it does not list its models)."""
    models = self.base_url + "/models"
    auth = False
    try:
      request = urllib.request.Request(models, headers=self._headers())
      with urllib.request.urlopen(request, timeout=self.health_timeout_s):
        return
    except urllib.error.HTTPError as error:
      auth = error.code in (401, 403)
      if error.code < 500 and not auth:
        return
      failure = _describe_failure(error, self.health_timeout_s)
    except (OSError, http.client.HTTPException) as error:
      failure = _describe_failure(error, self.health_timeout_s)
    fix = (
      "check --config.teacher.api_key"
      if auth
      else "start the server or fix --config.teacher.base_url"
    )
    raise TeacherError(f"teacher {self.base_url} is not usable: GET {models}: {failure}; {fix}")

  def _give_up(self, failure: str, attempts: int) -> None:
    with self._down_lock:
      if self.down is None:
        self.down = f"{attempts} attempts failed, the last with {failure}"
        logging.error(
          "teacher %s is down (%s); the run's remaining requests are not sent: rerun with the "
          "same --output once it answers (slow long generations need a larger teacher.timeout_s)",
          self.url,
          self.down,
        )

  def _complete(self, stage, messages, sampling):
    body = {"model": self.model, "messages": messages, **sampling}
    attempts = self.max_retries + 1
    for attempt in range(1, attempts + 1):
      if self.down:
        raise TeacherError(f"{stage}: not sent, teacher {self.url} is down: {self.down}", True)
      try:
        with self._slots:
          answer = self._post(body)
        usage = answer.get("usage") or {}
        return Completion(
          text=_answer_text(answer["choices"][0]["message"]),
          prompt_tokens=usage.get("prompt_tokens", 0),
          completion_tokens=usage.get("completion_tokens", 0),
        )
      except urllib.error.HTTPError as error:
        if error.code != 429 and error.code < 500:  # a client error will not get better
          raise TeacherError(
            f"{stage}: {self.url} refused the request: HTTP {error.code}"
          ) from error
        failure = _describe_failure(error, self.timeout_s)
      except _TRANSIENT as error:
        failure = _describe_failure(error, self.timeout_s)
      if attempt < attempts:
        delay = self.backoff_s * 2 ** (attempt - 1)
        logging.warning(
          "teacher %s: %s request attempt %d/%d failed (%s); retrying in %.3g s",
          self.url,
          stage,
          attempt,
          attempts,
          failure,
          delay,
        )
        time.sleep(delay)
    self._give_up(failure, attempts)
    raise TeacherError(f"{stage}: {self.url} failed {attempts} times, last: {failure}", True)
