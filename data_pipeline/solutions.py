"""Solution generation: k sampled answers per task, kept when they hold exactly one
parseable python block."""

from __future__ import annotations

import collections

from data_pipeline import prompts
from data_pipeline.parsing import ParseError, extract_single_python_block
from data_pipeline.records import Candidate, Task
from data_pipeline.teacher import Teacher, TeacherError


def interface(task: Task) -> str:
  if task.kind == "leetcode":
    return (
      f"Implement `class Solution` with the method `{task.fn_name}`; do not read input or print."
    )
  return "Read from standard input and write to standard output."


def solution_messages(task: Task) -> list[dict[str, str]]:
  """The chat the teacher answers; also the SFT query of the verified task."""
  return prompts.render("solution", statement=task.statement, interface=interface(task))


def generate(teacher: Teacher, config, task_json: dict) -> tuple[list[dict], dict]:
  task = Task.from_json(task_json)
  messages = solution_messages(task)
  candidates, drops = [], collections.Counter()
  for index in range(config.num_candidates):
    sampling = {**config.sampling, "seed": index}  # distinct requests, distinct samples
    try:
      response = teacher.complete("solution", messages, sampling).text
      code = extract_single_python_block(response)
    except ParseError as error:
      drops[f"candidate:{error.reason}"] += 1
      continue
    except TeacherError as error:
      if error.retriable:
        raise  # an outage: the whole task is retried on the next run, not stored short
      drops["candidate:teacher_error"] += 1
      continue
    candidates.append(Candidate(task.id, index, response, code).to_json())
  return candidates, dict(drops)
