"""Running a stage item by item: resumable, concurrent, with a funnel of drop reasons."""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from tqdm import tqdm

from data_pipeline.parsing import ParseError
from data_pipeline.store import StageStore
from data_pipeline.teacher import TeacherError, Usage


@dataclasses.dataclass
class StageReport:
  """One funnel row: items in, records out, and why the rest were dropped."""

  name: str
  num_in: int = 0
  num_out: int = 0
  drops: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  retriable: int = 0  # items not stored after a teacher outage; the next run retries them

  def to_json(self) -> dict[str, Any]:
    row = {
      "stage": self.name,
      "in": self.num_in,
      "out": self.num_out,
      "drops": {k: v for k, v in sorted(self.drops.items()) if v},
    }
    return {**row, "retriable": self.retriable} if self.retriable else row


class Dropped(Exception):
  """Raised by a stage's item function to drop the whole item with a reason."""

  def __init__(self, reason: str):
    super().__init__(reason)
    self.reason = reason


ItemFn = Callable[[Any], tuple[list[dict], dict[str, int]]]
Result = tuple[list[dict], dict[str, int]] | None


def run_safely(process: ItemFn, item) -> Result:
  """Malformed teacher output and teacher failures become counted drops, never crashes;
  None (nothing to store) for a teacher outage, which the next run retries."""
  try:
    return process(item)
  except Dropped as drop:
    return [], {drop.reason: 1}
  except ParseError as error:
    return [], {error.reason: 1}
  except TeacherError as error:
    return None if error.retriable else ([], {"teacher_error": 1})


class Runner(Protocol):
  """Where a stage's items run. ``map`` yields (item, result) as each finishes, in any
  order; ``teacher_usage`` counts the requests of teachers other than the driver's."""

  def map(self, job: str, items: Sequence[Any]) -> Iterator[tuple[Any, Result]]: ...

  def teacher_usage(self) -> Usage: ...


class LocalRunner:
  """Items on ``concurrency`` threads of this process, with the driver's own ``ItemWork``
  (``data_pipeline.items``): teacher calls wait on the network, the judge on its sandboxes."""

  def __init__(self, work, concurrency: int = 1):
    self.work, self.concurrency = work, concurrency

  def map(self, job: str, items: Sequence[Any]) -> Iterator[tuple[Any, Result]]:
    process = functools.partial(self.work.run, job)
    if self.concurrency <= 1:
      for item in items:
        yield item, run_safely(process, item)
      return
    with concurrent.futures.ThreadPoolExecutor(self.concurrency) as pool:
      futures = {pool.submit(run_safely, process, item): item for item in items}
      for future in concurrent.futures.as_completed(futures):
        yield futures[future], future.result()

  def teacher_usage(self) -> Usage:
    return {}  # the driver's teacher did the work


def run_items(
  name: str,
  work_dir: str,
  items: Sequence[Any],
  key_of: Callable[[Any], str],
  job: str,
  runner: Runner,
) -> tuple[list[dict], StageReport]:
  """Runs ``job`` on every item not yet stored; returns all outputs in item order, whatever
  order the runner finished them in. Each result is stored as it arrives, on the driver.

  The stage is marked complete only when no item is left retriable (``report.retriable``)."""
  store = StageStore(work_dir, name)
  report = StageReport(name, num_in=len(items))
  todo = [item for item in items if key_of(item) not in store.entries]
  if todo and store.complete:
    raise ValueError(
      f"stage {name} is marked complete but {len(todo)} of its {len(items)} items are new (its "
      "inputs changed, e.g. edited seed files); use a new --output directory"
    )
  with tqdm(
    total=len(items), initial=len(items) - len(todo), desc=name, unit="item", leave=False
  ) as bar:
    for item, result in runner.map(job, todo):
      if result is None:
        report.retriable += 1
      else:
        store.add(key_of(item), *result)
      bar.update()
  if not report.retriable:
    store.mark_complete()
  outputs = []
  for item in items:
    entry = store.entries.get(key_of(item))
    if entry is None:
      continue
    outputs += entry["outputs"]
    report.drops.update(entry["drops"])
  report.num_out = len(outputs)
  return outputs, report
