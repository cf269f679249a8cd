"""The one train / held-out split of synthetic tasks, decided where SynthSmith makes them.

Every SynthSmith task is ``split: "train"`` or ``split: "heldout"``, and every record made
from it (SFT example, RL task, DPO pair) carries the field. No other module computes a split:
trainers skip held-out records unless told otherwise (``keeps``), evaluation reads only them.
Records without the field (external data such as X-Coder's released Parquet) are training
data; evaluation of other benchmarks does not depend on it.

The rule (``assign``, named by ``RULE``):

1. A task's draw is the SHA-256 of its normalised statement (lower-case words joined by one
   space) read as a number in [0, 1); the task is held out when the draw is below
   ``heldout_fraction``. The draw depends on the statement alone: not on its id (ids are
   sampling order and a later run can reuse them), not on which other tasks exist.
2. A task drawn for training whose statement is a near-duplicate of a held-out one joins the
   held-out side, naming that task. Near-duplicate: at least ``near_duplicate_overlap`` of
   the shorter statement's word ``ngram``-grams also occur in the other (the overlap
   coefficient, which a statement wrapped in extra text cannot escape the way it escapes
   Jaccard similarity). SynthSmith's tasks come from feature configurations sampled from one
   tree merged over all seeds, so no task descends from a single seed: similarity, not seed
   lineage, is what groups paraphrases here.

So adding tasks never moves a held-out task to training, and moves a training task to the
held-out side only when an added held-out task is its near-duplicate (the grouping itself).
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import math
import os
import re
import threading
from collections.abc import Mapping
from typing import Any

FIELD = "split"
TRAIN = "train"
HELDOUT = "heldout"
SPLITS = (TRAIN, HELDOUT)
RULE = "sha256(normalised statement) < heldout_fraction, near-duplicates of held-out tasks joined"
_SALT = b"xcoder-jax split v1\0"
_WORD = re.compile(r"[a-z0-9]+")


class SplitError(ValueError):
  """A record or dataset that breaks the split's rules; the message names the fix."""


def words(text: str) -> list[str]:
  """Lower-case alphanumeric words: what every n-gram comparison here is made of."""
  return _WORD.findall(text.lower())


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
  """The distinct word n-grams of ``text`` (a text shorter than n words has none)."""
  tokens = words(text)
  return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def draw(statement: str) -> float:
  """The task's position in [0, 1): a hash of its normalised statement."""
  digest = hashlib.sha256(_SALT + " ".join(words(statement)).encode()).digest()
  return int.from_bytes(digest[:8], "big") / 2**64


class OverlapIndex:
  """Sets of items (word n-grams, code lines) by key, for exact overlap lookups against all
  of them at once.

  Exact, not MinHash: an exact answer keeps the split and the leak check free of sampling
  error. Fast at dataset scale by prefix filtering (as in set-similarity joins): order all
  items by how many indexed sets hold them, rarest first; if a set X of size s shares at
  least k items with another, its first s - k + 1 items include one of them. So a lookup
  needs only the postings of rare items, never those of the boilerplate every statement
  shares, and each candidate is then counted exactly.
  """

  def __init__(self):
    self._sets: dict[str, frozenset] = {}
    self._keys_of: dict[Any, list[str]] = collections.defaultdict(list)
    self._prefixes: dict[float, dict[Any, list[str]]] = {}  # threshold -> item -> keys

  def add(self, key: str, items: set) -> None:
    if key in self._sets or not items:
      return
    self._sets[key] = frozenset(items)
    for item in items:
      self._keys_of[item].append(key)
    self._prefixes.clear()  # the rarity order changed

  def _prefix(self, items, at_least: float) -> list:
    """The rarest items a set must share one of to reach ``at_least`` of its size (one
    more than the bound needs, so float rounding never drops a match)."""
    order = sorted(items, key=lambda item: (len(self._keys_of.get(item, ())), item))
    return order[: len(order) - math.ceil(at_least * len(order)) + 2]

  def _prefix_index(self, at_least: float) -> dict[Any, list[str]]:
    if at_least not in self._prefixes:
      index = collections.defaultdict(list)
      for key in sorted(self._sets):
        for item in self._prefix(self._sets[key], at_least):
          index[item].append(key)
      self._prefixes[at_least] = index
    return self._prefixes[at_least]

  def best_match(
    self, items: set, at_least: float, contained: bool = False
  ) -> tuple[str | None, float]:
    """(key, share) of the indexed set sharing the largest share with ``items`` (ties: the
    smallest key) when that share is at least ``at_least`` (> 0); else (None, 0.0). The
    share is of the smaller set (the overlap coefficient), or with ``contained`` of the
    indexed set (how much of it ``items`` contains)."""
    if not 0 < at_least <= 1:
      raise ValueError(f"at_least must be in (0, 1], got {at_least!r}")
    prefix_index = self._prefix_index(at_least)
    candidates = {key for item in items for key in prefix_index.get(item, ())}
    if not contained:  # the smaller set may be ``items``: its own prefix meets the other
      prefix = self._prefix(items, at_least)
      candidates.update(key for item in prefix for key in self._keys_of.get(item, ()))
    best, score = None, 0.0
    for key in sorted(candidates):
      other = self._sets[key]
      size = len(other) if contained else min(len(items), len(other))
      share = len(other.intersection(items)) / size
      if share > score:
        best, score = key, share
    return (best, score) if score >= at_least else (None, 0.0)


