"""Offline, seeded sampling of feature configurations (subtrees) from the evolved tree."""

from __future__ import annotations

import collections
import json
import random
from typing import Any

from data_pipeline.features import count_leaves
from data_pipeline.records import FeatureConfig
from data_pipeline.stage import StageReport


def _leaf_names(node: Any) -> list[str] | None:
  """The children of a node whose children are all leaves (a list, or an object whose values
  are all empty); None for a node with deeper children."""
  if isinstance(node, list):
    return node
  return sorted(node) if not any(node.values()) else None


def _sample_node(node: Any, shape: tuple[int, int, int], rng: random.Random):
  _, inner_k, leaf_k = shape
  leaves = _leaf_names(node)
  if leaves is not None:
    return sorted(rng.sample(leaves, min(leaf_k, len(leaves))))
  picked = rng.sample(sorted(node), min(inner_k, len(node)))
  return {k: _sample_node(node[k], shape, rng) if node[k] else [] for k in sorted(picked)}


def sample_subtree(tree: dict, shape: tuple[int, int, int], rng: random.Random) -> dict:
  """root_k categories (never programming_language), then inner_k children of every node
  with deeper children and leaf_k of every node whose children are all leaves.

  Leaves are counted by ``count_leaves``: the names in lists, plus keys with empty values.
  A sample therefore has at most root_k * inner_k**(depth - 2) * leaf_k leaves for a tree
  ``depth`` levels deep (category -> ... -> leaf), so the recipe's 25 needs trees at least
  four levels deep (3 * 3 * 3 * 1 = 27), which evolution grows (finer sub-features under
  leaves); seed extractions alone (category -> group -> leaves) give at most 24.
  """
  categories = sorted(k for k, v in tree.items() if k != "programming_language" and count_leaves(v))
  picked = rng.sample(categories, min(shape[0], len(categories)))
  sampled = {k: _sample_node(tree[k], shape, rng) for k in sorted(picked)}
  return {k: v for k, v in sampled.items() if count_leaves(v)}  # prune empty branches


def _most_leaves(node: Any, shape: tuple[int, int, int]) -> int:
  """The most leaves ``_sample_node`` can return for ``node`` (it keeps the best children)."""
  _, inner_k, leaf_k = shape
  leaves = _leaf_names(node)
  if leaves is not None:
    return min(leaf_k, len(leaves))
  counts = sorted((max(_most_leaves(v, shape), 1) if v else 1 for v in node.values()), reverse=True)
  return sum(counts[:inner_k])


def most_leaves(tree: dict, shape: tuple[int, int, int]) -> int:
  """The largest configuration ``sample_subtree`` can draw from ``tree`` with ``shape``."""
  counts = sorted(
    (
      _most_leaves(v, shape)
      for k, v in tree.items()
      if k != "programming_language" and count_leaves(v)
    ),
    reverse=True,
  )
  return sum(counts[: shape[0]])


def sample_configs(
  tree: dict, config, id_prefix: str = "cfg"
) -> tuple[list[FeatureConfig], StageReport]:
  """Draws until ``num_configs`` distinct subtrees with at least ``min_leaves`` leaves exist
  (or ``max_attempts`` draws were made). A tree too small for ``min_leaves`` is refused at
  once, naming the most it allows, instead of drawing ``max_attempts`` hopeless samples."""
  rng = random.Random(f"{config.seed}:configs")
  shapes = [tuple(shape) for shape in config.shapes]
  reachable = max(most_leaves(tree, shape) for shape in shapes)
  if config.num_configs and reachable < config.min_leaves:
    raise ValueError(
      f"configs.min_leaves={config.min_leaves} is out of reach: the evolved feature tree "
      f"({count_leaves(tree)} leaves) gives at most {reachable} per configuration with "
      f"configs.shapes={shapes}; lower configs.min_leaves or grow the tree (more seeds, more "
      "evolution.steps)"
    )
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
