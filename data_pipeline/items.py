"""The per-item work of SynthSmith's resumable stages, as named jobs a runner can ship.

A stage's item function used to be a closure over the driver's teacher and judge; a Ray
worker on another node cannot receive those (an HTTP session, a pool of sandboxes), so each
process that runs items builds its own ``ItemWork`` from the config and a job is named by
its method. Every job is a pure function of its item and the config (the teacher's answers
aside), which is what makes a Ray run's outputs byte-identical to a local run's.
"""

from __future__ import annotations

import threading

from data_pipeline import features, solutions, test_inputs, verify
from data_pipeline import tasks as tasks_lib
from data_pipeline.records import Candidate, Seed, Task, TestInputs
from data_pipeline.stage import Dropped
from data_pipeline.teacher import Teacher, make_teacher


def verification_item(task: dict, candidates: list[dict], inputs: list[dict] | None) -> dict:
  """One verification item: the task with its candidates and test inputs, so that the job
  needs nothing but the item (``inputs`` is the test_inputs stage's record list)."""
  return {"task": task, "candidates": candidates, "inputs": inputs[0] if inputs else None}


class ItemWork:
  """The teacher and judge one process uses for items, and one method per job.

  The judge is started on first use (the teacher stages never need one); ``judge_workers``
  overrides the config's count, e.g. with a Ray node's CPUs."""

  JOBS = ("extract_features", "generate_task", "generate_solutions", "generate_inputs", "verify")

  def __init__(self, config, teacher: Teacher | None = None, judge_workers: int | None = None):
    self.config = config
    self.teacher = teacher or make_teacher(config.teacher)
    self._judge_workers = judge_workers
    self._judge = None
    self._judge_lock = threading.Lock()  # jobs run on several threads

  @property
  def judge(self):
    with self._judge_lock:
      if self._judge is None:
        self._judge = verify.judge_from_config(self.config, self._judge_workers)
      return self._judge

  def run(self, job: str, item):
    if job not in self.JOBS:
      raise ValueError(f"unknown SynthSmith job {job!r}; one of {', '.join(self.JOBS)}")
    return getattr(self, job)(item)

  def extract_features(self, seed: dict):
    return features.extract(self.teacher, self.config.features, Seed.from_json(seed))

  def generate_task(self, feature_config: dict):
    return tasks_lib.generate(self.teacher, self.config.tasks, feature_config)

  def generate_solutions(self, task: dict):
    return solutions.generate(self.teacher, self.config.solutions, task)

  def generate_inputs(self, task: dict):
    return test_inputs.generate(self.teacher, self.judge, self.config.test_inputs, task)

  def verify(self, item: dict):
    if not item["candidates"]:
      raise Dropped("no_candidates")
    return verify.verify_task(
      self.judge,
      self.config.verify,
      Task.from_json(item["task"]),
      [Candidate.from_json(c) for c in item["candidates"]],
      TestInputs.from_json(item["inputs"]),
    )
