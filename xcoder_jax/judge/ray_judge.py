"""Judging on a Ray cluster: one ``Judge`` per node, sized to its CPUs.

``RayJudge.run(batch)`` is ``Judge.run(batch)`` spread over the nodes: the batch is cut into
chunks of about one node judge's worth of submissions, each chunk goes to whichever node has
room, and results come back in the batch's order. A node lost mid-batch only sends its
chunks in flight to the others; every submission's result is taken from exactly one answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from xcoder_jax.cluster import NodePool
from xcoder_jax.judge.pool import Judge, default_workers
from xcoder_jax.judge.runner import validate
from xcoder_jax.judge.types import Submission, SubmissionResult

CHUNKS_PER_NODE = 2  # in flight per node: one judged while the next one travels


class NodeJudge:
  """The actor on one node: a ``Judge`` with ``workers`` sandboxes."""

  def __init__(self, workers: int):
    self.judge = Judge(workers=workers)

  def run(self, chunk: tuple[int, list[Submission]]) -> list[SubmissionResult]:
    return self.judge.run(chunk[1])


class RayJudge:
  """Joins the Ray cluster at ``address`` (None: RAY_ADDRESS, else a new local cluster).
  Each node's judge has two sandboxes per node CPU (a local ``Judge``'s default), or
  ``workers`` when given."""

  def __init__(self, address: str | None = None, workers: int | None = None):
    per_node = lambda cpus: workers or default_workers(cpus)
    self._pool = NodePool(NodeJudge, lambda cpus: (per_node(cpus),), CHUNKS_PER_NODE, address)
    # Submissions judged at once (Judge.workers' sense: callers size their batches by it).
    self.workers = sum(per_node(cpus) for cpus in self._pool.cpus.values())

  def run(self, batch: Sequence[Submission]) -> list[SubmissionResult]:
    """Judges every submission; results come back in the batch's order."""
    for submission in batch:
      validate(submission)
    if not batch:
      return []
    # Four chunks per node's two slots: enough to balance, few enough to amortise a call.
    size = max(1, -(-len(batch) // (self._pool.nodes * CHUNKS_PER_NODE * 2)))
    chunks = [(start, list(batch[start : start + size])) for start in range(0, len(batch), size)]
    results: list[SubmissionResult | None] = [None] * len(batch)
    for (start, _), chunk_results, _ in self._pool.map("run", chunks):
      results[start : start + len(chunk_results)] = chunk_results
    return results

  @property
  def requeued(self) -> int:
    return self._pool.requeued

  def close(self) -> None:
    self._pool.close()

  def __enter__(self) -> RayJudge:
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()
