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
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from absl import logging

from data_pipeline.items import ItemWork
from data_pipeline.stage import Result, run_safely

MAX_FAILURES_PER_NODE = 3  # a node whose worker died this often gets no new one


class NodeWorker:
  """The actor on one node: its own ``ItemWork``; each reply carries the teacher's usage so
  far, so the driver's count survives the worker's node."""

  def __init__(self, config, judge_workers: int):
    self.work = ItemWork(config, judge_workers=judge_workers)

  def run(self, job: str, item) -> tuple[Result, dict[str, dict[str, int]]]:
    result = run_safely(functools.partial(self.work.run, job), item)
    return result, {stage: dict(c) for stage, c in list(self.work.teacher.usage.items())}

  def ready(self) -> bool:
    return True


def _ray():
  try:
    import ray
  except ImportError as error:
    raise ValueError(
      "--runner=ray needs Ray: pip install 'xcoder-jax[cluster]' (or pip install ray)"
    ) from error
  return ray


class RayRunner:
  """Joins the cluster at ``address`` (None: the one in RAY_ADDRESS, else a new local one)
  and starts a ``NodeWorker`` on every live node with CPUs. Use as a context manager."""

  def __init__(self, config, address: str | None = None):
    ray = _ray()
    self._owns_ray = not ray.is_initialized()
    if self._owns_ray:
      ray.init(address=address or None, logging_level="WARNING", log_to_driver=False)
    self.config = config
    self.threads = max(1, config.teacher.concurrency)
    self._actor_class = ray.remote(NodeWorker)
    self._workers: dict[str, tuple[int, Any]] = {}  # node id -> (worker serial, handle)
    self._serials = itertools.count()
    self._failures: collections.Counter = collections.Counter()
    self._usage: dict[int, dict[str, dict[str, int]]] = {}  # worker serial -> latest usage
    self.requeued = 0  # items whose worker died before answering, given to another
    self._start_workers()
    if not self._workers:
      raise ValueError(f"the Ray cluster at {address or 'default'} has no live node with CPUs")
    ray.get([handle.ready.remote() for _, handle in self._workers.values()])
    logging.info("SynthSmith on Ray: %d nodes, %d threads each", len(self._workers), self.threads)

  @property
  def nodes(self) -> int:
    return len(self._workers)

  def _start_workers(self) -> None:
    """A worker on each live node that has none (nodes may join during the run)."""
    ray = _ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    for node in ray.nodes():
      node_id, cpus = node["NodeID"], int(node["Resources"].get("CPU", 0))
      if not node["Alive"] or cpus < 1 or node_id in self._workers:
        continue
      if self._failures[node_id] >= MAX_FAILURES_PER_NODE:
        continue
      handle = self._actor_class.options(
        num_cpus=0,
        max_concurrency=self.threads,
        max_restarts=0,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
      ).remote(self.config, self.config.judge_workers or 2 * cpus)
      self._workers[node_id] = (next(self._serials), handle)

  def _lost(self, node_id: str, serial: int, error: Exception) -> None:
    """A worker died (its node, most often): forget it once, start workers where possible."""
    current = self._workers.get(node_id)
    if current is None or current[0] != serial:
      return  # another of its items already reported it
    del self._workers[node_id]
    self._failures[node_id] += 1
    logging.warning(
      "Ray worker on node %s lost (%s); its items go back to the queue", node_id, error
    )
    self._start_workers()

  def map(self, job: str, items: Sequence[Any]) -> Iterator[tuple[Any, Result]]:
    ray = _ray()
    pending = collections.deque(items)
    in_flight: dict[Any, tuple[str, int, Any]] = {}  # ref -> (node id, worker serial, item)
    load: collections.Counter = collections.Counter()
    while pending or in_flight:
      for node_id, (serial, handle) in list(self._workers.items()):
        while pending and load[serial] < self.threads:
          item = pending.popleft()
          in_flight[handle.run.remote(job, item)] = (node_id, serial, item)
          load[serial] += 1
      if not in_flight:
        raise RuntimeError(
          f"no live Ray node is left to run SynthSmith's {job} items ({len(pending)} waiting); "
          "finished items are stored: rerun the same command once the cluster is back"
        )
      [ref], _ = ray.wait(list(in_flight), num_returns=1)
      node_id, serial, item = in_flight.pop(ref)
      load[serial] -= 1
      try:
        result, usage = ray.get(ref)
      except ray.exceptions.RayActorError as error:
        self._lost(node_id, serial, error)
        pending.appendleft(item)
        self.requeued += 1
        continue
      except ray.exceptions.RayTaskError as error:
        raise error.as_instanceof_cause() from None
      self._usage[serial] = usage
      yield item, result

  def teacher_usage(self) -> dict[str, collections.Counter]:
    usage: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for snapshot in self._usage.values():
      for stage, counts in snapshot.items():
        usage[stage].update(counts)
    return usage

  def close(self) -> None:
    ray = _ray()
    for _, handle in self._workers.values():
      ray.kill(handle)
    self._workers.clear()
    if self._owns_ray:
      ray.shutdown()

  def __enter__(self) -> RayRunner:
    return self

  def __exit__(self, *exc) -> None:
    self.close()
