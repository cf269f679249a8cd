"""The settings each resumable stage's stored results were made with, kept next to them.

A rerun on the same output directory reuses every stored item, so a changed setting (more
candidates, another sampling temperature, another teacher model) would silently mix old and
new results. Each stage records ``work/<stage>.settings.json`` when it runs; before anything
runs, the current settings are compared with the recorded ones, and a stage that differs,
with every stage that consumes its results, is refused (naming the keys) or, with
``redo_changed``, moved to ``work/superseded/`` and redone. Only settings that shape results
are recorded: concurrency, timeouts, retries, worker counts and the server address are not.
"""

from __future__ import annotations

import json
import os
from typing import Any

from absl import logging

from data_pipeline.seeds import seed_patterns
from data_pipeline.teacher import teacher_identity
from xcoder_jax.fileio import write_json_atomic

# Stage -> (config sections that shape its results, stages whose results it consumes). A new
# stage that stores work (``run_items``/``StageStore``) must be listed here.
STAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
  "feature_extraction": (("seeds", "features"), ()),
  "feature_evolution": (("evolution",), ("feature_extraction",)),
  "task_generation": (("configs", "tasks"), ("feature_evolution",)),
  "solutions": (("solutions",), ("task_generation",)),
  "test_inputs": (("test_inputs",), ("task_generation",)),
  "verification": (("verify",), ("solutions", "test_inputs")),
  "seed_solutions": (("seeds", "solutions"), ()),
}
_NO_TEACHER = ("verification",)
_SUFFIXES = (".jsonl", ".done", ".settings.json")


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
  if isinstance(value, dict):
    flat = {}
    for key, child in value.items():
      flat.update(_flatten(child, f"{prefix}.{key}"))
    return flat
  return {prefix: value}


def current(config) -> dict[str, dict[str, Any]]:
  """Stage -> {dotted config key: value} as JSON would store it (tuples become lists)."""
  sections = {"seeds": seed_patterns(config.seeds), "teacher": teacher_identity(config.teacher)}
  settings = {}
  for stage, (names, _) in STAGES.items():
    flat = {}
    for name in names + (() if stage in _NO_TEACHER else ("teacher",)):
      value = sections[name] if name in sections else config[name].to_dict()
      flat.update(_flatten(value, name))
    settings[stage] = json.loads(json.dumps(flat, sort_keys=True))
  return settings


def _path(work_dir: str, stage: str, suffix: str = ".settings.json") -> str:
  return os.path.join(work_dir, stage + suffix)


def _differences(old: dict, new: dict) -> list[str]:
  missing = "(unset)"
  return [
    f"{key} {old.get(key, missing)!r} -> {new.get(key, missing)!r}"
    for key in sorted(set(old) | set(new))
    if old.get(key, missing) != new.get(key, missing)
  ]


def _consumers(stages: list[str]) -> list[str]:
  """``stages`` and, transitively, every stage built on their results, in pipeline order."""
  stale = set(stages)
  for stage, (_, inputs) in STAGES.items():  # STAGES is in pipeline order
    if stale.intersection(inputs):
      stale.add(stage)
  return [stage for stage in STAGES if stage in stale]


def check(work_dir: str, settings: dict[str, dict[str, Any]], redo: bool) -> list[str]:
  """Compares recorded with current settings; returns the stages moved aside for a redo.
  Without ``redo`` a difference raises ValueError naming each changed stage and key."""
  changed = {}
  for stage in STAGES:
    path = _path(work_dir, stage)
    if os.path.exists(path):
      with open(path) as f:
        differences = _differences(json.load(f), settings[stage])
      if differences:
        changed[stage] = differences
  if not changed:
    return []
  stale = [
    stage
    for stage in _consumers(list(changed))
    if any(os.path.exists(_path(work_dir, stage, suffix)) for suffix in _SUFFIXES)
  ]
  what = "; ".join(f"stage {stage}: {', '.join(keys)}" for stage, keys in changed.items())
  if not redo:
    raise ValueError(
      f"{work_dir} holds results made with other settings ({what}); reusing them would mix "
      f"old and new. Rerun with --config.redo_changed=True to redo {', '.join(stale)}, or use "
      "a new --output"
    )
  superseded = os.path.join(work_dir, "superseded")
  os.makedirs(superseded, exist_ok=True)
  for stage in stale:
    for suffix in _SUFFIXES:
      if os.path.exists(_path(work_dir, stage, suffix)):
        os.replace(_path(work_dir, stage, suffix), os.path.join(superseded, stage + suffix))
  logging.warning("settings changed (%s): redoing %s", what, ", ".join(stale))
  return stale


def record(work_dir: str, settings: dict[str, dict[str, Any]], stage: str) -> None:
  """Called as ``stage`` starts: from here on its stored results are made with these."""
  os.makedirs(work_dir, exist_ok=True)
  write_json_atomic(_path(work_dir, stage), settings[stage])
