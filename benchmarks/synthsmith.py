"""SynthSmith verification throughput on the demo (teacher time excluded).

Runs the demo once (replayed teacher) to get its tasks, candidates and test inputs, then times
dual verification of every task two ways, in the same process, on the same work:
  per-test   baseline: one judge submission per (candidate, test), so a sandbox and an
             interpreter start for every run;
  batched    ours: one submission per candidate holding all of its tests (one warm sandbox
             per candidate, a fork per test), all candidates of a task in one judge batch.
Both must produce the same output matrices. Prints a table, then ONE JSON line.

    .venv/bin/python benchmarks/synthsmith.py [--repeats 2]
"""

import json
import os
import sys
import tempfile
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs.synthsmith import demo  # noqa: E402
from data_pipeline import execute, pipeline, verify  # noqa: E402
from data_pipeline.records import Candidate, Task, TestInputs  # noqa: E402
from data_pipeline.stage import Dropped  # noqa: E402
from data_pipeline.store import StageStore  # noqa: E402
from xcoder_jax import judge as judge_lib  # noqa: E402

_REPEATS = flags.DEFINE_integer("repeats", 2, "Timed passes per method (the best is kept).")


def _load_work(run_dir):
  work = os.path.join(run_dir, "work")
  entries = lambda stage: [
    o for e in StageStore(work, stage).entries.values() for o in e["outputs"]
  ]
  candidates = {}
  for c in entries("solutions"):
    candidates.setdefault(c["task_id"], []).append(Candidate.from_json(c))
  inputs = {t["task_id"]: TestInputs.from_json(t) for t in entries("test_inputs")}
  tasks = [Task.from_json(t) for t in entries("task_generation") if t["id"] in inputs]
  return [(t, sorted(candidates[t.id], key=lambda c: c.index), inputs[t.id]) for t in tasks]


def _per_test(judge, task, candidates, inputs, config):
  batch = [
    execute.submission(
      c.code, [text], task.kind, task.fn_name, config.time_limit_s, config.memory_mb
    )
    for c in candidates
    for text in inputs
  ]
  flat = [execute.outputs(r)[0] for r in judge.run(batch)]
  rows = [flat[i * len(inputs) : (i + 1) * len(inputs)] for i in range(len(candidates))]
  return [[None if o is None else verify.normalize_output(o) for o in row] for row in rows]


def _batched(judge, task, candidates, inputs, config):
  return verify.run_candidates(judge, task, candidates, inputs, config)


def _measure(method, judge, work, config):
  start, matrices, verified, runs = time.perf_counter(), [], 0, 0
  for task, candidates, test_inputs in work:
    outputs = method(judge, task, candidates, test_inputs.inputs, config)
    matrices.append(outputs)
    runs += len(candidates) * len(test_inputs.inputs)
    try:
      verify.verify_outputs(outputs, config)
      verified += 1
    except Dropped:
      pass
  return time.perf_counter() - start, matrices, verified, runs


def main(argv):
  del argv
  config = demo.get_config()
  cores = os.cpu_count() or 1
  with tempfile.TemporaryDirectory() as run_dir:
    config.validate_on_seeds = False
    pipeline.run(config, run_dir)
    work = _load_work(run_dir)
  judge = judge_lib.Judge()
  results = {}
  for name, method in (("per-test", _per_test), ("batched", _batched)):
    best = None
    for _ in range(_REPEATS.value):
      measured = _measure(method, judge, work, config.verify)
      best = measured if best is None or measured[0] < best[0] else best
    results[name] = best
  assert results["per-test"][1] == results["batched"][1], "methods disagree on outputs"
  print(f"demo: {len(work)} tasks, {cores} cores, judge workers {judge.workers}")
  print(
    f"{'method':<10}{'seconds':>9}{'verified':>10}{'judge runs':>12}"
    f"{'runs/task':>11}{'tasks/core-h':>14}"
  )
  summary = {}
  for name, (seconds, _, verified, runs) in results.items():
    per_core_hour = verified / (seconds * cores) * 3600
    summary[name] = per_core_hour
    print(
      f"{name:<10}{seconds:>9.2f}{verified:>10}{runs:>12}{runs / verified:>11.1f}"
      f"{per_core_hour:>14.0f}"
    )
  seconds, _, verified, runs = results["batched"]
  print(
    json.dumps(
      {
        "verified_tasks_per_core_hour": round(summary["batched"], 1),
        "judge_runs_per_task": round(runs / verified, 2),
        "baseline_per_test_tasks_per_core_hour": round(summary["per-test"], 1),
        "speedup_vs_per_test": round(summary["batched"] / summary["per-test"], 2),
        "tasks": len(work),
        "verified": verified,
        "cores": cores,
      }
    )
  )


if __name__ == "__main__":
  app.run(main)
