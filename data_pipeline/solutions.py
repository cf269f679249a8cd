"""Solution generation: k sampled answers per task and language, kept when they hold exactly
one code block of that language (Python's must parse).

Languages other than Python are asked for stdio tasks only: the judge calls functions
(LeetCode-style tasks) in Python alone."""

from __future__ import annotations

import collections

from data_pipeline import prompts
from data_pipeline.parsing import ParseError, extract_single_block
from data_pipeline.records import Candidate, Task
from data_pipeline.teacher import Teacher, TeacherError
from xcoder_jax.judge import languages as judge_languages


def interface(task: Task) -> str:
  if task.kind == "leetcode":
    return (
      f"Implement `class Solution` with the method `{task.fn_name}`; do not read input or print."
    )
  return "Read from standard input and write to standard output."


def solution_messages(task: Task, language: str = "python") -> list[dict[str, str]]:
  """The chat the teacher answers; also the SFT query of the verified task."""
  row = judge_languages.get(language)
  return prompts.render(
    "solution",
    statement=task.statement,
    interface=interface(task),
    language=row.title,
    fence=row.name,
  )


def check_languages(names) -> list[str]:
  """The configured solution languages as the judge's names; refuses unknown ones and
  repeats, listing what is supported."""
  if isinstance(names, str):
    names = [names]
  # --config.solutions.languages=python,cpp arrives as one text: split it
  names = [name.strip() for text in names for name in text.split(",") if name.strip()]
  if not names:
    raise ValueError("solutions.languages is empty: list at least one, e.g. ['python']")
  canonical = [judge_languages.get(name).name for name in names]
  if len(set(canonical)) < len(canonical):
    raise ValueError(f"solutions.languages repeats a language: {list(names)}")
  return canonical


def task_languages(task: Task, config) -> list[str]:
  """The languages asked for ``task``: all configured ones for stdio tasks, else Python."""
  configured = check_languages(config.languages)
  return configured if task.kind == "stdio" else [n for n in configured if n == "python"]


def generate(teacher: Teacher, config, task_json: dict) -> tuple[list[dict], dict]:
  """``num_candidates`` answers per language; candidate indices run on across languages, in
  the configured order (a Python-only run numbers and seeds them as it always did)."""
  task = Task.from_json(task_json)
  candidates, drops = [], collections.Counter()
  prompts_by_language = [
    (name, solution_messages(task, name)) for name in task_languages(task, config)
  ]
  requests = [entry for entry in prompts_by_language for _ in range(config.num_candidates)]
  for index, (language, messages) in enumerate(requests):
    sampling = {**config.sampling, "seed": index}  # distinct requests, distinct samples
    try:
      response = teacher.complete("solution", messages, sampling).text
      code = extract_single_block(response, language)
    except ParseError as error:
      drops[f"candidate:{error.reason}"] += 1
      continue
    except TeacherError as error:
      if error.retriable:
        raise  # an outage: the whole task is retried on the next run, not stored short
      drops["candidate:teacher_error"] += 1
      continue
    candidates.append(Candidate(task.id, index, response, code, language).to_json())
  return candidates, dict(drops)
