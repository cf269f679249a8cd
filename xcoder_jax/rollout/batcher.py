"""Gathers single requests from many threads into batched `Sampler.generate` calls.

Callers such as SynthSmith's stages ask one question at a time from a thread pool; an
accelerator is only efficient on batches. One worker thread takes the first waiting request,
waits up to `max_wait_s` for more (at most `max_batch`), runs them as one batch and hands each
caller its own row. Rows keep their own sampling parameters and seeds, so an answer does not
depend on which requests happened to share its batch. A request for `n` samples is `n` rows
(`submit_samples`), seeded by `SamplingParams.samples()`.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from collections.abc import Sequence

from xcoder_jax.rollout.sampler import Sampler
from xcoder_jax.rollout.types import Completion, SamplingParams


class RequestBatcher:
  """Thread-safe front of a Sampler; `batches_run` counts the batched calls made."""

  def __init__(self, sampler: Sampler, max_batch: int = 64, max_wait_s: float = 0.02):
    if max_batch < 1:
      raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    self.sampler, self.max_batch, self.max_wait_s = sampler, max_batch, max_wait_s
    self.batches_run = 0
    self._queue: queue.Queue = queue.Queue()
    self._worker = threading.Thread(target=self._serve, name="rollout-batcher", daemon=True)
    self._worker.start()

  def submit(self, prompt: Sequence[int], params: SamplingParams) -> concurrent.futures.Future:
    """One completion; `params.n` must be 1 (use `submit_samples` for n > 1)."""
    if params.n != 1:
      raise ValueError(f"submit takes n=1, got n={params.n}; use submit_samples for n samples")
    future: concurrent.futures.Future = concurrent.futures.Future()
    self._queue.put((list(prompt), params, future))
    return future

  def submit_samples(
    self, prompt: Sequence[int], params: SamplingParams
  ) -> list[concurrent.futures.Future]:
    """The `params.n` samples of one prompt, each its own row (maybe in different batches)."""
    return [self.submit(prompt, row) for row in params.samples()]

  def generate(self, prompt: Sequence[int], params: SamplingParams) -> Completion:
    """Blocks until this prompt's row of some batch is done."""
    return self.submit(prompt, params).result()

  def _next_batch(self) -> list:
    batch = [self._queue.get()]
    deadline = time.monotonic() + self.max_wait_s
    while len(batch) < self.max_batch:
      try:
        batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
      except queue.Empty:
        break
    return batch

  def _serve(self) -> None:
    while True:
      batch = self._next_batch()
      self.batches_run += 1
      try:
        results = self.sampler.generate([b[0] for b in batch], [b[1] for b in batch])
      except Exception as error:  # every waiting caller sees the failure, the worker lives on
        for _, _, future in batch:
          future.set_exception(error)
        continue
      for (_, _, future), result in zip(batch, results):
        future.set_result(result)
