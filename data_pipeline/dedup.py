"""The split, decontamination against benchmark statements, and near-duplicate removal.

``split_tasks`` gives every generated task its side (``xcoder_jax.data.split`` owns the
rule); ``decontaminate_and_dedup`` drops verified tasks that overlap a public benchmark or
repeat an earlier task; ``decontamination_summary`` counts what training lost to each, with
the thresholds used, for report.json and the command line.
"""

from __future__ import annotations

import collections
import os

from data_pipeline.stage import StageReport
from xcoder_jax.data import split as split_lib
from xcoder_jax.data.decontam import BenchmarkGrams
from xcoder_jax.fileio import write_json_atomic


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


def decontaminate_and_dedup(verified: list[dict], config) -> tuple[list[dict], StageReport, dict]:
  """Drops tasks sharing a ``contamination_ngram``-gram with a benchmark statement, then tasks
  whose word-shingle Jaccard similarity with an earlier kept task reaches the threshold.

  The pairwise near-duplicate pass is quadratic: fine for one host's tasks; a MinHash/LSH
  index would be needed for hundreds of thousands.
  """
  report = StageReport("dedup_decontam", num_in=len(verified))
  benchmarks = BenchmarkGrams(
    config.contamination_ngram, config.humaneval, config.livecodebench_files
  )
  kept, kept_shingles, contaminated = [], [], []
  for record in verified:
    statement = record["task"]["statement"]
    source = benchmarks.hit(statement)
    if source is not None:
      report.drops["contaminated"] += 1
      contaminated.append({"task": record["task"]["id"], "benchmark": source})
      continue
    shingles = split_lib.ngrams(statement, config.shingle_size)
    if any(
      len(shingles & other) / max(1, len(shingles | other)) >= config.near_duplicate_jaccard
      for other in kept_shingles
    ):
      report.drops["near_duplicate"] += 1
      continue
    kept.append(record)
    kept_shingles.append(shingles)
  report.num_out = len(kept)
  statements = {f"{name}_statements": n for name, n in benchmarks.statements.items()}
  return kept, report, {"benchmarks": statements, "contaminated": contaminated}


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
        f"{config.dedup.near_duplicate_jaccard}"
      ),
    },
  }
