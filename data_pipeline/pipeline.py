"""SynthSmith end to end: seeds -> features -> tree -> evolution -> configurations -> tasks ->
train/held-out split -> solutions -> test inputs -> dual verification -> decontamination ->
shards per side of the split and report.

Item stages run named jobs (``items``) on a runner: threads of this process by default, or
the nodes of a Ray cluster (``ray_runner``); either way this process stores each result as
it arrives. Item stages keep their completed items in ``OUTPUT/work/<stage>.jsonl`` (see
``store``), so a rerun on the same directory redoes nothing; the cheap global steps (tree
merge, sampling, the split, de-duplication, shard writing) are deterministic and simply
recomputed. A stage left with items a teacher outage kept from finishing stops the run there
(later stages would build on a partial input); the report names them and a rerun on the
same directory retries them. The teacher is checked once before its first stage, so an
unreachable one is one clear error.
Each item stage records the settings it ran with (``settings``): a rerun with other settings
is refused, or with ``redo_changed`` redoes the changed stages and those built on them.
"""

from __future__ import annotations

import collections
import os
import time

from data_pipeline import (
  dedup,
  feature_configs,
  features,
  outputs,
  settings,
  verify,
)
from data_pipeline import pairs as pairs_lib
from data_pipeline import seeds as seeds_lib
from data_pipeline import solutions as solutions_lib
from data_pipeline.items import ItemWork, verification_item
from data_pipeline.records import Candidate, Task
from data_pipeline.stage import LocalRunner, Runner, StageReport, run_items
from data_pipeline.teacher import TEACHERS, merge_usage
from xcoder_jax.data import split as split_lib
from xcoder_jax.fileio import write_json_atomic


def _by_task(records: list[dict]) -> dict[str, list[dict]]:
  grouped = collections.defaultdict(list)
  for record in records:
    grouped[record["task_id"]].append(record)
  return grouped


def validate_on_seeds(
  seed_list, work: ItemWork, runner: Runner, config, work_dir: str
) -> tuple[dict, StageReport]:
  """Dual verification on seeds with ground-truth tests: teacher candidates vote on the real
  inputs; reports test-label accuracy and the golden solution's full-pass rate."""
  with_tests = [s for s in seed_list if len(s.tests) >= 2]
  seed_tasks = [
    Task(f"seed-{s.id}", "", "codeforces", "stdio", None, s.id, s.statement, {}, {}).to_json()
    for s in with_tests
  ]
  settings.record(work_dir, settings.current(config), "seed_solutions")
  candidates, _ = run_items(
    "seed_solutions", work_dir, seed_tasks, lambda t: t["id"], "generate_solutions", runner
  )
  grouped = _by_task(candidates)
  correct = total = full_pass = scored = 0
  report = StageReport("seed_validation", num_in=len(with_tests))
  for seed, task_json in zip(with_tests, seed_tasks):
    cands = [Candidate.from_json(c) for c in grouped[task_json["id"]]]
    if len(cands) < config.verify.min_candidates:
      report.drops["too_few_candidates"] += 1
      continue
    outs = verify.run_candidates(
      work.judge, Task.from_json(task_json), cands, [t["input"] for t in seed.tests], config.verify
    )
    score = verify.score_against_truth(outs, [t["output"] for t in seed.tests], config.verify)
    correct, total = correct + score.labels_correct, total + score.labels_total
    full_pass, scored = full_pass + score.golden_full_pass, scored + 1
  report.num_out = scored
  return {
    "seeds_scored": scored,
    "labels_total": total,
    "test_label_accuracy": round(correct / total, 4) if total else None,
    "golden_full_pass_rate": round(full_pass / scored, 4) if scored else None,
  }, report


class _Unfinished(Exception):
  """A stage kept retriable items: the run stops with this partial report."""

  def __init__(self, path: str, result: dict):
    super().__init__(result["unfinished"]["stage"])
    self.path, self.result = path, result


