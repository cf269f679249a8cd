"""An OpenAI-compatible ``/chat/completions`` teacher (SGLang, vLLM, hosted APIs) over HTTP."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

from data_pipeline.teacher.base import TEACHERS, Teacher, TeacherError
from xcoder_jax.rollout.types import Completion


def _answer_text(message: dict) -> str:
  """Content, with a separately served reasoning (SGLang/vLLM ``reasoning_content``) put back
  in front inside <think>...</think>, so SFT responses keep the reasoning."""
  content, reasoning = message["content"] or "", message.get("reasoning_content")
  return f"<think>\n{reasoning.strip()}\n</think>\n\n{content}" if reasoning else content


@TEACHERS.register("openai")
class OpenAITeacher(Teacher):
  """Plain HTTP, no client library.

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
          text=_answer_text(answer["choices"][0]["message"]),
          prompt_tokens=usage.get("prompt_tokens", 0),
          completion_tokens=usage.get("completion_tokens", 0),
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
