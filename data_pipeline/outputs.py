"""Final outputs: SFT, RL and DPO ArrayRecord shards, JSONL samples, report.json, funnel.png."""

from __future__ import annotations

import os

from data_pipeline.records import Task
from data_pipeline.solutions import solution_messages
from xcoder_jax import fileio
from xcoder_jax.data import shards


def sft_record(verified: dict) -> dict:
  """query = the solution prompt the teacher answered, response = the golden answer."""
  task = Task.from_json(verified["task"])
  return {
    "id": task.id,
    "query": solution_messages(task)[0]["content"],
    "response": verified["golden"]["response"],
    "metadata": {
      "source": "synthsmith",
      "style": task.style,
      "kind": task.kind,
      "title": task.title,
      "difficulty": verified["difficulty"],
    },
  }


def rl_record(verified: dict) -> dict:
  task = Task.from_json(verified["task"])
  return {
    "id": task.id,
    "prompt": solution_messages(task)[0]["content"],
    "kind": task.kind,
    "fn_name": task.fn_name,
    "style": task.style,
    "tests": [{"input": t["input"], "output": t["output"]} for t in verified["tests"]],
    "golden_solution": verified["golden"]["code"],
    "features": task.features,
    "difficulty": verified["difficulty"],
    "num_candidates": verified["num_candidates"],
  }


def write_datasets(verified: list[dict], output_dir: str, config, host_tag: str) -> dict:
  """Writes both datasets (replacing any earlier partial attempt); returns their manifests."""
  verified = sorted(verified, key=lambda v: v["task"]["id"])
  sft = [sft_record(v) for v in verified]
  rl = [rl_record(v) for v in verified]
  num_shards = max(1, min(config.num_shards, len(verified)))
  prefix = f"{host_tag}-" if host_tag else ""
  manifests = {
    "sft": shards.write_shards(
      sft, os.path.join(output_dir, "sft"), num_shards, prefix=f"{prefix}sft", overwrite=True
    ),
    # RL tasks are not SFT records: same atomic layout, without the SFT schema check.
    "rl": shards.write_shards(
      rl,
      os.path.join(output_dir, "rl"),
      num_shards,
      prefix=f"{prefix}rl",
      overwrite=True,
      extra_manifest={"kind": "rl"},
      sft_schema=False,
    ),
  }
  fileio.write_jsonl_atomic(os.path.join(output_dir, "sft_sample.jsonl"), sft[: config.sample_size])
  fileio.write_jsonl_atomic(os.path.join(output_dir, "rl_sample.jsonl"), rl[: config.sample_size])
  return manifests


def write_dpo(pairs: list[dict], output_dir: str, config, host_tag: str) -> dict:
  """DPO pairs (``data_pipeline/pairs.py`` schema) in the RL shards' layout; returns the
  manifest."""
  prefix = f"{host_tag}-" if host_tag else ""
  manifest = shards.write_shards(
    pairs,
    os.path.join(output_dir, "dpo"),
    max(1, min(config.num_shards, len(pairs))),
    prefix=f"{prefix}dpo",
    overwrite=True,
    extra_manifest={"kind": "dpo"},
    sft_schema=False,
  )
  fileio.write_jsonl_atomic(
    os.path.join(output_dir, "dpo_sample.jsonl"), pairs[: config.sample_size]
  )
  return manifest


def plot_funnel(funnel: list[dict], path: str) -> None:
  """Bars of records in/out per stage, annotated with the main drop reasons."""
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  names = [row["stage"] for row in funnel][::-1]
  fig, ax = plt.subplots(figsize=(11, 0.6 * len(names) + 1.5))
  positions = range(len(names))
  ax.barh(
    [p + 0.2 for p in positions], [r["in"] for r in funnel][::-1], 0.4, label="in", color="#9ecae1"
  )
  ax.barh(
    [p - 0.2 for p in positions],
    [r["out"] for r in funnel][::-1],
    0.4,
    label="out",
    color="#3182bd",
  )
  for p, row in zip(positions, funnel[::-1]):
    top = sorted(row["drops"].items(), key=lambda kv: -kv[1])[:3]
    text = ", ".join(f"{reason} {count}" for reason, count in top)
    ax.text(max(row["in"], row["out"]) * 1.01 + 0.1, p, text, va="center", fontsize=7)
  ax.set_yticks(list(positions), names)
  ax.set_xlabel("records (stage-specific unit: seeds, leaves, configs, tasks, candidates, pairs)")
  ax.set_title("SynthSmith funnel")
  ax.legend(loc="lower right")
  ax.set_xlim(right=ax.get_xlim()[1] * 1.6)
  fig.tight_layout()
  with fileio.atomic_write(path, "wb") as f:
    fig.savefig(f, format="png", dpi=110)
  plt.close(fig)