def validate(config, output_dir: str) -> None:
  """Checks choices before any work starts: a misspelt name fails listing the valid ones, a
  seed list that names no file or an output path under a file fails naming them."""
  TEACHERS.check(config.teacher.backend, "teacher.backend")
  seeds_lib.seed_patterns(config.seeds)
  split_lib.check_settings(**config.split)
  solutions_lib.check_languages(config.solutions.languages)
  existing = os.path.abspath(output_dir)
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    raise NotADirectoryError(
      f"output directory {output_dir}: {existing} is a file; choose a directory path"
    )


def _no_seeds_message(patterns: list[str], report: StageReport, num_hosts: int) -> str:
  drops = ", ".join(f"{k}={v}" for k, v in sorted(report.drops.items())) or "none"
  where = f" in this host's slice of {num_hosts}" if num_hosts > 1 else ""
  return (
    f"no usable seeds: {report.num_in} records{where} in {patterns}, all dropped ({drops}); "
    "seeds need a statement and a Python solution"
  )


def _empty_tree_message(extraction: StageReport, work: str) -> str:
  drops = ", ".join(f"{k}={v}" for k, v in sorted(extraction.drops.items())) or "none"
  return (
    f"the feature tree is empty: feature extraction kept no features from {extraction.num_in} "
    f"seeds (drops: {drops}); the teacher's answers are in "
    f"{os.path.join(work, 'feature_extraction.jsonl')}"
  )


def run(
  config, output_dir: str, host_index: int = 0, num_hosts: int = 1, runner: Runner | None = None
) -> dict:
  """Runs (or resumes) every stage; returns the report also written to report.json.
  Items run on ``runner`` (default: threads of this process, ``teacher.concurrency``); the
  global steps run here. Raises ValueError for settings or inputs that cannot work and
  TeacherError when the teacher fails its check; a teacher outage later returns the report
  with ``unfinished``."""
  validate(config, output_dir)
  try:
    return _run(config, output_dir, host_index, num_hosts, runner)
  except _Unfinished as stop:
    write_json_atomic(stop.path, stop.result)
    return stop.result


def _usage(work: ItemWork, runner: Runner) -> dict[str, dict[str, int]]:
  """Teacher requests and tokens per stage, the driver's and the runner's workers' together."""
  usage = merge_usage(work.teacher.usage, runner.teacher_usage())
  return {stage: dict(c) for stage, c in sorted(usage.items())}


