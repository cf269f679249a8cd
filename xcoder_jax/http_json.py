"""JSON over HTTP with timeouts and retries: the one transport of the server-backed engines and
of SynthSmith's OpenAI-compatible teacher.

Connection errors, timeouts, 429 and 5xx answers are retried with exponential backoff; other
4xx answers are raised at once with the server's message, since retrying will not fix the
request. Failures are described in words a user can act on ("connection refused", "no answer
within 600 s") and say whether asking again may help (`ServerError.retriable`).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

# What a caller's `parse` raises on an answer of the wrong shape (ValueError covers JSON).
_MALFORMED = (KeyError, IndexError, TypeError, ValueError)


class ServerError(RuntimeError):
  """A server refused a request, answered something malformed, or stayed unreachable.

  `reason`: the failure in a few words, without the URL (for log lines). `retriable`: whether
  the same request may pass later (an outage, an overload) or never will (a refused 4xx).
  `status`: the HTTP status of the answer, None when there was none.
  """

  def __init__(
    self, message: str, retriable: bool = False, reason: str = "", status: int | None = None
  ):
    super().__init__(message)
    self.retriable, self.reason, self.status = retriable, reason or message, status


def _unreachable(error: Exception, timeout_s: float) -> str:
  """A connection failure or timeout in a few words a user can act on."""
  reason = error.reason if isinstance(error, urllib.error.URLError) else error
  if isinstance(reason, ConnectionRefusedError):
    return "connection refused"
  if isinstance(reason, TimeoutError):
    return f"no answer within {timeout_s:g} s"
  return str(reason)


class JsonEndpoint:
  """One server's base URL; `request(path, body)` returns the decoded answer.

  `max_in_flight` bounds the requests on the wire at once, across threads (a request waiting
  out its backoff holds no slot). `stop`: once a caller sets it (it has given up on the
  server), no further attempt is sent: waiting requests end at once, retriable, instead of
  each sitting out its own backoff and timeouts.
  """

  def __init__(
    self,
    url: str,
    timeout_s: float = 600.0,
    max_retries: int = 3,
    backoff_s: float = 1.0,
    headers: dict[str, str] | None = None,
    error_type: type[ServerError] = ServerError,
    max_in_flight: int | None = None,
    stop: threading.Event | None = None,
  ):
    self.url = url.rstrip("/")
    self.timeout_s, self.max_retries, self.backoff_s = timeout_s, max_retries, backoff_s
    self.headers = {"Content-Type": "application/json", **(headers or {})}
    self.error_type = error_type
    self._slots = (
      threading.BoundedSemaphore(max_in_flight) if max_in_flight else contextlib.nullcontext()
    )
    self.stop = stop

  def request(
    self,
    path: str,
    body: dict[str, Any] | None = None,
    method: str | None = None,
    parse: Callable[[Any], Any] | None = None,
    on_retry: Callable[[int, int, ServerError, float], None] | None = None,
  ):
    """JSON (or text) answer of one call; retries what may pass, raises what will not.

    `parse` turns the answer into the result; a KeyError, IndexError, TypeError or ValueError
    from it marks the answer malformed, retried like a dropped connection. `on_retry(attempt,
    attempts, error, delay_s)` is called before each backoff, e.g. to log it.
    """
    data = None if body is None else json.dumps(body).encode()
    attempts, last = self.max_retries + 1, None
    for attempt in range(1, attempts + 1):
      if self.stop is not None and self.stop.is_set():
        done = f"{attempt - 1} of {attempts} attempts" + (f", last: {last}" if last else "")
        raise self.error_type(f"{self.url}{path}: stopped after {done}", True, "stopped")
      try:
        return self._attempt(path, data, method, parse)
      except self.error_type as error:
        if not error.retriable:
          raise
        last = error
      if attempt < attempts:
        delay = self.backoff_s * 2 ** (attempt - 1)
        if on_retry is not None:
          on_retry(attempt, attempts, last, delay)
        if self.stop is not None:
          self.stop.wait(delay)
        else:
          time.sleep(delay)
    raise self.error_type(
      f"failed after {attempts} attempts: {last}", True, last.reason, last.status
    )

  def _attempt(self, path: str, data: bytes | None, method: str | None, parse):
    """One try; every failure is raised as `error_type`, marked retriable or not."""
    request = urllib.request.Request(self.url + path, data, self.headers, method=method)
    where = f"{self.url}{path}"
    try:
      with self._slots:
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
          text = response.read().decode()
    except urllib.error.HTTPError as error:
      detail = error.read().decode(errors="replace")[:2000]
      reason = f"HTTP {error.code} {error.reason}" + (f": {detail}" if detail else "")
      retriable = error.code == 429 or error.code >= 500
      raise self.error_type(f"{where}: {reason}", retriable, reason, error.code) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
      reason = _unreachable(error, self.timeout_s)
      raise self.error_type(f"{where}: {reason}", True, reason) from error
    try:
      answer = json.loads(text) if text else None
    except json.JSONDecodeError:
      answer = text
    if parse is None:
      return answer
    try:
      return parse(answer)
    except _MALFORMED as error:
      reason = f"malformed answer ({type(error).__name__}: {error})"
      raise self.error_type(f"{where}: {reason}", True, reason) from error

  def healthy(self, path: str = "/health") -> bool:
    try:
      self.request(path, method="GET")
      return True
    except self.error_type:
      return False
