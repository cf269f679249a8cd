"""Two-call task generation: a plan (feature uses, selection, integration), then a statement."""

from __future__ import annotations

import json
import random
import re

from data_pipeline import prompts
from data_pipeline.parsing import parse_json_object
from data_pipeline.records import STYLES, FeatureConfig, Task
from data_pipeline.stage import Dropped
from data_pipeline.teacher import Teacher

_HEADING = r"^[ \t]*(?:#+[ \t]*)?(?:\*\*)?[ \t]*"
_EXAMPLES_START = re.compile(_HEADING + r"(?:Examples?|Samples?)\b", re.M | re.I)
_EXAMPLE_INPUT = re.compile(_HEADING + r"(?:(?:Sample|Example)[ \t]+)?Input\b", re.M | re.I)
_EXAMPLE_OUTPUT = re.compile(_HEADING + r"(?:(?:Sample|Example)[ \t]+)?Output\b", re.M | re.I)
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")
KIND_OF_STYLE = {"codeforces": "stdio", "atcoder": "stdio", "leetcode": "leetcode"}


def draw_style(config_id: str, weights: dict[str, float], seed: int) -> str:
  rng = random.Random(f"{seed}:style:{config_id}")
  return rng.choices(STYLES, weights=[weights[s] for s in STYLES])[0]


def count_examples(statement: str) -> int:
  """Input/Output pairs from the first examples heading on ("Examples" with several Input
  blocks, "Example N", "Sample Input N"); the format's "Input"/"Output" sections come
  before it and are not counted."""
  start = _EXAMPLES_START.search(statement)
  if start is None:
    return 0
  examples = statement[start.start() :]
  return min(len(_EXAMPLE_INPUT.findall(examples)), len(_EXAMPLE_OUTPUT.findall(examples)))


def _check_plan(plan: dict) -> None:
  if not (
    isinstance(plan.get("selected_features"), list)
    and plan["selected_features"]
    and isinstance(plan.get("integration_strategy"), str)
  ):
    raise Dropped("malformed_plan")


def generate(teacher: Teacher, config, feature_config: dict) -> tuple[list[dict], dict]:
  """Plan call then statement call; refuses statements without two examples or, for
  LeetCode style, without the entry point's ``def``."""
  fc = FeatureConfig.from_json(feature_config)
  style = draw_style(fc.id, config.style_weights, config.seed)
  sampling = dict(config.sampling)
  plan_messages = prompts.render(
    "task_plan", features=json.dumps(fc.tree, indent=1, sort_keys=True)
  )
  plan = parse_json_object(teacher.complete("task_plan", plan_messages, sampling).text)
  _check_plan(plan)
  statement_messages = prompts.render(
    "task_statement",
    plan=json.dumps(plan, indent=1, sort_keys=True),
    style_guide=prompts.text(f"style_{style}"),
  )
  answer = parse_json_object(teacher.complete("task_statement", statement_messages, sampling).text)
  statement, title = answer.get("statement"), answer.get("title")
  if not isinstance(statement, str) or not isinstance(title, str) or len(statement) < 100:
    raise Dropped("malformed_statement")
  if count_examples(statement) < 2:
    raise Dropped("too_few_examples")
  kind, fn_name = KIND_OF_STYLE[style], None
  if kind == "leetcode":
    fn_name = answer.get("entry_point")
    if not (
      isinstance(fn_name, str) and _IDENTIFIER.match(fn_name) and f"def {fn_name}(" in statement
    ):
      raise Dropped("missing_entry_point")
  task = Task(
    f"task-{fc.id}", fc.id, style, kind, fn_name, title.strip(), statement.strip(), plan, fc.tree
  )
  return [task.to_json()], {}
