"""The leak check: does any training input hold a task of SynthSmith's held-out split?

  python -m launch.check_split --run=runs/quickstart
  python -m launch.check_split --heldout=/data/synth --workdir=/ckpt/sft,/ckpt/rl
  python -m launch.check_split --heldout=/data/synth --train=/data/sft,/data/extra.jsonl

Held-out tasks come from SynthSmith output directories (``DIR/heldout/rl``); training inputs
are shard directories or JSONL/Parquet files given with --train, or the inputs that training
runs recorded in their work directories (``config.json``: ``data.train_files`` and whether
the run set ``data.train_on_heldout``; a GRPO warm-up in ``WORKDIR/warmup`` is read too).
--run=RUN takes both from a quickstart-style run directory (``RUN/synthsmith`` and every
work directory under RUN). Each record a trainer would use is checked for a held-out task's
id, statement (exact or near-duplicate) and golden solution (exact or near-duplicate); see
xcoder_jax/data/decontam.py for the rules. Prints counts per input and kind, writes them as
JSON with --output, and exits 1 on any leak (0 when clean, 2 on a usage error).
"""

from __future__ import annotations

import glob
import json
import os
import sys

from absl import flags

from launch import common

_RUN = flags.DEFINE_string("run", None, "A run directory: RUN/synthsmith and work dirs under RUN.")
_HELDOUT = flags.DEFINE_list("heldout", [], "SynthSmith output directories (the held-out side).")
_TRAIN = flags.DEFINE_list("train", [], "Training inputs: shard dirs, globs, JSONL/Parquet files.")
_WORKDIR = flags.DEFINE_list("workdir", [], "Training work directories (their config.json).")
_OUTPUT = flags.DEFINE_string("output", None, "Also write the report here as JSON.")
flags.declare_key_flag("debug")


def _runs_in(workdir: str) -> list[str]:
  """A work directory's recorded runs: itself and its direct subdirectories (warm-up)."""
  from xcoder_jax.train.loop import CONFIG_FILE

  found = [workdir, *sorted(glob.glob(os.path.join(workdir, "*")))]
  return [d for d in found if os.path.isfile(os.path.join(d, CONFIG_FILE))]


def recorded_inputs(workdir: str) -> list[tuple[str, str, bool]]:
  """(name, train_files, train_on_heldout) of each run recorded under a work directory."""
  from xcoder_jax.train.loop import CONFIG_FILE

  runs = _runs_in(workdir)
  if not runs:
    raise common.UserError(
      f"--workdir={workdir}: no {CONFIG_FILE} there (runs record it when they start); pass "
      "its training inputs with --train instead"
    )
  inputs = []
  for run in runs:
    with open(os.path.join(run, CONFIG_FILE)) as f:
      data = json.load(f)["data"]
    inputs.append((run, data["train_files"], bool(data.get("train_on_heldout", False))))
  return inputs


def _files(spec: str) -> list[str]:
  from xcoder_jax.data import readers, shards

  files = readers.expand_inputs(spec, what="training input")
  return [f for f in files if os.path.basename(f) != shards.MANIFEST]


def check(heldout_dirs: list[str], inputs: list[tuple[str, str, bool]]) -> dict:
  """The report of ``launch.check_split`` (see the module docstring)."""
  from xcoder_jax.data import decontam

  heldout = decontam.load_heldout(heldout_dirs)
  reports = [
    decontam.scan(name, decontam.read_records(_files(spec)), heldout, allowed).to_json()
    for name, spec, allowed in inputs
  ]
  leaks = sum(r["leaking_records"] for r in reports)
  return {
    "heldout_dirs": heldout_dirs,
    "heldout_tasks": len(heldout),
    "rules": {
      "prompt_near": f"a held-out statement's word {heldout.ngram}-grams, >= {heldout.near} "
      "of them in a training prompt",
      "solution_near": f">= {decontam.SOLUTION_NEAR_LINES} of a held-out golden's code lines "
      f"(of {decontam.SOLUTION_MIN_LINES} or more) in one training answer",
    },
    "inputs": reports,
    "leaking_records": leaks,
    "clean": leaks == 0,
  }


def _inputs_from_flags() -> tuple[list[str], list[tuple[str, str, bool]]]:
  heldout, workdirs = list(_HELDOUT.value), list(_WORKDIR.value)
  if _RUN.value:
    if not os.path.isdir(os.path.join(_RUN.value, "synthsmith")):
      raise common.UserError(f"--run={_RUN.value}: no synthsmith/ directory in it")
    heldout.append(os.path.join(_RUN.value, "synthsmith"))
    workdirs += [d for d in sorted(glob.glob(os.path.join(_RUN.value, "*"))) if _runs_in(d)]
  if not heldout:
    raise common.UserError("give the held-out side: --heldout=SYNTHSMITH_DIR or --run=RUN")
  inputs = [(spec, spec, False) for spec in _TRAIN.value]
  for workdir in workdirs:
    inputs += recorded_inputs(workdir)
  if not inputs:
    raise common.UserError("no training input: give --train, --workdir or --run")
  return heldout, inputs


def main(argv):
  del argv
  with common.user_errors("check_split"):
    report = check(*_inputs_from_flags())
  print(f"held-out tasks: {report['heldout_tasks']} from {', '.join(report['heldout_dirs'])}")
  for row in report["inputs"]:
    kinds = ", ".join(f"{k} {n}" for k, n in row["leaks"].items() if n) or "none"
    marked = f", {row['marked_heldout']} marked held-out" if row["marked_heldout"] else ""
    skipped = " (trained on: data.train_on_heldout)" if row["trained_on_marked"] else ""
    print(f"{row['name']}: {row['records']} records{marked}{skipped}; leaks: {kinds}")
    for example in row["examples"]:
      print(f"  {example['record']}: {example['findings']}")
  if _OUTPUT.value:
    from xcoder_jax.fileio import write_json_atomic

    write_json_atomic(_OUTPUT.value, report, indent=1)
  if not report["clean"]:
    print(f"LEAK: {report['leaking_records']} training records hold held-out tasks")
    sys.exit(1)
  print("clean: no training record holds a held-out task")


if __name__ == "__main__":
  common.run(main, "check_split")
