"""Test inputs: written directly by the teacher and produced by teacher-written generator
programs run in the judge; every input must pass a teacher-written validator."""

from __future__ import annotations

import collections
import json

from data_pipeline import execute, prompts
from data_pipeline.parsing import ParseError, extract_single_python_block, parse_json_object
from data_pipeline.records import Task, TestInputs
from data_pipeline.stage import Dropped
from data_pipeline.teacher import Teacher, TeacherError


def input_shape(task: Task) -> str:
  if task.kind == "leetcode":
    return f"An input here is a JSON list of the arguments of `{task.fn_name}` in order (one line)."
  return "An input is the exact text given on standard input."


def normalize_input(text: str, kind: str) -> str:
  """Canonical input text; ValueError when a call-style input is not a JSON argument list
  (the judge could not call the entry point with it)."""
  if kind in ("leetcode", "function"):
    args = json.loads(text)
    if not isinstance(args, list):
      raise ValueError(f"a call-style input must be a JSON list of arguments, not {text!r}")
    return json.dumps(args, separators=(",", ":"))
  return "\n".join(line.rstrip() for line in text.strip("\n").split("\n")) + "\n"


def _answer(teacher: Teacher, stage: str, messages, sampling: dict) -> str | None:
  """The answer's text; None for a refused request, while an outage propagates (retried)."""
  try:
    return teacher.complete(stage, messages, sampling).text
  except TeacherError as error:
    if error.retriable:
      raise
    return None


def _program(teacher: Teacher, stage: str, task: Task, sampling: dict) -> str | None:
  messages = prompts.render(stage, statement=task.statement, input_shape=input_shape(task))
  text = _answer(teacher, stage, messages, sampling)
  try:
    return None if text is None else extract_single_python_block(text)
  except ParseError:
    return None


def generate(teacher: Teacher, judge, config, task_json: dict) -> tuple[list[dict], dict]:
  task, sampling = Task.from_json(task_json), dict(config.sampling)
  drops = collections.Counter()
  validator = _program(teacher, "input_validator", task, sampling)
  if validator is None:
    raise Dropped("malformed_validator")
  raw: list[tuple[str, str]] = []
  messages = prompts.render("test_inputs", statement=task.statement, input_shape=input_shape(task))
  text = _answer(teacher, "test_inputs", messages, sampling)
  try:
    direct = parse_json_object(text or "").get("inputs")  # refused: counted as malformed
    raw += (
      [(text, "direct") for text in direct if isinstance(text, str)]
      if isinstance(direct, list)
      else []
    )
  except ParseError:
    drops["input:malformed_direct_inputs"] += 1
  generator = _program(teacher, "input_generator", task, sampling)
  if generator is None:
    drops["input:malformed_generator"] += 1
  else:
    seeds = [f"{seed}\n" for seed in range(config.generated_inputs)]
    generated = execute.outputs(judge.run([execute.submission(generator, seeds)])[0])
    drops["input:generator_failed"] += sum(text is None for text in generated)
    raw += [(text, "generator") for text in generated if text is not None]
  inputs, origins, seen = [], [], set()
  for text, origin in raw:
    try:
      text = normalize_input(text, task.kind)
    except ValueError:  # includes json.JSONDecodeError
      drops["input:invalid_format"] += 1
      continue
    if text in seen:
      drops["input:duplicate"] += 1
      continue
    seen.add(text)
    inputs.append(text)
    origins.append(origin)
  verdicts = (
    execute.outputs(judge.run([execute.submission(validator, inputs)])[0]) if inputs else []
  )
  valid = [i for i, verdict in enumerate(verdicts) if verdict is not None]
  drops["input:invalid_format"] += len(inputs) - len(valid)
  valid = valid[: config.max_inputs]
  if len(valid) < config.min_inputs:
    drops["too_few_inputs"] += 1
    return [], dict(drops)
  record = TestInputs(task.id, [inputs[i] for i in valid], [origins[i] for i in valid])
  return [record.to_json()], dict(drops)