def _run(config, output_dir: str, host_index: int, num_hosts: int, runner: Runner | None) -> dict:
  """The stages in order; raises _Unfinished after a stage that kept retriable items."""
  host_tag = f"host{host_index:05d}of{num_hosts:05d}" if num_hosts > 1 else ""
  out = os.path.join(output_dir, host_tag) if host_tag else output_dir
  work = os.path.join(out, "work")
  stage_settings = settings.current(config)
  settings.check(work, stage_settings, config.redo_changed)

  def recorded(name):
    """The stage's name, once the settings it runs with are recorded."""
    settings.record(work, stage_settings, name)
    return name

  work_items = ItemWork(config)
  runner = runner or LocalRunner(work_items, config.teacher.concurrency)
  funnel, timings, started = [], {}, time.perf_counter()

  def timed(name, report):
    timings[name] = round(time.perf_counter() - started - sum(timings.values()), 3)
    funnel.append(report.to_json())
    if report.retriable:
      raise _Unfinished(
        os.path.join(out, "report.json"),
        {
          "funnel": funnel,
          "stage_seconds": timings,
          "verification": None,
          "ground_truth": None,
          "outputs": None,
          "unfinished": {
            "stage": name,
            "retriable": report.retriable,
            "action": "rerun with the same --output to retry them",
          },
          "teacher_usage": _usage(work_items, runner),
        },
      )

  patterns = seeds_lib.seed_patterns(config.seeds)
  seed_list, report = seeds_lib.read_seeds(patterns, host_index, num_hosts)
  if not seed_list:
    raise ValueError(_no_seeds_message(patterns, report, num_hosts))
  timed("seeds", report)
  teacher = work_items.teacher
  teacher.check()
  extractions, report = run_items(
    recorded("feature_extraction"),
    work,
    [s.to_json() for s in seed_list],
    lambda s: s["id"],
    "extract_features",
    runner,
  )
  timed("feature_extraction", report)
  tree = features.build_tree(extractions)
  if not features.count_leaves(tree):
    raise ValueError(_empty_tree_message(report, work))
  timed("feature_tree", StageReport("feature_tree", len(extractions), features.count_leaves(tree)))
  recorded("feature_evolution")
  tree, report = features.evolve(teacher, config.evolution, tree, work)
  write_json_atomic(os.path.join(work, "feature_tree.json"), tree)
  timed("feature_evolution", report)
  configs, report = feature_configs.sample_configs(tree, config.configs, f"{host_tag or 'cfg'}")
  timed("feature_configs", report)
  by_id = lambda item: item["id"]
  task_list, report = run_items(
    recorded("task_generation"),
    work,
    [c.to_json() for c in configs],
    by_id,
    "generate_task",
    runner,
  )
  timed("task_generation", report)
  splits = dedup.split_tasks(task_list, config.split, work)
  candidates, report = run_items(
    recorded("solutions"), work, task_list, by_id, "generate_solutions", runner
  )
  timed("solutions", report)
  inputs, report = run_items(
    recorded("test_inputs"), work, task_list, by_id, "generate_inputs", runner
  )
  timed("test_inputs", report)

  candidates_of, inputs_of = _by_task(candidates), _by_task(inputs)
  ready = [
    verification_item(t, candidates_of[t["id"]], inputs_of[t["id"]])
    for t in task_list
    if t["id"] in inputs_of
  ]
  judge_runs = sum(len(i["candidates"]) * len(i["inputs"]["inputs"]) for i in ready)
  verified, report = run_items(
    recorded("verification"), work, ready, lambda item: item["task"]["id"], "verify", runner
  )
  timed("verification", report)
  kept, report, contamination = dedup.decontaminate_and_dedup(verified, config.dedup)
  timed("dedup_decontam", report)
  contamination.update(dedup.decontamination_summary(report, kept, splits, config))
  manifests = outputs.write_datasets(kept, out, config.output, host_tag, splits)
  num_written = sum(m["num_records"] for name, m in manifests.items() if name.endswith("/sft"))
  timed("shards", StageReport("shards", len(kept), num_written))
  dpo = None
  if config.pairs.enabled:
    dpo = pairs_lib.make_pairs(
      kept, candidates, lambda: work_items.judge, config, out, host_tag, splits
    )
    timed(pairs_lib.STAGE, dpo.report)
  ground_truth = None
  if config.validate_on_seeds:
    ground_truth, report = validate_on_seeds(seed_list, work_items, runner, config, work)
    timed("seed_validation", report)
  result = {
    "funnel": funnel,
    "stage_seconds": timings,
    "verification": {
      "tasks_verified": len(verified),
      "judge_runs": judge_runs,
      "judge_runs_per_verified_task": round(judge_runs / len(verified), 2) if verified else None,
    },
    "ground_truth": ground_truth,
    "decontamination": contamination,
    "teacher_usage": _usage(work_items, runner),
    "outputs": {
      "sft_records": manifests["train/sft"]["num_records"],
      "rl_records": manifests["train/rl"]["num_records"],
      "sft_dir": outputs.split_dir(out, "train", "sft"),
      "rl_dir": outputs.split_dir(out, "train", "rl"),
      "heldout_records": manifests["heldout/rl"]["num_records"],
      "heldout_sft_dir": outputs.split_dir(out, "heldout", "sft"),
      "heldout_rl_dir": outputs.split_dir(out, "heldout", "rl"),
      **(dpo.outputs if dpo else {}),
    },
  }
  write_json_atomic(os.path.join(out, "report.json"), result)
  outputs.plot_funnel(funnel, os.path.join(out, "funnel.png"))
  return result
