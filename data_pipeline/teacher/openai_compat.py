"""An OpenAI-compatible ``/chat/completions`` teacher (SGLang, vLLM, hosted APIs) over HTTP."""

from __future__ import annotations

import threading

from absl import logging

from data_pipeline.teacher.base import TEACHERS, Teacher, TeacherError
from xcoder_jax.http_json import JsonEndpoint, ServerError
from xcoder_jax.rollout.types import Completion


def _answer_text(message: dict) -> str:
  """Content, with a separately served reasoning (SGLang/vLLM ``reasoning_content``) put back
  in front inside <think>...</think>, so SFT responses keep the reasoning."""
  content, reasoning = message["content"] or "", message.get("reasoning_content")
  return f"<think>\n{reasoning.strip()}\n</think>\n\n{content}" if reasoning else content


def _completion(answer) -> Completion:
  """A ``/chat/completions`` answer -> Completion; raises on a malformed one (then retried)."""
  if not isinstance(answer, dict):
    raise ValueError(f"not a JSON object: {str(answer)[:200]!r}")
  usage = answer.get("usage") or {}
  return Completion(
    text=_answer_text(answer["choices"][0]["message"]),
    prompt_tokens=usage.get("prompt_tokens", 0),
    completion_tokens=usage.get("completion_tokens", 0),
  )


@TEACHERS.register("openai")
class OpenAITeacher(Teacher):
  """Plain HTTP through ``JsonEndpoint``, no client library.

  At most ``concurrency`` requests are in flight; failures (connection errors, 429, 5xx,
  timeouts, malformed answers) are retried ``max_retries`` times with exponential backoff,
  each retry logged. A request that fails every attempt marks the teacher down: the run's
  later requests, and those waiting to retry, fail at once as retriable (the stage ends
  unfinished, a rerun retries them) instead of each waiting out its own timeouts and backoff.
  """

  IDENTITY_KEYS = ("model",)

  def __init__(self, config):
    super().__init__()
    self.base_url = config.base_url.rstrip("/")
    self.url = self.base_url + "/chat/completions"
    self.model = config.model
    api_key = config.get("api_key", "")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    self._given_up = threading.Event()
    self.server = JsonEndpoint(
      self.base_url,
      config.timeout_s,
      config.max_retries,
      config.backoff_s,
      headers,
      max_in_flight=config.concurrency,
      stop=self._given_up,
    )
    # The check before the first stage: one try, with its own (shorter) timeout.
    self._health = JsonEndpoint(
      self.base_url, config.get("health_timeout_s", 30.0), max_retries=0, headers=headers
    )
    self._down_lock = threading.Lock()
    self.down: str | None = None  # why the teacher was given up on, once it was

  def check(self) -> None:
    """GET ``/models`` within ``health_timeout_s``: any answer but an auth refusal or a server
    error proves the server is up (a 404 only means it does not list its models)."""
    models = self.base_url + "/models"
    try:
      self._health.request("/models", method="GET")
      return
    except ServerError as error:
      auth = error.status in (401, 403)
      if error.status is not None and error.status < 500 and not auth:
        return
      failure = error.reason
    fix = (
      "check --config.teacher.api_key"
      if auth
      else "start the server or fix --config.teacher.base_url"
    )
    raise TeacherError(f"teacher {self.base_url} is not usable: GET {models}: {failure}; {fix}")

  def _give_up(self, failure: str) -> bool:
    """Marks the teacher down, once; True for the call that did."""
    with self._down_lock:
      if self.down is not None:
        return False
      self.down = f"{self.server.max_retries + 1} attempts failed, the last with {failure}"
      self._given_up.set()
    logging.error(
      "teacher %s is down (%s); the run's remaining requests are not sent: rerun with the "
      "same --output once it answers (slow long generations need a larger teacher.timeout_s)",
      self.url,
      self.down,
    )
    return True

  def _down_error(self, stage: str) -> TeacherError:
    return TeacherError(f"{stage}: not sent, teacher {self.url} is down: {self.down}", True)

  def _complete(self, stage, messages, sampling):
    if self.down:
      raise self._down_error(stage)

    def log_retry(attempt: int, attempts: int, error: ServerError, delay_s: float) -> None:
      logging.warning(
        "teacher %s: %s request attempt %d/%d failed (%s); retrying in %.3g s",
        self.url,
        stage,
        attempt,
        attempts,
        error.reason,
        delay_s,
      )

    body = {"model": self.model, "messages": messages, **sampling}
    try:
      return self.server.request("/chat/completions", body, parse=_completion, on_retry=log_retry)
    except ServerError as error:
      if not error.retriable:  # a client error will not get better
        raise TeacherError(f"{stage}: {self.url} refused the request: {error.reason}") from error
      if not self._give_up(error.reason):  # given up on meanwhile, by another request
        raise self._down_error(stage) from error
      attempts = self.server.max_retries + 1
      raise TeacherError(
        f"{stage}: {self.url} failed {attempts} times, last: {error.reason}", True
      ) from error
