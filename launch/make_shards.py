"""JSONL / Parquet SFT or RL data (X-Coder's layouts) -> ArrayRecord shards.

  python -m launch.make_shards --input='data/*.parquet' --output=shards/sft --num_shards=16
  python -m launch.make_shards --kind=rl --input='xcoder_rl/*.parquet' --output=shards/rl
  python -m launch.make_shards --input=demo --output=/tmp/demo_shards   # bundled demo set

Every row is checked against the record schema (xcoder_jax/data/schema.py): it needs
`messages` or `query` + `response`; a missing `id` becomes `<file stem>-<row>`, unknown
columns move into `metadata`. Shards are written under temporary names and renamed when
complete; a non-empty output directory is refused unless --overwrite. Counts are printed.
With --kind=rl rows follow the RL schema (xcoder_jax/data/rl.py) or X-Coder's released RL
Parquet layout (stdin/stdout tasks), converted to it.

Decontamination (xcoder_jax/data/decontam.py; counts printed and kept in the manifest under
"decontamination"): records whose prompt shares a word --contamination_ngram-gram with a
HumanEval prompt (--humaneval) or a LiveCodeBench problem (--livecodebench=FILES) are
removed; records of SynthSmith's held-out split (``split: heldout``) are removed unless
--keep_heldout (evaluation shards); with --heldout=SYNTHSMITH_DIR, records holding one of its
held-out tasks (id, statement or golden solution, exact or near-duplicate) are removed too.
"""

from __future__ import annotations

import itertools
import os

from absl import flags

from launch import common
from xcoder_jax.data import decontam, demo, readers, rl, shards, split

_INPUT = flags.DEFINE_string(
  "input",
  None,
  "Input JSONL or Parquet file(s): a path, a glob ('data/*.parquet'), a "
  "directory, or a comma-separated list of them; 'demo' for the bundled demo data set.",
  required=True,
)
_OUTPUT = flags.DEFINE_string(
  "output",
  None,
  "Directory to write the ArrayRecord shards and manifest.json into (created if missing).",
  required=True,
)
_NUM_SHARDS = flags.DEFINE_integer(
  "num_shards",
  1,
  "Number of shard files; records are dealt round-robin. Use at least as many as hosts x workers.",
  lower_bound=1,
)
_FORMAT = flags.DEFINE_enum(
  "format",
  "auto",
  list(readers.FORMATS),
  "Input format; 'auto' decides by file extension (.jsonl/.json[.gz] or .parquet).",
)
_OVERWRITE = flags.DEFINE_bool(
  "overwrite",
  False,
  "Replace the shards and manifest in a non-empty --output directory (refused otherwise).",
)
_PREFIX = flags.DEFINE_string(
  "prefix", "sft", "Shard file name prefix: PREFIX-00000-of-0000N.array_record."
)
_KIND = flags.DEFINE_enum(
  "kind", "sft", ["sft", "rl"], "What the rows are: SFT examples or RL tasks with tests."
)
_MAX_RECORDS = flags.DEFINE_integer(
  "max_records",
  0,
  "Stop after this many records (0 = all); handy for quick subsets.",
  lower_bound=0,
)
_HUMANEVAL = flags.DEFINE_bool("humaneval", True, "Remove records overlapping HumanEval prompts.")
_LIVECODEBENCH = flags.DEFINE_list(
  "livecodebench", [], "LiveCodeBench problem JSONL files whose problems records must not overlap."
)
_NGRAM = flags.DEFINE_integer(
  "contamination_ngram",
  13,
  "Shared word n-gram length that counts as benchmark overlap.",
  lower_bound=1,
)
_HELDOUT = flags.DEFINE_list(
  "heldout", [], "SynthSmith output directories whose held-out tasks must not be in the shards."
)
_KEEP_HELDOUT = flags.DEFINE_bool(
  "keep_heldout", False, "Keep records marked split=heldout (to build evaluation shards)."
)
flags.declare_key_flag("debug")


