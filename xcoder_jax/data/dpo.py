"""Preference pairs for DPO: schema, readers, tokenisation and the checkpointable Grain iterator.

A pair is one JSON object. SynthSmith writes them (ArrayRecord shards, manifest kind "dpo",
`OUT/dpo/`) with these fields:

==========================  =======  ======================================================
``id``                      str      unique pair id (``<file stem>-<row>`` when missing)
``prompt``                  str      the user message (SFT's ``query``)
``chosen``                  str      a whole assistant response passing every verified test
``rejected``                str      one that fails some
``task_id``                 str      optional: the SynthSmith task
``chosen_pass_fraction``    float    optional, in [0, 1]
``rejected_pass_fraction``  float    optional, in [0, 1]
``rejected_reason``         str      optional: one of ``REJECTED_REASONS``
``split``                   str      optional: ``train`` or ``heldout``
``metadata``                dict     optional, never read by training
==========================  =======  ======================================================

Pairs from elsewhere (JSONL or Parquet) need only ``prompt``, ``chosen`` and ``rejected``;
trl's conversational form is read too (``prompt`` a list of system/user messages, ``chosen``
and ``rejected`` lists of assistant messages).

Each side is the chat ``prompt + [response]`` rendered and masked exactly as SFT does
(``xcoder_jax.data.sft.encode_example``: the chat template, response-only loss, and its long
example policy: ``data.truncate=True`` keeps the first ``data.seq_len`` tokens, i.e. cuts the
response; ``False`` drops the pair; a prompt that leaves no room is ``data.long_prompt``).
A batch holds ``data.global_batch_size`` pairs: ``chosen_<field>`` and ``rejected_<field>`` for
every field of ``xcoder_jax.data.batch.BATCH_FIELDS``, each ``[pairs, seq_len]``, one unpacked
sequence per row, so the loss scores both sides in one forward pass over the rows
``[chosen; rejected]`` and a micro-batch never separates a pair. ``chosen_ref_logprob`` and
``rejected_ref_logprob`` ``[pairs]`` carry the reference model's summed response log-probs
when a precomputed table is given (zeros otherwise), ``ids`` the pair ids (host-side only).

Held-out pairs: a pair carries its task's ``split`` (SynthSmith's, ``xcoder_jax.data.split``;
``OUT/dpo`` holds the training side, ``OUT/heldout/dpo`` the other). Training skips held-out
pairs and evaluation (``data.eval_files``) reads only those not marked ``train``, so one file
holding both sides can serve as both; pairs without the field are training data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import grain
import numpy as np
from absl import logging

from xcoder_jax.data import readers, schema, sft, split
from xcoder_jax.data import shards as shards_lib
from xcoder_jax.data import tokenizer as tokenizer_lib
from xcoder_jax.data.batch import BATCH_FIELDS, TOKEN_FIELDS

SIDES = ("chosen", "rejected")
REJECTED_REASONS = ("wrong_answer", "runtime_error", "time_limit", "memory_limit", "no_code")
MANIFEST_KIND = "dpo"
REF_FIELDS = {f"{side}_ref_logprob": np.dtype(np.float32) for side in SIDES}
PAIR_FIELDS = {
  **{f"{side}_{k}": dtype for side in SIDES for k, dtype in BATCH_FIELDS.items()},
  **REF_FIELDS,
}


class PairError(ValueError):
  """A preference pair that does not follow the schema; the message names record and field."""


def _messages(value: Any, who: str, field: str, roles: tuple[str, ...]) -> list[dict[str, Any]]:
  if isinstance(value, str):
    return [{"role": "user" if field == "prompt" else "assistant", "content": value}]
  if not isinstance(value, list) or not value:
    raise PairError(
      f"{who}: field {field!r} must be a string or a non-empty list of {{role, content}} "
      f"messages, got {type(value).__name__}"
    )
  bad = [i for i, m in enumerate(value) if not isinstance(m, Mapping) or m.get("role") not in roles]
  if bad:
    raise PairError(f"{who}: field {field!r}: message {bad[0]} must have a role in {roles}")
  return list(value)


def validate_pair(record: Any, where: str = "pair") -> dict[str, Any]:
  """The pair normalised to ``{id, prompt, chosen, rejected}`` (chat message lists) plus its
  other fields; raises PairError naming the record and the field."""
  if not isinstance(record, Mapping):
    raise PairError(f"{where}: expected a JSON object per pair, got {type(record).__name__}")
  rid = record.get("id")
  who = f"pair {rid!r} ({where})"
  if not isinstance(rid, str) or not rid:
    raise PairError(f"{who}: field 'id' must be a non-empty string")
  for field in ("prompt", *SIDES):
    if record.get(field) is None:
      raise PairError(f"{who}: missing field {field!r}; a pair needs prompt, chosen and rejected")
  prompt = _messages(record["prompt"], who, "prompt", ("system", "user", "assistant"))
  sides = {side: _messages(record[side], who, side, ("assistant",)) for side in SIDES}
  for side, response in sides.items():  # SFT's checks of every message, naming the field
    schema.validate_record({"id": rid, "messages": prompt + response}, f"{where}, field {side!r}")
  if record["chosen"] == record["rejected"]:
    raise PairError(f"{who}: 'chosen' and 'rejected' are identical; such a pair teaches nothing")
  for field in ("chosen_pass_fraction", "rejected_pass_fraction"):
    value = record.get(field)
    if value is not None and (isinstance(value, bool) or not 0 <= _number(value) <= 1):
      raise PairError(f"{who}: field {field!r} must be a number in [0, 1], got {value!r}")
  reason = record.get("rejected_reason")
  if reason is not None and reason not in REJECTED_REASONS:
    raise PairError(f"{who}: field 'rejected_reason' is {reason!r}; one of {REJECTED_REASONS}")
  for field, kind in (("task_id", str), ("metadata", Mapping)):
    if record.get(field) is not None and not isinstance(record[field], kind):
      raise PairError(f"{who}: field {field!r} must be a {kind.__name__}")
  return {**record, "prompt": prompt, **sides}


def _number(value: Any) -> float:
  return float(value) if isinstance(value, (int, float)) else float("nan")


def iter_pair_file(path: str, fmt: str = "auto"):
  """Validated pairs of a JSONL/Parquet file (a missing id becomes ``<file stem>-<row>``)."""
  stem = os.path.basename(path).split(".")[0]
  for i, (where, row) in enumerate(readers.read_rows(path, fmt)):
    if isinstance(row, dict) and row.get("id") is None:
      row = {**row, "id": f"{stem}-{i}"}
    validate_pair(row, where)
    yield row


def is_pair_file(path: str) -> bool:
  """JSONL/Parquet (converted to shards before training) rather than ArrayRecord shards."""
  try:
    readers.detect_format(path)
  except ValueError:
    return False
  return True


def to_shards(source: str, output_dir: str) -> str:
  """Writes a JSONL/Parquet pair file as one ArrayRecord shard in `output_dir` (kind "dpo"),
  reused while the source file is unchanged; returns the directory."""
  stat = os.stat(source)
  origin = {"path": os.path.abspath(source), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
  manifest = os.path.join(output_dir, shards_lib.MANIFEST)
  if os.path.isfile(manifest):
    with open(manifest) as f:
      if json.load(f).get("origin") == origin:
        return output_dir
  shards_lib.write_shards(
    iter_pair_file(source),
    output_dir,
    prefix=MANIFEST_KIND,
    overwrite=True,
    sft_schema=False,
    extra_manifest={"kind": MANIFEST_KIND, "origin": origin},
  )
  return output_dir


def _pad(feats: dict[str, np.ndarray], seq_len: int, pad_id: int) -> dict[str, np.ndarray]:
  n = len(feats["inputs"])
  real = np.arange(seq_len) < n
  out = {}
  for k in ("inputs", "targets", "loss_mask"):
    out[k] = np.full(seq_len, pad_id if k in TOKEN_FIELDS else 0, np.int32)
    out[k][:n] = feats[k]
  out["segment_ids"] = real.astype(np.int32)
  out["positions"] = np.where(real, np.arange(seq_len), 0).astype(np.int32)
  return out


class _EncodePair(grain.transforms.Map):
  """Shard bytes -> both sides' padded features (and reference log-probs), None if dropped."""

  def __init__(self, tokenizer, cfg, reference: Mapping[str, tuple[float, float]] | None):
    self._tokenizer = tokenizer
    self._seq_len = int(cfg.seq_len)
    self._truncate = bool(cfg.truncate)
    self._long_prompt = cfg.long_prompt
    self._reference = reference
    self.stats = sft.EncodeStats()

  def map(self, data: bytes):
    pair = validate_pair(json.loads(data), "DPO shard record")
    out: dict[str, Any] = {"ids": pair["id"]}
    for side in SIDES:
      example = sft.encode_example(
        {"id": pair["id"], "messages": pair["prompt"] + pair[side]},
        self._tokenizer,
        self._seq_len,
        truncate=self._truncate,
        long_prompt=self._long_prompt,
        stats=self.stats,
      )
      if example is None:
        logging.warning("DPO data: dropped pair %r (longer than seq_len)", pair["id"])
        return None
      feats = sft.to_features(example["tokens"], example["loss_mask"], self._tokenizer.pad_id)
      for k, v in _pad(feats, self._seq_len, self._tokenizer.pad_id).items():
        out[f"{side}_{k}"] = v
    ref = (0.0, 0.0)
    if self._reference is not None:
      if pair["id"] not in self._reference:
        raise PairError(
          f"pair {pair['id']!r} has no precomputed reference log-probs: the data changed "
          "since they were computed; delete WORKDIR/reference_logprobs or use a new workdir"
        )
      ref = self._reference[pair["id"]]
    for side, value in zip(SIDES, ref, strict=True):
      out[f"{side}_ref_logprob"] = np.float32(value)
    return out


