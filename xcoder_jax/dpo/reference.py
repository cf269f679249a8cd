"""Reference log-probs of the frozen starting model, computed once and stored with the data.

With `dpo.reference = "precompute"` one ordered pass over each split's pairs scores both
sides under the starting weights before training; the results live in
`WORKDIR/reference_logprobs/<split>/`:

* `meta.json`: the fingerprint of the reference model (init source, model config, a checksum
  of its parameters) and of the data (shard files and sizes, held-out rule, tokenizer and
  length settings); written before the first part.
* `p<process>-<batch>.npz`: ids and summed chosen/rejected log-probs of one batch of this
  process's pairs, each written atomically, so a killed pass resumes at the first missing one.
* `complete-p<process>`: this process finished its pass.

A rerun whose fingerprint matches reuses the table without a forward pass; one that does not
match (other weights, other data) stops with an error instead of training against the wrong
reference. `"on_the_fly"` instead keeps a frozen copy of the starting weights and scores every
batch as it comes (no pass up front, the memory of a second model).
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from flax import nnx
from jax.experimental import multihost_utils

from xcoder_jax.data.shards import shard_files
from xcoder_jax.dpo.losses import response_logprobs
from xcoder_jax.fileio import atomic_write, write_json_atomic

REFERENCE_MODES = ("precompute", "on_the_fly")
TABLE_DIR = "reference_logprobs"


def reference_fn(graphdef: nnx.GraphDef, chunk: int) -> Callable:
  """fn(params, pair batch) -> (chosen, rejected) summed response log-probs, each [pairs]."""

  def fn(params, batch):
    sums, _ = response_logprobs(nnx.merge(graphdef, params), batch, chunk)
    pairs = batch["chosen_inputs"].shape[0]
    return jax.lax.stop_gradient(sums[:pairs]), jax.lax.stop_gradient(sums[pairs:])

  return fn


def params_checksum(params: Any) -> str:
  """A short digest of the weights: the sum of |w| over all parameters, 9 digits."""
  total = jax.jit(
    lambda p: sum(jnp.sum(jnp.abs(x.astype(jnp.float32))) for x in jax.tree.leaves(p))
  )
  return f"{float(total(params)):.9g}"


def fingerprint(config, model_config, params, files: str, split_rule: Mapping[str, Any]) -> dict:
  """What the stored log-probs depend on: reference weights and the encoded pairs."""
  data = config.data
  return {
    "reference": {
      "init": {k: str(config.init[k]) for k in ("source", "path", "seed")},
      "model": dataclasses.asdict(model_config),
      "params_checksum": params_checksum(params),
    },
    "data": {
      "files": [_file_stamp(f) for f in shard_files(files)],
      "split": dict(split_rule),
      **{k: data[k] for k in ("tokenizer", "seq_len", "truncate", "long_prompt")},
    },
    "processes": jax.process_count(),
  }


def _file_stamp(path: str) -> list:
  """Name, size and modification time: a copied work directory (copies keep the times)
  still matches, a rewritten shard does not."""
  stat = os.stat(path)
  return [os.path.basename(path), stat.st_size, stat.st_mtime_ns]


def precompute(
  directory: str,
  meta: Mapping[str, Any],
  batches: Any,
  score: Callable[[dict[str, np.ndarray]], tuple[jax.Array, jax.Array]],
  place: Callable[[np.ndarray], jax.Array],
  host_batch: int,
) -> dict[str, tuple[float, float]]:
  """The table {pair id: (chosen, rejected)} for one split, computed by `score` over the host
  batches of `batches` (an ordered, single pass) unless already complete in `directory`.
  `place` lays a host's per-pair array out like the scores' rows: each row carries a tag
  (process, local row), so gathered scores map back to pair ids whatever order the devices
  hold the rows in."""
  pi = jax.process_index()
  os.makedirs(directory, exist_ok=True)
  meta_path = os.path.join(directory, "meta.json")
  if os.path.isfile(meta_path):
    with open(meta_path) as f:
      stored = json.load(f)
    if stored != json.loads(json.dumps(meta)):
      raise ValueError(
        f"the reference log-probs in {directory} were computed for another reference model "
        f"or other data ({_first_difference(stored, meta)}); delete {directory} to recompute "
        "them, or use a new --workdir"
      )
  elif pi == 0:
    write_json_atomic(meta_path, meta)
  if not os.path.exists(os.path.join(directory, f"complete-p{pi}")):
    done = 0
    for b, batch in enumerate(batches):
      part = os.path.join(directory, f"p{pi:03d}-{b:06d}.npz")
      if os.path.exists(part):
        continue
      tags = place(np.arange(host_batch, dtype=np.int32) + pi * host_batch)
      values, tags = multihost_utils.process_allgather((score(batch), tags), tiled=True)
      mine = (tags // host_batch) == pi
      local = tags[mine] % host_batch
      ids = batch["ids"][local]
      real = ids != ""
      with atomic_write(part, "wb") as f:
        np.savez(
          f,
          ids=ids[real],
          chosen=np.asarray(values[0])[mine][real],
          rejected=np.asarray(values[1])[mine][real],
        )
      done += 1
    logging.info("reference log-probs: %d new batches in %s", done, directory)
    with atomic_write(os.path.join(directory, f"complete-p{pi}")) as f:
      f.write("done\n")
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(f"reference log-probs {directory}")
  return load_table(directory)


def load_table(directory: str) -> dict[str, tuple[float, float]]:
  table = {}
  for path in sorted(glob.glob(os.path.join(directory, "p*-*.npz"))):
    with np.load(path) as part:
      for pair_id, c, r in zip(part["ids"], part["chosen"], part["rejected"], strict=True):
        table[str(pair_id)] = (float(c), float(r))
  return table


def _first_difference(stored: Any, wanted: Any, path: str = "") -> str:
  if isinstance(stored, dict) and isinstance(wanted, dict):
    for key in sorted(set(stored) | set(wanted)):
      if stored.get(key) != wanted.get(key):
        return _first_difference(stored.get(key), wanted.get(key), f"{path}.{key}".lstrip("."))
  return f"{path or 'meta'}: stored {stored!r}, now {wanted!r}"


def table_dir(workdir: str, split: str) -> str:
  return os.path.join(workdir, TABLE_DIR, split)
