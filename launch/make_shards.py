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
"""

from __future__ import annotations

import itertools
import os

from absl import flags

from launch import common
from xcoder_jax.data import demo, readers, rl, shards

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
flags.declare_key_flag("debug")


def convert(
  input_spec: str,
  output: str,
  num_shards: int = 1,
  fmt: str = "auto",
  overwrite: bool = False,
  prefix: str = "sft",
  max_records: int = 0,
  kind: str = "sft",
) -> dict:
  """The CLI as a function; returns the manifest (with per-input counts)."""
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
  manifest = shards.write_shards(
    stream,
    output,
    num_shards,
    prefix=prefix,
    overwrite=overwrite,
    extra_manifest={"inputs": [os.path.abspath(f) for f in files], "kind": kind},
    sft_schema=kind == "sft",
  )
  manifest["per_input"] = per_file
  return manifest


def _rl_records(path: str, fmt: str):
  stem = os.path.basename(path).split(".")[0]
  for i, (where, row) in enumerate(readers.read_rows(path, fmt)):
    yield rl.from_source_row(row, where, f"{stem}-{i}")


def main(argv):
  del argv
  with common.user_errors("make_shards"):
    manifest = convert(
      _INPUT.value,
      _OUTPUT.value,
      _NUM_SHARDS.value,
      _FORMAT.value,
      _OVERWRITE.value,
      _PREFIX.value if _PREFIX.present or _KIND.value == "sft" else _KIND.value,
      _MAX_RECORDS.value,
      _KIND.value,
    )
  for f, n in manifest["per_input"].items():
    print(f"read {n} records from {f}")
  for name, n in manifest["shards"].items():
    print(f"wrote {n} records to {os.path.join(_OUTPUT.value, name)}")
  print(f"total: {manifest['num_records']} records in {len(manifest['shards'])} shards")


if __name__ == "__main__":
  common.run(main, "make_shards")