@dataclasses.dataclass(frozen=True)
class Assignment:
  split: str
  reason: str  # "draw" or "near_duplicate_of:<task id>"
  overlap: float = 0.0  # with that task, for near-duplicates

  def to_json(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


def check_settings(heldout_fraction: float, ngram: int, near_duplicate_overlap: float) -> None:
  """Refuses split settings that cannot work, naming the key (before any work is done)."""
  if not 0 <= heldout_fraction < 1:
    raise SplitError(f"split.heldout_fraction must be in [0, 1), got {heldout_fraction!r}")
  if not 0 < near_duplicate_overlap <= 1 or ngram < 1:
    raise SplitError(
      f"split.near_duplicate_overlap must be in (0, 1] and split.ngram >= 1, got "
      f"{near_duplicate_overlap!r} and {ngram!r}"
    )


def assign(
  statements: Mapping[str, str],
  heldout_fraction: float,
  ngram: int,
  near_duplicate_overlap: float,
) -> dict[str, Assignment]:
  """The split of every task (id -> statement), by the rule in the module docstring."""
  check_settings(heldout_fraction, ngram, near_duplicate_overlap)
  drawn = {tid: draw(text) < heldout_fraction for tid, text in statements.items()}
  index = OverlapIndex()
  for tid in sorted(statements):
    if drawn[tid]:
      index.add(tid, ngrams(statements[tid], ngram))
  result = {}
  for tid, text in statements.items():
    if drawn[tid]:
      result[tid] = Assignment(HELDOUT, "draw")
      continue
    match, overlap = index.best_match(ngrams(text, ngram), near_duplicate_overlap)
    if match is not None and overlap >= near_duplicate_overlap:
      result[tid] = Assignment(HELDOUT, f"near_duplicate_of:{match}", round(overlap, 4))
    else:
      result[tid] = Assignment(TRAIN, "draw")
  return result


def split_of(record: Mapping[str, Any], where: str = "record") -> str | None:
  """The record's split, None when it has none; refuses any other value."""
  value = record.get(FIELD)
  if value is not None and value not in SPLITS:
    raise SplitError(f"{where}: field {FIELD!r} is {value!r}; it must be one of {SPLITS}")
  return value


def from_synthsmith(record: Mapping[str, Any]) -> bool:
  """Made by SynthSmith: a top-level or metadata ``source`` saying so, or (RL tasks written
  before RL records named their source) SynthSmith's own ``num_candidates`` field."""
  metadata = record.get("metadata")
  return (
    record.get("source") == "synthsmith"
    or (isinstance(metadata, Mapping) and metadata.get("source") == "synthsmith")
    or "num_candidates" in record
  )


MIGRATE = (
  "rerun python -m launch.synthsmith with the same --config and --output: it reuses every "
  "stored teacher answer and judge vote and rewrites the outputs with the split field"
)


def keeps(
  record: Mapping[str, Any], role: str, allow_heldout: bool = False, where: str = ""
) -> bool:
  """Whether a consumer in ``role`` ("train" or "eval") uses the record.

  Training skips held-out records (``allow_heldout`` trains on them anyway: the caller logs
  it loudly); evaluation skips training records. A record without the field is data for
  whichever role reads it, except SynthSmith's, which always has one: a SynthSmith record
  without it predates the split and is refused with the command that adds it.
  """
  split = split_of(record, where or "record")
  if split is None and from_synthsmith(record):
    rid = record.get("id", "?")
    raise SplitError(
      f"{where or 'record'} (id {rid!r}) is SynthSmith output written before the train/held-out "
      f"split existed; {MIGRATE}"
    )
  if role == TRAIN:
    return split != HELDOUT or allow_heldout
  if role == "eval":
    return split != TRAIN
  raise ValueError(f"role must be 'train' or 'eval', got {role!r}")


def check_manifests(files: list[str], role: str, allow_heldout: bool, what: str) -> None:
  """Refuses, before anything is read, shards whose manifests all say they hold only the
  side of the split that ``role`` skips (SynthSmith writes each side to its own directory
  and names it in the manifest); records are still filtered one by one as they are read."""
  skipped = HELDOUT if role == TRAIN else TRAIN
  if role == TRAIN and allow_heldout:
    return
  sides = set()
  for directory in sorted({os.path.dirname(os.path.abspath(f)) for f in files}):
    try:
      with open(os.path.join(directory, "manifest.json")) as f:
        sides.add(json.load(f).get(FIELD))
    except (OSError, ValueError):
      return  # no (readable) manifest: the records decide
  if sides == {skipped}:
    raise SplitError(_nothing_left(role, what, "the records"))


def shard_filter(
  paths: list[str], source, decode, role: str, allow_heldout: bool, what: str
) -> SplitFilter:
  """The filter of one set of shards (``source[i]`` raw, ``decode`` it to a record): their
  manifests are checked before anything is read, and the first record now, so that shards
  predating the split fail at the start rather than mid-step."""
  check_manifests(paths, role, allow_heldout, what)
  keep = SplitFilter(role, len(source), what, allow_heldout)
  keep(decode(source[0]))
  return keep


def _nothing_left(role: str, what: str, records: str) -> str:
  """Why nothing is left for ``role`` to read, and the setting that changes it."""
  if role == TRAIN:
    return (
      f"{what}: {records} are held out (split 'heldout'), nothing is left to train on; point "
      "data.train_files at training data (SynthSmith's DIR/sft, DIR/rl or DIR/dpo), or set "
      "data.train_on_heldout=True to train on them anyway"
    )
  return (
    f"{what}: {records} of data.eval_files are training records (split 'train'); point "
    "data.eval_files at held-out data (SynthSmith's DIR/heldout/...)"
  )


def warn_training_on_heldout(what: str) -> None:
  """The loud line of every consumer told to train on held-out records."""
  from absl import logging

  logging.warning(
    "%s: TRAINING ON HELD-OUT RECORDS (data.train_on_heldout=True); an evaluation of this "
    "model on SynthSmith's held-out split is contaminated",
    what,
  )


class SplitFilter:
  """``keeps`` over a stream of records (a predicate for Grain's ``filter``) that ends an
  endless stream of skipped ones: once every one of the ``num_records`` records has been
  skipped since the last one kept, it raises ``SplitError`` naming the setting to change.
  Training with ``allow_heldout`` logs that loudly, once."""

  def __init__(self, role: str, num_records: int, what: str, allow_heldout: bool = False):
    self.role, self.num_records, self.what = role, num_records, what
    self.allow_heldout = allow_heldout
    self._skipped: set[str] = set()
    self._lock = threading.Lock()  # Grain may apply the predicate from several threads
    if allow_heldout and role == TRAIN:
      warn_training_on_heldout(what)

  def __call__(self, record: Mapping[str, Any]) -> bool:
    kept = keeps(record, self.role, self.allow_heldout, self.what)
    with self._lock:
      if kept:
        self._skipped.clear()
      else:
        self._skipped.add(str(record.get("id")))
        if len(self._skipped) >= self.num_records:
          raise SplitError(_nothing_left(self.role, self.what, f"all {self.num_records} records"))
    return kept
