"""Feature extraction, the feature tree (recursive union) and its evolution."""

from __future__ import annotations

import json
import random
from typing import Any

from data_pipeline import prompts
from data_pipeline.parsing import ParseError, parse_json_object
from data_pipeline.records import FEATURE_CATEGORIES, Seed, SeedFeatures
from data_pipeline.stage import StageReport
from data_pipeline.store import StageStore
from data_pipeline.teacher import Teacher, TeacherError

FREE_TEXT_KEYS = ("summary",)


def _clean(value: Any) -> Any:
  """Keeps only strings, lists of strings and objects of those; everything else is dropped."""
  if isinstance(value, str):
    return [value.strip()] if value.strip() else []
  if isinstance(value, list):
    return [v.strip() for v in value if isinstance(v, str) and v.strip()]
  if isinstance(value, dict):
    return {str(k).strip(): _clean(v) for k, v in value.items() if str(k).strip()}
  return []


def merge(a: Any, b: Any) -> Any:
  """Recursive union: lists become ordered sets (duplicates inside either side dropped too),
  a list meeting an object becomes its keys."""
  if a is None:
    a = [] if isinstance(b, list) else {}
  if isinstance(a, list) and isinstance(b, list):
    return list(dict.fromkeys(a + b))
  if isinstance(a, list):
    a, b = b, a
  if isinstance(b, list):
    b = {leaf: [] for leaf in b}
  merged = dict(a)
  for key, value in b.items():
    if key not in FREE_TEXT_KEYS:
      merged[key] = merge(merged.get(key), value)
  return merged


def count_leaves(node: Any) -> int:
  if isinstance(node, list):
    return len(node)
  if isinstance(node, dict):
    return sum(count_leaves(v) or 1 for v in node.values())
  return 0


def extract(teacher: Teacher, config, seed: Seed) -> tuple[list[dict], dict[str, int]]:
  """One teacher call per seed; the answer must name at least one known category."""
  messages = prompts.render(
    "feature_extraction", statement=seed.statement, solution=seed.solutions[0]
  )
  answer = parse_json_object(
    teacher.complete("feature_extraction", messages, dict(config.sampling)).text
  )
  features = {
    k: _clean(v) for k, v in answer.items() if k in FEATURE_CATEGORIES and k not in FREE_TEXT_KEYS
  }
  if not any(count_leaves(v) for v in features.values()):
    raise ParseError("no_known_categories")
  return [SeedFeatures(seed.id, features).to_json()], {}


def build_tree(extractions: list[dict]) -> dict[str, Any]:
  tree: dict[str, Any] = {}
  for extraction in extractions:
    tree = merge(tree, extraction["features"])
  return tree


def sample_small_subtree(
  tree: dict, rng: random.Random, max_groups: int = 2, max_children: int = 3
) -> dict:
  """A few categories with a few of their children: what one evolution call grows."""
  groups = sorted(k for k, v in tree.items() if count_leaves(v) and k != "programming_language")
  subtree = {}
  for group in rng.sample(groups, min(max_groups, len(groups))):
    node = tree[group]
    keys = list(node) if isinstance(node, (list, dict)) else []
    picked = rng.sample(keys, min(max_children, len(keys)))
    subtree[group] = {k: node[k] for k in picked} if isinstance(node, dict) else picked
  return subtree


def evolve(teacher: Teacher, config, tree: dict, work_dir: str) -> tuple[dict, StageReport]:
  """``config.steps`` sequential grow-and-merge steps; each step's answer is stored, so a
  resumed run re-merges the stored answers instead of asking again. A teacher outage stops
  at that step, unstored (``report.retriable``), so the next run continues from there."""
  store = StageStore(work_dir, "feature_evolution")
  report = StageReport("feature_evolution", num_in=count_leaves(tree))
  for step in range(config.steps):
    key = f"step-{step:05d}"
    if key not in store.entries:
      rng = random.Random(f"{config.seed}:evolve:{step}")
      subtree = sample_small_subtree(tree, rng)
      messages = prompts.render(
        "feature_evolution", subtree=json.dumps(subtree, indent=1, sort_keys=True)
      )
      try:
        answer = parse_json_object(
          teacher.complete("feature_evolution", messages, dict(config.sampling)).text
        )
        delta = {k: _clean(v) for k, v in answer.items() if k in subtree}
        store.add(key, [delta], {} if delta else {"off_subtree_answer": 1})
      except ParseError as error:
        store.add(key, [], {error.reason: 1})
      except TeacherError as error:
        if error.retriable:  # an outage: later steps grow this step's tree, so stop here
          report.retriable = config.steps - step
          break
        store.add(key, [], {"teacher_error": 1})
    entry = store.entries[key]
    report.drops.update(entry["drops"])
    for delta in entry["outputs"]:
      tree = merge(tree, delta)
  if not report.retriable:
    store.mark_complete()
  report.num_out = count_leaves(tree)
  return tree, report
