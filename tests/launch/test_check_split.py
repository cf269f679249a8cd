"""One split from SynthSmith to evaluation: every consumer reads the same held-out tasks, the
leak check finds none in SynthSmith's training outputs and catches a planted one, and
make_shards removes what the check would flag."""

import json
import os

import pytest

from configs.dpo.tiny import DEMO_PAIRS
from xcoder_jax.data import decontam, rl, shards
from xcoder_jax.eval import load_benchmark


def _heldout_ids(out: str) -> set[str]:
  verified = {r["id"] for r in rl_records(os.path.join(out, "rl"))}
  verified |= {r["id"] for r in rl_records(os.path.join(out, "heldout", "rl"))}
  splits = json.load(open(os.path.join(out, "work", "splits.json")))["tasks"]
  return {tid for tid in verified if splits[tid]["split"] == "heldout"}


def rl_records(spec: str) -> list[dict]:
  return list(decontam.read_records(shards.shard_files(spec)))


def _ids(iterator, limit: int = 100) -> set[str]:
  return {record["id"] for batch, _ in zip(iterator, range(limit)) for record in batch}


@pytest.mark.slow
def test_every_consumer_reads_one_split(demo_run):
  out, _ = demo_run
  held = _heldout_ids(out)
  assert len(held) >= 10
  assert {p.question_id for p in load_benchmark("synthsmith", out).problems} == held
  trained = rl.make_prompt_iterator(os.path.join(out, "rl"), 4, 0, 0, 0, 1)
  assert _ids(trained) and not _ids(trained) & held
  heldout_rl = os.path.join(out, "heldout", "rl")
  assert _ids(rl.make_prompt_iterator(heldout_rl, 1, 0, 1, 0, 1, role="eval")) == held
  pairs = [json.loads(line) for line in open(DEMO_PAIRS)]
  assert {p["task_id"] for p in pairs if p["split"] == "heldout"} <= held
  assert not {p["task_id"] for p in pairs if p["split"] == "train"} & held


def _reworded(statement: str) -> str:
  """Another word after every 15th: a third of the statement's 5-grams are broken."""
  words = statement.split(" ")
  return " ".join(w + (" indeed" if i % 15 == 14 else "") for i, w in enumerate(words))


def test_the_leak_check_is_clean_on_training_outputs_and_catches_planted_tasks(
  cli, demo_run, tmp_path
):
  out, _ = demo_run
  inputs = ",".join(os.path.join(out, kind) for kind in ("sft", "rl", "dpo"))
  clean = cli("check_split", f"--heldout={out}", f"--train={inputs}")
  assert clean.code in (None, 0) and "clean: no training record" in clean.out, clean.err
  held = rl_records(os.path.join(out, "heldout", "rl"))
  planted = [
    {"id": "planted-solution", "query": "Solve it.", "response": held[0]["golden_solution"]},
    {
      "id": "planted-paraphrase",
      "query": "Here is a task. " + _reworded(held[1]["statement"]),
      "response": "```python\nprint(0)\n```",
    },
  ]
  clean_record = {"id": "clean", "query": "Print 1.", "response": "```python\nprint(1)\n```"}
  (tmp_path / "sft.jsonl").write_text(
    "".join(json.dumps(r) + "\n" for r in [*planted, clean_record])
  )
  shards.write_shards([*planted, clean_record], str(tmp_path / "sft"))
  leaked = cli("check_split", f"--heldout={out}", f"--train={tmp_path / 'sft'}")
  assert leaked.code == 1 and "LEAK: 2 training records" in leaked.out, leaked.out
  assert "solution_exact" in leaked.out and "prompt_near" in leaked.out
  # make_shards removes exactly what the check flags, and says so in its manifest.
  made = cli(
    "make_shards",
    f"--input={tmp_path / 'sft.jsonl'}",
    f"--output={tmp_path / 'cleaned'}",
    f"--heldout={out}",
  )
  assert made.code in (None, 0), made.err
  manifest = json.load(open(tmp_path / "cleaned" / "manifest.json"))
  assert manifest["num_records"] == 1 and manifest["decontamination"]["removed"] == {
    "heldout": 0,
    "holds_heldout_task": 2,
    "benchmark_overlap": 0,
  }
