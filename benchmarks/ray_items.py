"""How SynthSmith's items should run on Ray: one actor per node (ours) vs a Ray task per item.

The work is real: the demo's 54 verification items (every candidate on every test input in
the sandboxed judge), replayed from a demo run made first. On a two-node Ray cluster on this
machine (one CPU per node, loopback), in one run:
  local           LocalRunner: 2 threads of this process, one judge (no Ray; the reference)
  actors          RayRunner: one NodeWorker per node, 1 thread each, its judge kept warm
  tasks, cached   a Ray task per item (num_cpus=1); each worker process keeps its ItemWork
  tasks, fresh    a Ray task per item that builds its ItemWork (teacher, judge) per item,
                  as a stateless task would
All four must give the same results. Prints a table, then ONE JSON line.

    .venv/bin/python benchmarks/ray_items.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

from absl import app

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # the driver on loopback too

from configs.synthsmith import demo  # noqa: E402
from data_pipeline import pipeline  # noqa: E402
from data_pipeline.items import ItemWork, verification_item  # noqa: E402
from data_pipeline.ray_runner import RayRunner  # noqa: E402
from data_pipeline.stage import LocalRunner, run_safely  # noqa: E402
from data_pipeline.store import StageStore  # noqa: E402

_CACHED: dict[str, ItemWork] = {}


def _task_cached(config, item):
  work = _CACHED.setdefault("work", ItemWork(config, judge_workers=2))
  return run_safely(lambda i: work.run("verify", i), item)


def _task_fresh(config, item):
  work = ItemWork(config, judge_workers=2)
  try:
    return run_safely(lambda i: work.run("verify", i), item)
  finally:
    work.judge.close()


def verification_items(run_dir: str) -> list[dict]:
  stored = lambda stage: {  # noqa: E731
    key: entry["outputs"]
    for key, entry in StageStore(os.path.join(run_dir, "work"), stage).entries.items()
  }
  tasks, candidates, inputs = stored("task_generation"), stored("solutions"), stored("test_inputs")
  items = []
  for outputs in tasks.values():
    for task in outputs:
      if inputs.get(task["id"]):
        items.append(verification_item(task, candidates.get(task["id"], []), inputs[task["id"]]))
  return items


def timed(fn) -> tuple[float, list]:
  started = time.perf_counter()
  results = fn()
  return time.perf_counter() - started, results


def main(argv):
  del argv
  import ray
  from ray.cluster_utils import Cluster

  config = demo.get_config()
  run_dir = tempfile.mkdtemp(prefix="ray_items_")
  pipeline.run(config, run_dir)
  items = verification_items(run_dir)
  key = lambda item: item["task"]["id"]  # noqa: E731
  by_key = lambda pairs: {key(item): result for item, result in pairs}  # noqa: E731

  node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False}
  cluster = Cluster(initialize_head=True, head_node_args=node)
  cluster.add_node(**node)
  cluster.wait_for_nodes()
  ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
  rows = {}
  try:
    local = LocalRunner(ItemWork(config, judge_workers=2), concurrency=2)
    rows["local"] = timed(lambda: by_key(local.map("verify", items)))
    config.teacher.concurrency = 1
    with RayRunner(config) as runner:
      list(runner.map("verify", items[:2]))  # workers started and warm, as in a long run
      rows["actors"] = timed(lambda: by_key(runner.map("verify", items)))
    for name, fn in (("tasks, cached", _task_cached), ("tasks, fresh", _task_fresh)):
      task = ray.remote(num_cpus=1)(fn)
      ray.get([task.remote(config, item) for item in items[:2]])  # workers started
      rows[name] = timed(
        lambda task=task: dict(
          zip(map(key, items), ray.get([task.remote(config, i) for i in items]))
        )
      )
  finally:
    ray.shutdown()
    cluster.shutdown()
  reference = rows["local"][1]
  print(f"{len(items)} verification items; 2 one-CPU Ray nodes on this machine")
  print(f"{'':16s}{'seconds':>9s}{'items/s':>9s}{'ms/item':>9s}  same results")
  for name, (seconds, results) in rows.items():
    print(
      f"{name:16s}{seconds:9.2f}{len(items) / seconds:9.1f}{1000 * seconds / len(items):9.1f}"
      f"  {results == reference}"
    )
  actors_s, tasks_fresh_s = rows["actors"][0], rows["tasks, fresh"][0]
  print(
    json.dumps(
      {
        "benchmark": "ray_items",
        "items": len(items),
        "seconds": {name: round(s, 3) for name, (s, _) in rows.items()},
        "same_results": all(r == reference for _, r in rows.values()),
        "ours_items_per_s": round(len(items) / actors_s, 2),
        "baseline_items_per_s": round(len(items) / tasks_fresh_s, 2),
        "ratio": round(tasks_fresh_s / actors_s, 3),
      }
    )
  )


if __name__ == "__main__":
  app.run(main)