class Decontamination:
  """Filters a record stream (see the module docstring), counting what it removes; its
  ``counts`` are final once the stream is consumed."""

  def __init__(self, benchmarks, heldout, keep_heldout: bool):
    self.benchmarks, self.heldout, self.keep_heldout = benchmarks, heldout, keep_heldout
    self.counts = {"heldout": 0, "holds_heldout_task": 0, "benchmark_overlap": 0}
    self.examples: list[dict] = []
    self.kept = 0

  def _removed(self, reason: str, record: dict, detail) -> bool:
    self.counts[reason] += 1
    if len(self.examples) < 5:
      self.examples.append({"record": record["id"], "reason": reason, "detail": detail})
    return False

  def keeps(self, record: dict) -> bool:
    if not self.keep_heldout and split.split_of(record, record["id"]) == split.HELDOUT:
      return self._removed("heldout", record, None)
    prompts, _ = decontam.record_texts(record)
    hit = next((h for h in map(self.benchmarks.hit, prompts) if h), None)
    if hit is not None:
      return self._removed("benchmark_overlap", record, hit)
    found = self.heldout.findings(record) if self.heldout is not None else []
    if found:
      return self._removed("holds_heldout_task", record, found[0])
    self.kept += 1
    return True

  def report(self) -> dict:
    """What was removed and by which rules; refuses a stream that kept nothing."""
    if not self.kept and any(self.counts.values()):
      raise ValueError(
        f"every record read was removed ({self.counts}), nothing is left to write; pass "
        "--keep_heldout to build evaluation shards of held-out records"
      )
    return {
      "removed": self.counts,
      "examples": self.examples,
      "rules": {
        "benchmark_overlap": f"a shared word {self.benchmarks.n}-gram with "
        + (", ".join(sorted(self.benchmarks.statements)) or "no benchmark"),
        "holds_heldout_task": "xcoder_jax/data/decontam.py (id, statement, golden solution)"
        if self.heldout is not None
        else "not checked (no --heldout)",
      },
    }


def convert(
  input_spec: str,
  output: str,
  num_shards: int = 1,
  fmt: str = "auto",
  overwrite: bool = False,
  prefix: str = "sft",
  max_records: int = 0,
  kind: str = "sft",
  filter_: Decontamination | None = None,
) -> dict:
  """The CLI as a function; returns the manifest (with per-input counts and, with a
  ``filter_``, what it removed)."""
  shards.check_output_dir(output, overwrite)  # fail before reading anything
  per_file: dict[str, int] = {}
  if input_spec == "demo":
    files = [demo.DEMO_JSONL]
  else:
    files = readers.expand_inputs(input_spec)
  for f in files:
    readers.detect_format(f, fmt)  # refuse unknown extensions up front

  def records():
    for f in files:
      per_file[f] = 0
      rows = readers.iter_schema_records(f, fmt) if kind == "sft" else _rl_records(f, fmt)
      for rec in rows:
        per_file[f] += 1
        yield rec

  stream = records()
  if max_records:
    stream = itertools.islice(stream, max_records)
  # Filled while the records stream: write_shards adds it to the manifest after the last one.
  extra = {"inputs": [os.path.abspath(f) for f in files], "kind": kind}
  if filter_ is not None:
    report = lambda: extra.update(decontamination=filter_.report())  # noqa: E731
    stream = _then(filter(filter_.keeps, stream), report)
  manifest = shards.write_shards(
    stream,
    output,
    num_shards,
    prefix=prefix,
    overwrite=overwrite,
    extra_manifest=extra,
    sft_schema=kind == "sft",
  )
  manifest["per_input"] = per_file
  return manifest


def _then(stream, finish):
  """The stream, then ``finish()`` once it is exhausted."""
  yield from stream
  finish()


def _rl_records(path: str, fmt: str):
  stem = os.path.basename(path).split(".")[0]
  for i, (where, row) in enumerate(readers.read_rows(path, fmt)):
    yield rl.from_source_row(row, where, f"{stem}-{i}")


def main(argv):
  del argv
  with common.user_errors("make_shards"):
    filter_ = Decontamination(
      decontam.BenchmarkGrams(_NGRAM.value, _HUMANEVAL.value, _LIVECODEBENCH.value),
      decontam.load_heldout(_HELDOUT.value) if _HELDOUT.value else None,
      _KEEP_HELDOUT.value,
    )
    manifest = convert(
      _INPUT.value,
      _OUTPUT.value,
      _NUM_SHARDS.value,
      _FORMAT.value,
      _OVERWRITE.value,
      _PREFIX.value if _PREFIX.present or _KIND.value == "sft" else _KIND.value,
      _MAX_RECORDS.value,
      _KIND.value,
      filter_,
    )
  for f, n in manifest["per_input"].items():
    print(f"read {n} records from {f}")
  for name, n in manifest["shards"].items():
    print(f"wrote {n} records to {os.path.join(_OUTPUT.value, name)}")
  removed = manifest["decontamination"]["removed"]
  print(
    f"removed: {removed['heldout']} held-out (split=heldout), {removed['holds_heldout_task']} "
    f"holding a held-out task, {removed['benchmark_overlap']} overlapping a benchmark "
    f"({manifest['decontamination']['rules']['benchmark_overlap']})"
  )
  print(f"total: {manifest['num_records']} records in {len(manifest['shards'])} shards")


if __name__ == "__main__":
  common.run(main, "make_shards")
