"""Judging on judge services (`launch.judge_serve`) instead of in this process.

`RemoteJudge.run(batch)` is `Judge.run(batch)` over HTTP: each submission goes to the `/judge`
endpoint of the instance with the fewest requests in flight (at most `in_flight` per
instance), so GRPO's reward judging runs on CPU hosts of its own instead of competing with the
trainer for the training hosts' cores. An instance that fails (unreachable, timed out, a 5xx)
is set aside for `cooldown_s` and the submission goes to another one; each submission's
verdicts are taken from exactly one answer, so nothing is counted twice. Submissions are
validated here first, with the same errors as a local judge. `make_judge` picks the backend
from settings.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Sequence

from xcoder_jax.http_json import JsonEndpoint, ServerError
from xcoder_jax.judge.pool import Judge
from xcoder_jax.judge.runner import validate
from xcoder_jax.judge.service import result_from_record, submission_record
from xcoder_jax.judge.types import Submission, SubmissionResult

log = logging.getLogger(__name__)
BACKENDS = ("local", "remote", "ray")


class RemoteJudge:
  """Judges batches on the judge services at `urls` (checked with `/v1/ping` first)."""

  def __init__(
    self,
    urls: Sequence[str],
    timeout_s: float = 600.0,
    attempts: int = 3,
    in_flight: int = 16,
    token: str | None = None,
    cooldown_s: float = 10.0,
  ):
    if not urls:
      raise ValueError("the remote judge needs at least one URL (judge.urls=http://HOST:PORT,...)")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    self.endpoints = [
      JsonEndpoint(url, timeout_s, max_retries=0, headers=headers, max_in_flight=in_flight)
      for url in urls
    ]
    self.attempts, self.in_flight, self.cooldown_s = attempts, in_flight, cooldown_s
    self.workers = in_flight * len(urls)  # submissions judged at once (Judge.workers' sense)
    self._busy = [0] * len(urls)  # requests in flight per instance
    self._set_aside = [0.0] * len(urls)  # monotonic time until which an instance is skipped
    self._lock = threading.Lock()
    dead = [i for i, e in enumerate(self.endpoints) if not e.healthy("/v1/ping")]
    if len(dead) == len(urls):
      raise ValueError(
        f"no judge service answers at {', '.join(e.url for e in self.endpoints)}; start one "
        "with `python -m launch.judge_serve --port=PORT` or fix judge.urls"
      )
    for i in dead:
      log.warning("judge service %s does not answer; judging on the others", self.endpoints[i].url)
      self._set_aside[i] = time.monotonic() + cooldown_s

  def run(self, batch: Sequence[Submission]) -> list[SubmissionResult]:
    """Judges every submission; results come back in the batch's order."""
    for submission in batch:
      validate(submission)
    workers = max(1, min(len(batch), self.workers))
    with concurrent.futures.ThreadPoolExecutor(workers) as executor:
      return list(executor.map(self._judge_one, batch))

  def close(self) -> None:
    """Nothing to release (the services keep running); here to match `Judge`."""

  def __enter__(self) -> RemoteJudge:
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()

  def _judge_one(self, submission: Submission) -> SubmissionResult:
    body, failures = submission_record(submission), []
    for _ in range(self.attempts):
      index = self._pick()
      try:
        record = self.endpoints[index].request("/judge", body)
        return result_from_record(record)
      except ServerError as error:
        if not error.retriable:
          raise
        failures.append(str(error))
        with self._lock:
          self._set_aside[index] = time.monotonic() + self.cooldown_s
        log.warning("judge service failed (%s); trying another", error.reason)
      finally:
        with self._lock:
          self._busy[index] -= 1
    raise ServerError(f"judging failed on {self.attempts} attempts: {'; '.join(failures)}", True)

  def _pick(self) -> int:
    """The instance with the fewest requests in flight, preferring ones not set aside."""
    with self._lock:
      now = time.monotonic()
      order = sorted(
        range(len(self.endpoints)), key=lambda i: (self._set_aside[i] > now, self._busy[i])
      )
      self._busy[order[0]] += 1
      return order[0]


def make_judge(
  backend: str = "local",
  urls: str | Sequence[str] = "",
  workers: int | None = None,
  timeout_s: float = 600.0,
  token: str | None = None,
  ray_address: str | None = None,
):
  """A judge in this process (`local`, `workers` of them), on services (`remote`, `urls`
  comma-separated or a list) or on the nodes of a Ray cluster (`ray`: `ray_address`, else
  RAY_ADDRESS, else a new local cluster; `workers` per node, default two per node CPU)."""
  if backend not in BACKENDS:
    raise ValueError(f"unknown judge backend {backend!r}; choose one of {', '.join(BACKENDS)}")
  if isinstance(urls, str):
    urls = [u.strip() for u in urls.split(",") if u.strip()]
  if backend != "remote" and urls:
    raise ValueError(f"judge urls are set but the backend is {backend}; set the backend to remote")
  if backend == "local":
    return Judge(workers=workers)
  if backend == "ray":
    from xcoder_jax.judge.ray_judge import RayJudge  # Ray is an optional extra

    return RayJudge(ray_address, workers)
  return RemoteJudge(urls, timeout_s=timeout_s, token=token)
