"""Offline, seeded sampling of feature configurations (subtrees) from the evolved tree."""

from __future__ import annotations

import collections
import json
import random
from typing import Any

from data_pipeline.features import count_leaves
from data_pipeline.records import FeatureConfig
from data_pipeline.stage import StageReport


def _sample_node(node: Any, depth: int, shape: tuple[int, int, int], rng: random.Random):
  _, inner_k, leaf_k = shape
  if isinstance(node, list):
    return sorted(rng.sample(node, min(leaf_k if depth > 1 else inner_k, len(node))))
  keys = sorted(node)
  picked = rng.sample(keys, min(inner_k, len(keys)))
  sampled = {k: _sample_node(node[k], depth + 1, shape, rng) if node[k] else [] for k in picked}
  return dict(sorted(sampled.items()))


def sample_subtree(tree: dict, shape: tuple[int, int, int], rng: random.Random) -> dict:
  """root_k categories (never programming_language), inner_k children, leaf_k leaves."""
  categories = sorted(k for k, v in tree.items()
                      if k != "programming_language" and count_leaves(v))
  picked = rng.sample(categories, min(shape[0], len(categories)))
  sampled = {k: _sample_node(tree[k], 1, shape, rng) for k in sorted(picked)}
  return {k: v for k, v in sampled.items() if count_leaves(v)}  # prune empty branches


def sample_configs(tree: dict, config, id_prefix: str = "cfg"
                   ) -> tuple[list[FeatureConfig], StageReport]:
  """Draws until ``num_configs`` distinct subtrees with at least ``min_leaves`` leaves exist
  (or ``max_attempts`` draws were made)."""
  rng = random.Random(f"{config.seed}:configs")
  shapes = [tuple(shape) for shape in config.shapes]
  seen, configs, drops = set(), [], collections.Counter()
  attempts = 0
  while len(configs) < config.num_configs and attempts < config.max_attempts:
    attempts += 1
    subtree = sample_subtree(tree, rng.choice(shapes), rng)
    leaves = count_leaves(subtree)
    canonical = json.dumps(subtree, sort_keys=True)
    if leaves < config.min_leaves:
      drops["too_few_leaves"] += 1
    elif canonical in seen:
      drops["duplicate"] += 1
    else:
      seen.add(canonical)
      configs.append(FeatureConfig(f"{id_prefix}-{len(configs):05d}", subtree, leaves))
  return configs, StageReport("feature_configs", attempts, len(configs), drops)
