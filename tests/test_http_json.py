"""JsonEndpoint's hooks for callers beyond the rollout engines (SynthSmith's teacher): retries
reported through `on_retry`, failures marked retriable, and `stop` ending a waiting request."""

import threading

import pytest

from xcoder_jax.http_json import JsonEndpoint, ServerError

from ports import free_port


def test_retries_are_reported_and_a_stop_ends_the_backoff():
  stop, calls = threading.Event(), []
  dead = JsonEndpoint(f"http://127.0.0.1:{free_port()}", 1.0, 2, 0.01, stop=stop)
  on_retry = lambda *call: calls.append(call)  # noqa: E731
  with pytest.raises(ServerError, match="failed after 3 attempts") as failed:
    dead.request("/x", {}, on_retry=on_retry)
  assert failed.value.retriable and failed.value.reason == "connection refused"
  assert [(c[0], c[1], c[2].reason, c[3]) for c in calls] == [
    (1, 3, "connection refused", 0.01),
    (2, 3, "connection refused", 0.02),
  ]
  calls.clear()
  slow = JsonEndpoint(dead.url, 1.0, 2, 30.0, stop=stop)  # the stop cuts a 30 s backoff short
  with pytest.raises(ServerError, match="stopped after 1 of 3 attempts") as stopped:
    slow.request("/x", {}, on_retry=lambda *call: (calls.append(call), stop.set()))
  assert stopped.value.retriable and len(calls) == 1
