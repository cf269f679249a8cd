"""The split, decontamination against benchmark statements, and near-duplicate removal.

``split_tasks`` gives every generated task its side (``xcoder_jax.data.split`` owns the
rule); ``decontaminate_and_dedup`` drops verified tasks that overlap a public benchmark or
repeat an earlier task (MinHash/LSH over the whole run, ``NearDuplicateIndex``);
``decontamination_summary`` counts what training lost to each, with the thresholds used,
for report.json and the command line.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import os

import numpy as np

from data_pipeline.stage import StageReport
from xcoder_jax.data import split as split_lib
from xcoder_jax.data.decontam import BenchmarkGrams
from xcoder_jax.fileio import write_json_atomic

MINHASH_PERMUTATIONS = 128
_MIX = 0x100000001B3  # FNV-1a's 64-bit prime: mixes a window's word hashes in order


def split_tasks(tasks: list[dict], config, work: str) -> dict[str, split_lib.Assignment]:
  """Every task's split (recomputed each run: a pure function of the statements), also
  written to ``work/splits.json`` with the settings it was made with."""
  assignments = split_lib.assign(
    {task["id"]: task["statement"] for task in tasks},
    config.heldout_fraction,
    config.ngram,
    config.near_duplicate_overlap,
  )
  write_json_atomic(
    os.path.join(work, "splits.json"),
    {
      "rule": split_lib.RULE,
      "settings": config.to_dict(),
      "tasks": {tid: a.to_json() for tid, a in sorted(assignments.items())},
    },
  )
  return assignments


class NearDuplicateIndex:
  """Near-duplicate removal at dataset scale: a task repeats a kept one when the Jaccard
  similarity of their word-shingle sets reaches ``threshold``.

  Candidates come from MinHash signatures with LSH banding (datasketch: maintained, numpy
  vectorised, its band/row choice minimises a weighted error at the threshold; datatrove's
  implementation is built around its own sharded executor, which SynthSmith does not use),
  weighted towards recall; each candidate is then confirmed by the exact Jaccard similarity
  of the two shingle sets (64-bit hashes of the shingles, kept sorted), so LSH never drops a
  task that is not a near-duplicate. The cost is one signature and one LSH lookup per task,
  instead of a comparison with every kept task.
  """

  def __init__(self, shingle_size: int, threshold: float, num_perm: int = MINHASH_PERMUTATIONS):
    import datasketch  # lazily: only this step uses it

    self.shingle_size, self.threshold = shingle_size, threshold
    self._lsh = datasketch.MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(0.1, 0.9))
    self._minhash = functools.partial(
      datasketch.MinHash,
      num_perm=num_perm,
      scheme="affine64",
      hashfunc=_as_is,
      permutations=datasketch.MinHash(num_perm=num_perm, scheme="affine64").permutations,
    )
    self._shingles: dict[str, np.ndarray] = {}
    self._word_hashes: dict[str, int] = {}

  def shingles(self, text: str) -> np.ndarray:
    """The sorted distinct 64-bit hashes of the text's word ``shingle_size``-grams: a stable
    hash of each word (the same on every machine and run), mixed along the window."""
    hashes = []
    for word in split_lib.words(text):
      value = self._word_hashes.get(word)
      if value is None:
        value = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        self._word_hashes[word] = value
      hashes.append(value)
    n = self.shingle_size
    if len(hashes) < n:
      return np.empty(0, np.uint64)
    words = np.array(hashes, np.uint64)
    mixed = np.zeros(len(words) - n + 1, np.uint64)
    for offset in range(n):
      mixed = mixed * np.uint64(_MIX) + words[offset : len(words) - n + 1 + offset]
    return np.unique(mixed)

  def duplicate_of(self, key: str, text: str) -> str | None:
    """The kept task ``text`` repeats (the smallest key among those that reach the
    threshold), or None: then it is kept and indexed under ``key``."""
    shingles = self.shingles(text)
    if not shingles.size:
      return None  # too short to compare: kept, as the pairwise rule kept it
    signature = self._minhash()
    signature.update_batch(shingles)
    for other in sorted(self._lsh.query(signature)):
      shared = np.intersect1d(shingles, self._shingles[other], assume_unique=True).size
      if shared / (shingles.size + self._shingles[other].size - shared) >= self.threshold:
        return other
    self._lsh.insert(key, signature)
    self._shingles[key] = shingles
    return None


def _as_is(value):
  return value


def decontaminate_and_dedup(verified: list[dict], config) -> tuple[list[dict], StageReport, dict]:
  """Drops tasks sharing a ``contamination_ngram``-gram with a benchmark statement, then tasks
  whose word-shingle Jaccard similarity with an earlier kept task reaches the threshold
  (``NearDuplicateIndex``). All tasks of the run are compared, in their pipeline order, so
  the task kept of a group is the same whichever workers made them."""
  report = StageReport("dedup_decontam", num_in=len(verified))
  benchmarks = BenchmarkGrams(
    config.contamination_ngram, config.humaneval, config.livecodebench_files
  )
  index = NearDuplicateIndex(config.shingle_size, config.near_duplicate_jaccard)
  kept, contaminated = [], []
  per_benchmark: collections.Counter = collections.Counter()
  for record in verified:
    statement = record["task"]["statement"]
    source = benchmarks.hit(statement)
    if source is not None:
      report.drops["contaminated"] += 1
      per_benchmark[source.split(":")[0]] += 1
      contaminated.append({"task": record["task"]["id"], "benchmark": source})
      continue
    if index.duplicate_of(record["task"]["id"], statement) is not None:
      report.drops["near_duplicate"] += 1
      continue
    kept.append(record)
  report.num_out = len(kept)
  statements = {f"{name}_statements": n for name, n in benchmarks.statements.items()}
  removed = {name: per_benchmark[name] for name in benchmarks.statements}
  return (
    kept,
    report,
    {"benchmarks": statements, "removed_per_benchmark": removed, "contaminated": contaminated},
  )


def decontamination_summary(
  report: StageReport, kept: list[dict], splits: dict[str, split_lib.Assignment], config
) -> dict:
  """What the training outputs lost, and why: held out by the draw, held out as a
  near-duplicate of a held-out task, overlapping a public benchmark, or repeating a task."""
  heldout = [v for v in kept if splits[v["task"]["id"]].split == split_lib.HELDOUT]
  why = collections.Counter(splits[v["task"]["id"]].reason.split(":")[0] for v in heldout)
  return {
    "verified_tasks": report.num_in,
    "training_tasks": len(kept) - len(heldout),
    "heldout_tasks": len(heldout),
    "removed_from_training": {
      "heldout": why["draw"],
      "near_duplicate_of_heldout": why["near_duplicate_of"],
      "benchmark_overlap": report.drops.get("contaminated", 0),
      "near_duplicate_task": report.drops.get("near_duplicate", 0),
    },
    "thresholds": {
      "heldout_fraction": config.split.heldout_fraction,
      "heldout_near_duplicate": (
        f"overlap coefficient of word {config.split.ngram}-grams >= "
        f"{config.split.near_duplicate_overlap}"
      ),
      "benchmark_overlap": f"any shared word {config.dedup.contamination_ngram}-gram",
      "near_duplicate_task": (
        f"Jaccard of word {config.dedup.shingle_size}-grams >= "
        f"{config.dedup.near_duplicate_jaccard} (MinHash/LSH candidates, confirmed exactly)"
      ),
    },
  }
