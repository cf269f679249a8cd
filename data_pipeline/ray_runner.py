"""SynthSmith's items on a Ray cluster: one worker actor per node, each item handed to
whichever worker has a free thread.

Why actors and not a Ray task per item: a worker keeps what is costly to start for the whole
run (the teacher's connections or in-process model, the judge's warm sandboxes and compile
cache), sized to its node: ``teacher.concurrency`` threads (the per-node bound on teacher
calls) and one judge with two workers per node CPU (``judge_workers`` when set), so a node's
cores are not oversubscribed. Why not Ray Data: it fails a whole run on one bad block by
default and cannot resume after the driver dies. Here the driver stores every result as it
arrives (``StageStore``), so a rerun resumes from the stage store, and a node that dies loses
only its items in flight, which go back to the queue for the nodes left. Which node ran an
item never changes its result, so the outputs are byte-identical to a local run's.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Iterator, Sequence
from typing import Any

from absl import logging

from data_pipeline.items import ItemWork
from data_pipeline.stage import Result, run_safely
from data_pipeline.teacher import Usage, merge_usage
from xcoder_jax.cluster import NodePool
from xcoder_jax.judge.pool import default_workers


class NodeWorker:
  """The actor on one node: its own ``ItemWork``; each reply carries the teacher's usage so
  far, so the driver's count survives the worker's node."""

  def __init__(self, config, judge_workers: int):
    self.work = ItemWork(config, judge_workers=judge_workers)

  def run(self, call: tuple[str, Any]) -> tuple[Result, dict[str, dict[str, int]]]:
    job, item = call
    result = run_safely(functools.partial(self.work.run, job), item)
    return result, {stage: dict(c) for stage, c in list(self.work.teacher.usage.items())}


class RayRunner:
  """Joins the cluster at ``address`` (None: the one in RAY_ADDRESS, else a new local one)
  and starts a ``NodeWorker`` on every live node with CPUs. Use as a context manager."""

  def __init__(self, config, address: str | None = None):
    judge_workers = lambda cpus: config.judge_workers or default_workers(cpus)
    self._pool = NodePool(
      NodeWorker, lambda cpus: (config, judge_workers(cpus)), config.teacher.concurrency, address
    )
    # Worker serial -> its teacher's usage: counts only grow, so the largest of a worker's
    # replies (which arrive in any order) is its latest.
    self._usage: dict[int, Usage] = {}
    logging.info("SynthSmith on Ray: %d nodes, %d threads each", self.nodes, self._pool.slots)

  @property
  def nodes(self) -> int:
    return self._pool.nodes

  @property
  def requeued(self) -> int:
    return self._pool.requeued

  def map(self, job: str, items: Sequence[Any]) -> Iterator[tuple[Any, Result]]:
    for (_, item), (result, usage), serial in self._pool.map("run", [(job, i) for i in items]):
      known = self._usage.setdefault(serial, {})
      for stage, counts in usage.items():
        known[stage] = known.get(stage, collections.Counter()) | collections.Counter(counts)
      yield item, result

  def teacher_usage(self) -> Usage:
    return merge_usage(*self._usage.values())

  def close(self) -> None:
    self._pool.close()

  def __enter__(self) -> RayRunner:
    return self

  def __exit__(self, *exc) -> None:
    self.close()
