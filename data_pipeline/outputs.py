"""Final outputs: SFT, RL and DPO ArrayRecord shards and JSONL samples per side of the split
(``DIR/{sft,rl,dpo}`` for training, ``DIR/heldout/{sft,rl,dpo}``), report.json, funnel.png."""

from __future__ import annotations

import os

from data_pipeline.records import Task
from data_pipeline.solutions import solution_messages
from xcoder_jax import fileio
from xcoder_jax.data import shards
from xcoder_jax.data import split as split_lib
from xcoder_jax.judge import languages as judge_languages


def split_dir(output_dir: str, split: str, kind: str) -> str:
  """``DIR/<kind>`` for the training side, ``DIR/heldout/<kind>`` for the held-out side: a
  tool pointed at ``DIR/sft`` (ours or anyone's) never sees a held-out record."""
  if split == split_lib.TRAIN:
    return os.path.join(output_dir, kind)
  return os.path.join(output_dir, split_lib.HELDOUT, kind)


def goldens(verified: dict) -> dict[str, dict]:
  """Language -> golden candidate of a verified task (outputs written before languages: the
  one golden, in its own language)."""
  if verified.get("goldens"):
    return verified["goldens"]
  golden = verified["golden"]
  return {golden.get("language", "python"): golden}


def sft_records(verified: dict, split: str) -> list[dict]:
  """One per language with a golden: query = the solution prompt the teacher answered in
  that language, response = that language's golden answer. A Python record's id is the
  task's; another language's adds ``:<language>``."""
  task = Task.from_json(verified["task"])
  return [
    {
      "id": task.id if language == "python" else f"{task.id}:{language}",
      "query": solution_messages(task, language)[0]["content"],
      "response": golden["response"],
      "split": split,
      "metadata": {
        "source": "synthsmith",
        "style": task.style,
        "kind": task.kind,
        "title": task.title,
        "difficulty": verified["difficulty"],
        "language": language,
      },
    }
    for language, golden in sorted(goldens(verified).items(), key=_table_order)
  ]


def _table_order(item: tuple[str, dict]) -> int:
  """Languages in the judge table's order: a record's place never depends on how a stored
  stage happened to order its keys."""
  return judge_languages.names().index(item[0])


def rl_record(verified: dict, split: str) -> dict:
  task = Task.from_json(verified["task"])
  return {
    "id": task.id,
    "prompt": solution_messages(task)[0]["content"],
    "statement": task.statement,
    "kind": task.kind,
    "fn_name": task.fn_name,
    "style": task.style,
    "tests": [{"input": t["input"], "output": t["output"]} for t in verified["tests"]],
    "golden_solution": verified["golden"]["code"],
    "golden_language": verified["golden"].get("language", "python"),
    "features": task.features,
    "difficulty": verified["difficulty"],
    "num_candidates": verified["num_candidates"],
    "source": "synthsmith",
    "split": split,
  }


def _write(records: list[dict], directory: str, config, prefix: str, kind: str, split: str):
  """One side of one dataset: shards (replacing any earlier attempt), manifest, sample."""
  manifest = shards.write_shards(
    records,
    directory,
    max(1, min(config.num_shards, len(records))),
    prefix=prefix,
    overwrite=True,
    extra_manifest={
      **({} if kind == "sft" else {"kind": kind}),
      "source": "synthsmith",
      "split": split,
      "split_rule": split_lib.RULE,
    },
    # RL tasks and DPO pairs are not SFT records: same atomic layout, without its check.
    sft_schema=kind == "sft",
  )
  sample = os.path.join(os.path.dirname(directory), f"{kind}_sample.jsonl")
  fileio.write_jsonl_atomic(sample, records[: config.sample_size])
  return manifest


def write_datasets(
  verified: list[dict], output_dir: str, config, host_tag: str, splits: dict
) -> dict[str, dict]:
  """Writes the SFT and RL datasets of each side of the split; returns their manifests by
  ``"<split>/<kind>"``."""
  verified = sorted(verified, key=lambda v: v["task"]["id"])
  prefix = f"{host_tag}-" if host_tag else ""
  manifests = {}
  for split in split_lib.SPLITS:
    side = [v for v in verified if splits[v["task"]["id"]].split == split]
    for kind, make in (("sft", sft_records), ("rl", lambda v, split: [rl_record(v, split)])):
      manifests[f"{split}/{kind}"] = _write(
        [record for v in side for record in make(v, split)],
        split_dir(output_dir, split, kind),
        config,
        f"{prefix}{kind}",
        kind,
        split,
      )
  return manifests


def write_dpo(pairs: list[dict], output_dir: str, config, host_tag: str) -> dict[str, dict]:
  """DPO pairs (``data_pipeline/pairs.py`` schema, each with its task's split) in the RL
  shards' layout, one directory per side; returns the manifests by split."""
  prefix = f"{host_tag}-" if host_tag else ""
  return {
    split: _write(
      [p for p in pairs if p["split"] == split],
      split_dir(output_dir, split, "dpo"),
      config,
      f"{prefix}dpo",
      "dpo",
      split,
    )
    for split in split_lib.SPLITS
  }


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