class _StackPairs:
  """Rows -> [pairs, ...] arrays; a short final batch is filled with empty pairs."""

  def __init__(self, batch_size: int, seq_len: int, pad_id: int):
    self._b, self._seq_len, self._pad = batch_size, seq_len, pad_id

  def __call__(self, rows):
    out = {"ids": np.asarray([r["ids"] for r in rows] + [""] * (self._b - len(rows)))}
    for k, dtype in PAIR_FIELDS.items():
      a = np.stack([r[k] for r in rows]).astype(dtype)
      if len(rows) < self._b:
        fill = self._pad if k.split("_", 1)[1] in TOKEN_FIELDS else 0
        a = np.concatenate([a, np.full((self._b - len(rows), *a.shape[1:]), fill, dtype)])
      out[k] = a
    return out


def make_pair_iterator(
  cfg,
  files: str,
  *,
  host_batch: int,
  process_index: int,
  process_count: int,
  train: bool,
  role: str,
  reference: Mapping[str, tuple[float, float]] | None = None,
) -> grain.DatasetIterator:
  """Batches of the pairs ``role`` ("train" or "eval") reads from ArrayRecord shards (see
  the module docstring). `train`: shuffled, `data.num_epochs` epochs, `data.drop_remainder`;
  otherwise one ordered pass with a padded last batch. The iterator's
  `get_state`/`set_state` give exact resume."""
  paths, source = shards_lib.open_shards(files, "DPO", "pairs")
  tok = tokenizer_lib.load_tokenizer(cfg.tokenizer)
  keep = split.shard_filter(
    paths, source, json.loads, role, cfg.train_on_heldout, f"DPO pairs {paths[:3]}"
  )
  ds = grain.MapDataset.source(source).filter(lambda data: keep(json.loads(data)))
  if train:
    ds = ds.shuffle(seed=int(cfg.shuffle_seed))
  epochs = int(cfg.num_epochs) if train else 1
  ds = ds.repeat(epochs if epochs > 0 else None)[process_index::process_count]
  ds = ds.map(_EncodePair(tok, cfg, reference))
  it = ds.to_iter_dataset(
    grain.ReadOptions(
      num_threads=int(cfg.read_threads), prefetch_buffer_size=int(cfg.read_prefetch)
    )
  )
  drop = bool(cfg.drop_remainder) if train else False
  batch_fn = _StackPairs(host_batch, int(cfg.seq_len), tok.pad_id)
  return iter(it.batch(host_batch, drop_remainder=drop, batch_fn=batch_fn))
