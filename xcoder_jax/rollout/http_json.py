"""JSON over HTTP with timeouts and retries: the one transport of the server-backed engines.

Connection errors, timeouts, 429 and 5xx answers are retried with exponential backoff; other
4xx answers are raised at once with the server's message, since retrying will not fix the
request.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from typing import Any


class ServerError(RuntimeError):
  """A server refused a request, answered something malformed, or stayed unreachable."""


class JsonEndpoint:
  """One server's base URL; `request(path, body)` returns the decoded answer."""

  def __init__(
    self,
    url: str,
    timeout_s: float = 600.0,
    max_retries: int = 3,
    backoff_s: float = 1.0,
    headers: dict[str, str] | None = None,
    error_type: type[ServerError] = ServerError,
  ):
    self.url = url.rstrip("/")
    self.timeout_s, self.max_retries, self.backoff_s = timeout_s, max_retries, backoff_s
    self.headers = {"Content-Type": "application/json", **(headers or {})}
    self.error_type = error_type

  def request(self, path: str, body: dict[str, Any] | None = None, method: str | None = None):
    """JSON (or text) answer of one call; retries what may pass, raises what will not."""
    data = None if body is None else json.dumps(body).encode()
    last: Exception | None = None
    for attempt in range(self.max_retries + 1):
      if attempt:
        time.sleep(self.backoff_s * 2 ** (attempt - 1))
      request = urllib.request.Request(self.url + path, data, self.headers, method=method)
      try:
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
          text = response.read().decode()
        try:
          return json.loads(text) if text else None
        except json.JSONDecodeError:
          return text
      except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:2000]
        last = self.error_type(f"{self.url}{path}: HTTP {error.code}: {detail}")
        if error.code != 429 and error.code < 500:
          raise last from None
      except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        last = self.error_type(f"{self.url}{path}: {error}")
    raise self.error_type(f"failed after {self.max_retries + 1} attempts: {last}")

  def healthy(self, path: str = "/health") -> bool:
    try:
      self.request(path, method="GET")
      return True
    except self.error_type:
      return False
