"""One actor per Ray node, and work handed to whichever has a free slot.

SynthSmith's items (``data_pipeline.ray_runner``) and judging on a cluster
(``xcoder_jax.judge.ray_judge``) share this: an actor per live node with CPUs, built with
arguments sized to that node (its CPU count), running ``slots`` calls at once; the driver
keeps every actor's slots full from one queue, so a fast node takes more work than a slow
one. An actor that dies (its node, most often) is forgotten and its calls in flight go back
to the queue for the others; nodes that join get an actor at the next failure. Callers store
what comes back, so nothing is counted twice.
"""

from __future__ import annotations

import collections
import itertools
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from absl import logging

MAX_FAILURES_PER_NODE = 3  # a node whose actor died this often gets no new one


def check_address(address: str | None) -> None:
  """Refuses, in one line, a HOST:PORT (given, or in RAY_ADDRESS) where nothing listens:
  ``ray.init`` would otherwise retry for minutes before failing with a traceback."""
  address = address or os.environ.get("RAY_ADDRESS")
  if not address or address == "auto" or "://" in address:
    return
  host, _, port = address.rpartition(":")
  if not host or not port.isdigit():
    raise ValueError(
      f"Ray address {address!r}: give HOST:PORT of the head node, e.g. 10.0.0.1:6379"
    )
  try:
    socket.create_connection((host, int(port)), timeout=5).close()
  except OSError as error:
    raise ValueError(
      f"no Ray cluster answers at {address} ({error.strerror or error}); start one there with "
      f"`ray start --head --port={port}`, or fix the address (--ray_address or RAY_ADDRESS)"
    ) from None


def import_ray():
  try:
    import ray
  except ImportError as error:
    raise ValueError(
      "running on Ray needs Ray: pip install 'xcoder-jax[cluster]' (or pip install ray)"
    ) from error
  return ray


class NodePool:
  """``actor_class`` (a plain class) on every live node: ``make_args(cpus)`` gives its
  constructor's arguments. Joins the cluster at ``address`` (None: RAY_ADDRESS, else a new
  local cluster) unless Ray is already initialised. Use as a context manager."""

  def __init__(
    self,
    actor_class: type,
    make_args: Callable[[int], tuple],
    slots: int,
    address: str | None = None,
  ):
    ray = import_ray()
    self._owns_ray = not ray.is_initialized()
    if self._owns_ray:
      check_address(address)
      ray.init(address=address or None, logging_level="WARNING", log_to_driver=False)
    self.slots = max(1, slots)
    self._remote_class = ray.remote(actor_class)
    self._make_args = make_args
    self._actors: dict[str, tuple[int, Any]] = {}  # node id -> (actor serial, handle)
    self.cpus: dict[str, int] = {}  # node id -> CPUs, of the nodes with an actor
    self._serials = itertools.count()
    self._failures: collections.Counter = collections.Counter()
    self.requeued = 0  # calls whose actor died before answering, given to another
    self._start_actors()
    if not self._actors:
      raise ValueError(f"the Ray cluster at {address or 'default'} has no live node with CPUs")

  @property
  def nodes(self) -> int:
    return len(self._actors)

  def _start_actors(self) -> None:
    """An actor on each live node that has none."""
    ray = import_ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    for node in ray.nodes():
      node_id, cpus = node["NodeID"], int(node["Resources"].get("CPU", 0))
      if not node["Alive"] or cpus < 1 or node_id in self._actors:
        continue
      if self._failures[node_id] >= MAX_FAILURES_PER_NODE:
        continue
      handle = self._remote_class.options(
        num_cpus=0,
        max_concurrency=self.slots,
        max_restarts=0,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
      ).remote(*self._make_args(cpus))
      self._actors[node_id] = (next(self._serials), handle)
      self.cpus[node_id] = cpus

  def _lost(self, node_id: str, serial: int, error: Exception) -> None:
    current = self._actors.get(node_id)
    if current is None or current[0] != serial:
      return  # another of its calls already reported it
    del self._actors[node_id], self.cpus[node_id]
    self._failures[node_id] += 1
    logging.warning(
      "Ray actor on node %s lost (%s); its work goes back to the queue", node_id, error
    )
    self._start_actors()

  def map(self, method: str, items: Sequence[Any]) -> Iterator[tuple[Any, Any, int]]:
    """(item, value, actor serial) for ``actor.method(item)`` of every item, in the order
    they finish; an exception raised by the method is raised here."""
    ray = import_ray()
    pending = collections.deque(items)
    in_flight: dict[Any, tuple[str, int, Any]] = {}  # ref -> (node id, actor serial, item)
    load: collections.Counter = collections.Counter()
    while pending or in_flight:
      for node_id, (serial, handle) in list(self._actors.items()):
        while pending and load[serial] < self.slots:
          item = pending.popleft()
          in_flight[getattr(handle, method).remote(item)] = (node_id, serial, item)
          load[serial] += 1
      if not in_flight:
        raise RuntimeError(
          f"no live Ray node is left ({len(pending)} calls of {method} waiting); what finished "
          "is kept: run the same command again once the cluster is back"
        )
      [ref], _ = ray.wait(list(in_flight), num_returns=1)
      node_id, serial, item = in_flight.pop(ref)
      load[serial] -= 1
      try:
        value = ray.get(ref)
      except ray.exceptions.RayActorError as error:
        self._lost(node_id, serial, error)
        pending.appendleft(item)
        self.requeued += 1
        continue
      except ray.exceptions.RayTaskError as error:
        raise error.as_instanceof_cause() from None
      yield item, value, serial

  def close(self) -> None:
    ray = import_ray()
    for _, handle in self._actors.values():
      ray.kill(handle)
    self._actors.clear()
    self.cpus.clear()
    if self._owns_ray:
      ray.shutdown()

  def __enter__(self) -> NodePool:
    return self

  def __exit__(self, *exc) -> None:
    self.close()
