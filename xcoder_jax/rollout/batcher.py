"""Continuous batching for requests from many threads: rows join the running batch.

Callers such as SynthSmith's stages and the serving endpoint ask one question at a time from
many threads; an accelerator is only efficient on batches. One worker thread owns a
`continuous.SlotBatch`: a request waits at most one decode chunk (`STOP_CHECK_STEPS` steps)
before it takes a free slot in the running batch, and leaves it the step it finishes, so a
long generation never holds up the short ones behind it. When nothing runs, the first request
waits up to `max_wait_s` for others, and the new batch is shaped for that burst (a request
too long for the running batch's shapes waits until the batch drains). Rows keep their own
sampling parameters and seeds, so an answer does not depend on which requests share its
slots. A request for `n` samples is `n` rows (`submit_samples`), seeded by
`SamplingParams.samples()`.
"""

from __future__ import annotations

import collections
import concurrent.futures
import queue
import threading
import time
from collections.abc import Sequence

from xcoder_jax.rollout import continuous
from xcoder_jax.rollout.continuous import Request, SlotBatch
from xcoder_jax.rollout.sampler import Sampler
from xcoder_jax.rollout.types import Completion, SamplingParams


class RequestBatcher:
  """Thread-safe front of a Sampler with at most `max_batch` rows decoding at once;
  `batches_run` counts the decode chunks run. `sampler` may be replaced (new weights) while
  no request is running."""

  def __init__(self, sampler: Sampler, max_batch: int = 64, max_wait_s: float = 0.02):
    if max_batch < 1:
      raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    self.sampler, self.max_batch, self.max_wait_s = sampler, max_batch, max_wait_s
    self.batches_run = 0
    self._queue: queue.Queue[Request] = queue.Queue()
    self._worker = threading.Thread(target=self._serve, name="rollout-batcher", daemon=True)
    self._worker.start()

  def submit(self, prompt: Sequence[int], params: SamplingParams) -> concurrent.futures.Future:
    """One completion; `params.n` must be 1 (use `submit_samples` for n > 1)."""
    if params.n != 1:
      raise ValueError(f"submit takes n=1, got n={params.n}; use submit_samples for n samples")
    future: concurrent.futures.Future = concurrent.futures.Future()
    self._queue.put(self.sampler.request(future, prompt, params))
    return future

  def submit_samples(
    self, prompt: Sequence[int], params: SamplingParams
  ) -> list[concurrent.futures.Future]:
    """The `params.n` samples of one prompt, each its own row."""
    return [self.submit(prompt, row) for row in params.samples()]

  def generate(self, prompt: Sequence[int], params: SamplingParams) -> Completion:
    """Blocks until this prompt's row is done."""
    return self.submit(prompt, params).result()

  def _collect(self, pending: collections.deque, block: bool) -> None:
    """Moves queued requests to `pending`; `block`: wait for one, then up to max_wait_s."""
    if block:
      pending.append(self._queue.get())
      deadline = time.monotonic() + self.max_wait_s
      while len(pending) < self.max_batch:
        try:
          pending.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
          break
    while True:
      try:
        pending.append(self._queue.get_nowait())
      except queue.Empty:
        return

  def _serve(self) -> None:
    batch: SlotBatch | None = None
    pending: collections.deque[Request] = collections.deque()
    while True:
      idle = batch is None or not batch.busy
      self._collect(pending, block=idle and not pending)
      if idle:  # shaped for what waits now, with the sampler of now
        batch = self.sampler.new_batch(pending, round_up=True, max_slots=self.max_batch)
      while pending and batch.fits(pending[0]):
        batch.add(pending.popleft())
      try:
        finished = batch.run(max_steps=continuous.STOP_CHECK_STEPS)
      except Exception as error:  # every caller in the batch sees the failure; the worker lives on
        for request in batch.requests():
          request.key.set_exception(error)
        batch = None
        continue
      self.batches_run += 1
      for request, completion in finished:
        request.key.set_result(completion)
