"""DPO preference pairs from what dual verification already knows.

For one verified task, a candidate that passes EVERY verified test is preferred over one that
fails at least one. One pair record (JSON; ``OUT/dpo/`` shards and ``OUT/dpo_sample.jsonl``):

- ``id``: ``"{task_id}/{chosen_index}>{rejected_index}"`` (candidate indices)
- ``task_id``; ``prompt``: the user message the teacher answered (the SFT record's ``query``)
- ``chosen`` / ``rejected``: the two whole teacher responses
- ``chosen_pass_fraction`` (1.0) / ``rejected_pass_fraction`` (in [0, 1)) on the verified tests
- ``rejected_reason``: one of ``REASONS`` (``rejected_reason`` says how it is decided)
- ``split``: the task's side of the train/held-out split (``xcoder_jax.data.split``); the
  held-out side's pairs go to ``OUT/heldout/dpo``
- ``metadata``: ``{"source": "synthsmith", "style", "kind", "difficulty", "chosen_index",
  "rejected_index", "language"}``; both sides are in one language, the one ``prompt`` asks
  for (``no_pair_in_one_language`` counts tasks whose passing and failing candidates never
  share a language)

``build_pairs`` is pure (a verified task with its per-candidate outcomes, and the candidates'
responses). A task where no candidate fails can give no pair: it is counted in the funnel as
``no_failing_candidate``. An empty or whitespace-only response is never a side of a pair
(counted as ``candidate:empty_response``): it holds no code to prefer or reject, and an empty
completion gives the DPO loss nothing to learn from. ``pairs_only`` rebuilds the pairs of an
existing output directory from its stored stages, without the teacher and without verifying
again.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import json
import logging
import os
import random
from collections.abc import Callable, Sequence

from data_pipeline import dedup, outputs, verify
from data_pipeline.records import Candidate, Task
from data_pipeline.solutions import solution_messages
from data_pipeline.stage import StageReport
from data_pipeline.store import StageStore
from xcoder_jax.data import split as split_lib
from xcoder_jax.fileio import write_json_atomic

REASONS = ("wrong_answer", "runtime_error", "time_limit", "memory_limit", "no_code")
STAGE = "dpo_pairs"


def rejected_reason(results: Sequence[str]) -> str:
  """The failure that decides a rejected candidate: the most frequent failure kind over the
  verified tests; a tie goes to the kind seen first in test order."""
  failures = [r for r in results if r != verify.ACCEPTED]
  counts = collections.Counter(failures)
  return max(counts, key=lambda kind: (counts[kind], -failures.index(kind)))


def build_pairs(
  verified: dict, responses: dict[int, str], config, split: str
) -> tuple[list[dict], dict]:
  """The pairs of one verified task (``verified["candidates"]`` filled), each carrying the
  task's ``split``, and drop counts.

  Every (passing, failing) combination with a pass-fraction gap of at least
  ``config.min_gap`` is eligible; at most ``config.max_per_task`` are drawn with a generator
  seeded by ``config.seed`` and the task id, so a rerun draws the same ones.
  """
  drops = collections.Counter()
  outcomes = [o for o in verified["candidates"] if o["index"] in responses]
  judged = [o for o in outcomes if verify.JUDGE_ERROR not in o["results"]]
  drops["candidate:judge_error"] += len(outcomes) - len(judged)
  usable = [o for o in judged if responses[o["index"]].strip()]
  drops["candidate:empty_response"] += len(judged) - len(usable)
  chosen = [o for o in usable if all(r == verify.ACCEPTED for r in o["results"])]
  rejected = [o for o in usable if o not in chosen]
  eligible, seen, in_one_language = [], set(), False
  for good, bad in itertools.product(chosen, rejected):
    if _language(good) != _language(bad):
      continue  # a pair answers one prompt, which asks for one language
    in_one_language = True
    texts = (responses[good["index"]], responses[bad["index"]])
    if 1.0 - bad["pass_fraction"] < config.min_gap:
      drops["pair:small_gap"] += 1
    elif texts in seen:
      drops["pair:duplicate"] += 1
    else:
      seen.add(texts)
      eligible.append((good, bad))
  if not rejected:
    drops["no_failing_candidate"] += 1
  elif not chosen:
    drops["no_passing_candidate"] += 1
  elif not in_one_language:
    drops["no_pair_in_one_language"] += 1
  elif not eligible:
    drops["no_pair_above_gap"] += 1
  task = Task.from_json(verified["task"])
  rng = random.Random(f"{config.seed}:{task.id}")
  picked = rng.sample(eligible, min(config.max_per_task, len(eligible)))
  drops["pair:over_cap"] += len(eligible) - len(picked)
  picked.sort(key=lambda pair: (pair[0]["index"], pair[1]["index"]))
  prompts = {
    language: solution_messages(task, language)[0]["content"]
    for language in {_language(good) for good, _ in picked}
  }
  records = [
    {
      "id": f"{task.id}/{good['index']}>{bad['index']}",
      "task_id": task.id,
      "prompt": prompts[_language(good)],
      "chosen": responses[good["index"]],
      "rejected": responses[bad["index"]],
      "chosen_pass_fraction": 1.0,
      "rejected_pass_fraction": float(bad["pass_fraction"]),
      "rejected_reason": rejected_reason(bad["results"]),
      "split": split,
      "metadata": {
        "source": "synthsmith",
        "style": task.style,
        "kind": task.kind,
        "difficulty": verified["difficulty"],
        "chosen_index": good["index"],
        "rejected_index": bad["index"],
        "language": _language(good),
      },
    }
    for good, bad in picked
  ]
  return records, dict(+drops)


def _language(outcome: dict) -> str:
  return outcome.get("language", "python")  # outcomes written before languages: Python


def with_outcomes(
  verified: dict, candidates: list[dict], judge_of: Callable[[], object], config
) -> dict:
  """``verified`` with its per-candidate outcomes; outputs written before verification kept
  them are graded again on the verified tests (judge only: no teacher, no new vote)."""
  if verified.get("candidates") is not None:
    return verified
  outcomes = verify.grade_candidates(
    judge_of(),
    Task.from_json(verified["task"]),
    [Candidate.from_json(c) for c in candidates],
    verified["tests"],
    config.verify,
  )
  return {**verified, "candidates": outcomes}


@dataclasses.dataclass
class PairsResult:
  report: StageReport
  outputs: dict  # report.json "outputs" entries: dpo_records, dpo_dir
  regraded: int  # tasks graded again (outputs written before outcomes were kept)


def make_pairs(
  kept: list[dict],
  candidates: list[dict],
  judge_of: Callable[[], object],
  config,
  out: str,
  host_tag: str,
  splits: dict,
) -> PairsResult:
  """Pairs of every kept task, written per side of the split as ``out/dpo`` and
  ``out/heldout/dpo`` shards with their ``dpo_sample.jsonl``."""
  by_task = collections.defaultdict(list)
  for candidate in candidates:
    by_task[candidate["task_id"]].append(candidate)
  report = StageReport(STAGE, num_in=len(kept))
  records, regraded = [], 0
  for verified in sorted(kept, key=lambda v: v["task"]["id"]):
    task_candidates = by_task[verified["task"]["id"]]
    regraded += verified.get("candidates") is None
    verified = with_outcomes(verified, task_candidates, judge_of, config)
    responses = {c["index"]: c["response"] for c in task_candidates}
    split = splits[verified["task"]["id"]].split
    task_pairs, drops = build_pairs(verified, responses, config.pairs, split)
    records += task_pairs
    report.drops.update(drops)
  if regraded:
    logging.warning(
      "dpo_pairs: %d verified tasks predate per-candidate outcomes; their candidates were "
      "graded again on the verified tests (judge only: no teacher calls, no re-verification)",
      regraded,
    )
  report.num_out = len(records)
  manifests = outputs.write_dpo(records, out, config.output, host_tag)
  dpo_outputs = {
    "dpo_records": manifests[split_lib.TRAIN]["num_records"],
    "dpo_dir": outputs.split_dir(out, split_lib.TRAIN, "dpo"),
    "heldout_dpo_records": manifests[split_lib.HELDOUT]["num_records"],
    "heldout_dpo_dir": outputs.split_dir(out, split_lib.HELDOUT, "dpo"),
  }
  return PairsResult(report, dpo_outputs, regraded)


def pairs_only(config, output_dir: str, host_index: int = 0, num_hosts: int = 1) -> dict:
  """Rebuilds the pairs of a finished run from its stored solutions and verification (and
  the same deterministic de-duplication), then updates its report.json."""
  host_tag = f"host{host_index:05d}of{num_hosts:05d}" if num_hosts > 1 else ""
  out = os.path.join(output_dir, host_tag) if host_tag else output_dir
  work = os.path.join(out, "work")
  report_path = os.path.join(out, "report.json")
  if not os.path.exists(os.path.join(work, "verification.done")) or not os.path.exists(report_path):
    raise FileNotFoundError(
      f"{out} holds no finished SynthSmith run (report.json and a complete verification "
      "stage); run the pipeline there first, without --pairs_only"
    )
  stores = {
    name: StageStore(work, name) for name in ("task_generation", "solutions", "verification")
  }
  tasks, candidates, verified = (
    [o for entry in store.entries.values() for o in entry["outputs"]] for store in stores.values()
  )
  splits = dedup.split_tasks(tasks, config.split, work)
  kept, _, _ = dedup.decontaminate_and_dedup(verified, config.dedup)
  # Started only for outputs that predate per-candidate outcomes.
  judge_of = functools.cache(lambda: verify.judge_from_config(config))
  result = make_pairs(kept, candidates, judge_of, config, out, host_tag, splits)
  with open(report_path) as f:
    report = json.load(f)
  stages = [row["stage"] for row in report["funnel"]]
  row = result.report.to_json()
  if STAGE in stages:  # the pairs' row keeps its place after the shards
    report["funnel"][stages.index(STAGE)] = row
  else:
    report["funnel"].insert(stages.index("shards") + 1 if "shards" in stages else len(stages), row)
  report["outputs"] = {**(report.get("outputs") or {}), **result.outputs}
  report["dpo_regraded_tasks"] = result.regraded
  write_json_atomic(report_path, report)
  outputs.plot_funnel(report["funnel"], os.path.join(out, "funnel.png"))
  return report
