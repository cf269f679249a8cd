"""The SFT input pipeline: ArrayRecord shards -> Grain -> packed (or padded) numpy batches.

Order of operations (each step a real Grain transformation)::

  ArrayRecordDataSource(shards) -> MapDataset.source -> decode+validate (JSON, schema)
  -> shuffle(shuffle_seed) [train] -> repeat(num_epochs) (reshuffled every epoch)
  -> [process_index::process_count] (per-host slice) -> tokenize + mask + shift
  -> to_iter_dataset(ReadOptions) -> FirstFitPackIterDataset(seq_len) | pad to seq_len
  -> batch(global_batch_size // process_count) -> mp_prefetch(worker_count) [if > 0]

Every batch is a dict of numpy arrays, each ``[global_batch_size // process_count, seq_len]``,
with the fields and dtypes of ``xcoder_jax.data.batch.BATCH_FIELDS`` (documented there).
Unpacked mode (``packing=False``) pads every example to ``seq_len`` (one segment per row, same
fields).

The ``data`` config section (every key, with its default and meaning) is ``configs/data.py``;
this module reads its keys and has no defaults of its own.

The iterator (``make_sft_iterator``) is a ``grain.DatasetIterator``: ``get_state()`` returns
a JSON-serialisable dict and ``set_state()`` restores the exact position (the next batches
are the ones the uninterrupted run would have produced; nothing is replayed), so it can be
saved with Orbax next to the train state (``grain.checkpoint.CheckpointHandler``). With a finite
``num_epochs`` iteration ends with StopIteration; ``iterator.epoch`` is the (0-based) epoch of
the newest example delivered. ``num_epochs <= 0`` repeats forever.

Multi-host: each process reads ``[process_index::process_count]`` of the (shuffled, repeated)
record stream, so hosts see disjoint records that together cover every epoch. With a finite
``num_epochs`` hosts can end after different numbers of packed batches; drive training by a
step count (``num_epochs <= 0``) on multi-host runs.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import grain
import ml_collections
import numpy as np
from absl import logging

from xcoder_jax.data import schema, sft
from xcoder_jax.data import shards as shards_lib
from xcoder_jax.data import split as split_lib
from xcoder_jax.data import tokenizer as tokenizer_lib
from xcoder_jax.data.batch import BATCH_FIELDS, TOKEN_FIELDS

_EPOCH = "epoch"  # internal per-token field, stripped by SFTIterator


class _DecodeRecord(grain.transforms.MapWithIndex):
  """bytes -> (record index in the shards, validated schema record); errors name the shard
  file and record index."""

  def __init__(self, files: list[str], lengths: list[int]):
    self._files = files
    self._ends = np.cumsum(lengths)

  def map_with_index(self, index: int, data: bytes) -> tuple[int, dict[str, Any]]:
    index %= int(self._ends[-1])  # repeat() hands later epochs' indices to the source maps
    f = int(np.searchsorted(self._ends, index, side="right"))
    local = index - (int(self._ends[f - 1]) if f else 0)
    return index, schema.decode_record(data, f"{os.path.basename(self._files[f])} #{local}")


class _EncodeExample(grain.transforms.MapWithIndex):
  """record -> shifted per-example features (+ per-token epoch), or None when dropped: too
  long for the length settings, or on the other side of the train/held-out split than the
  one this split reads (``xcoder_jax.data.split.keeps``).

  Once every record of the shards has been dropped with none kept in between (encoding is
  deterministic, so none would ever be kept) it raises AllRecordsDroppedError: otherwise an
  endless stream would spin forever and a finite one would end before the first batch."""

  def __init__(
    self,
    tokenizer,
    seq_len: int,
    truncate: bool,
    long_prompt: str,
    num_records: int,
    process_index: int,
    process_count: int,
    role: str,
    allow_heldout: bool,
  ):
    self._role, self._allow_heldout = role, allow_heldout
    self._tokenizer = tokenizer
    self._seq_len = seq_len
    self._truncate = truncate
    self._long_prompt = long_prompt
    self._n = num_records
    self._pi = process_index
    self._pc = process_count
    self.stats = sft.EncodeStats()
    self._dropped_since_kept: set[int] = set()

  def map_with_index(self, index: int, item: tuple[int, dict[str, Any]]):
    source_index, record = item
    if not split_lib.keeps(record, self._role, self._allow_heldout, "SFT data"):
      self.stats.skipped_split += 1
      return self._dropped(source_index)
    ex = sft.encode_example(
      record,
      self._tokenizer,
      self._seq_len,
      truncate=self._truncate,
      long_prompt=self._long_prompt,
      stats=self.stats,
    )
    if ex is None:
      dropped = self.stats.dropped_too_long + self.stats.dropped_long_prompt
      if dropped <= 5 or dropped % 1000 == 0:
        logging.warning(
          "SFT data: dropped record %r (longer than seq_len=%d); %s",
          record.get("id"),
          self._seq_len,
          self.stats.as_dict(),
        )
      return self._dropped(source_index)
    self._dropped_since_kept.clear()
    feats = sft.to_features(ex["tokens"], ex["loss_mask"], self._tokenizer.pad_id)
    epoch = (self._pi + index * self._pc) // self._n
    feats[_EPOCH] = np.full(len(ex["tokens"]), epoch, np.int32)
    return feats

  def _dropped(self, source_index: int) -> None:
    """Counts a record that yields no example; raises once every record has been dropped."""
    self._dropped_since_kept.add(source_index)
    if len(self._dropped_since_kept) >= self._n:
      raise sft.AllRecordsDroppedError(self._all_dropped_message())

  def _all_dropped_message(self) -> str:
    causes = []
    if self.stats.skipped_split and self._role == split_lib.TRAIN:
      causes.append(
        "held-out records (split 'heldout') are skipped by training; point data.train_files "
        "at training data (SynthSmith's DIR/sft), or set data.train_on_heldout=True to train "
        "on them anyway"
      )
    elif self.stats.skipped_split:
      causes.append(
        "training records (split 'train') are skipped by evaluation; point data.eval_files at "
        "held-out data (SynthSmith's DIR/heldout/sft)"
      )
    if self.stats.dropped_long_prompt:
      causes.append(
        f"prompts of at least data.seq_len={self._seq_len} tokens are dropped "
        f"(data.long_prompt={self._long_prompt!r})"
      )
    if self.stats.dropped_too_long:
      causes.append(
        f"examples longer than data.seq_len={self._seq_len} are dropped (data.truncate=False)"
      )
    return (
      f"all {self._n} records were dropped, none is left to read: "
      + "; ".join(causes)
      + f" ({self.stats.as_dict()})"
      + (
        ". Raise data.seq_len, set data.truncate=True, or set data.long_prompt='error' to see "
        "the first offending record"
        if self.stats.dropped_too_long or self.stats.dropped_long_prompt
        else ""
      )
    )


def _pad_example(feats: dict[str, np.ndarray], seq_len: int, pad_id: int):
  n = len(feats["inputs"])
  out = {}
  for k in ("inputs", "targets", "loss_mask", _EPOCH):
    a = np.full(seq_len, pad_id if k in TOKEN_FIELDS else 0, np.int32)
    a[:n] = feats[k]
    out[k] = a
  out["segment_ids"] = (np.arange(seq_len) < n).astype(np.int32)
  out["positions"] = np.where(np.arange(seq_len) < n, np.arange(seq_len), 0).astype(np.int32)
  return out


def _finish_packed(row: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  return {
    "inputs": row["inputs"],
    "targets": row["targets"],
    "loss_mask": row["loss_mask"],
    "segment_ids": row["inputs_segment_ids"],
    "positions": row["inputs_positions"],
    _EPOCH: row[_EPOCH],
  }


class _StackBatch:
  """Stacks rows into [batch, seq_len] arrays with the batch dtypes; pads short batches."""

  def __init__(self, batch_size: int, pad_id: int):
    self._b = batch_size
    self._pad = pad_id

  def __call__(self, rows):
    out = {}
    for k in list(BATCH_FIELDS) + [_EPOCH]:
      a = np.stack([r[k] for r in rows])
      if len(rows) < self._b:  # only the final batch when drop_remainder=False
        fill = self._pad if k in TOKEN_FIELDS else 0
        a = np.concatenate([a, np.full((self._b - len(rows),) + a.shape[1:], fill, a.dtype)])
      out[k] = a.astype(BATCH_FIELDS.get(k, np.int32))  # the internal epoch field: int32
    return out


class SFTIterator(grain.DatasetIterator):
  """The checkpointable batch iterator; strips the internal epoch field and tracks epochs."""

  def __init__(self, inner: grain.DatasetIterator):
    super().__init__(inner)
    self.epoch = 0
    self.batches = 0

  def __next__(self) -> dict[str, np.ndarray]:
    batch = next(self._parent)
    epochs = batch.pop(_EPOCH)
    real = batch["segment_ids"] > 0
    if real.any():
      self.epoch = max(self.epoch, int(epochs[real].max()))
    self.batches += 1
    return batch

  def get_state(self) -> dict[str, Any]:
    return {"grain": self._parent.get_state(), "epoch": self.epoch, "batches": self.batches}

  def set_state(self, state: dict[str, Any]) -> None:
    self._parent.set_state(state["grain"])
    self.epoch = int(state["epoch"])
    self.batches = int(state["batches"])


@dataclasses.dataclass
class _Built:
  dataset: Any  # grain.IterDataset of batches
  encoder: _EncodeExample
  num_records: int
  host_batch_size: int
  tokenizer: Any


def _files_for(cfg, split: str) -> list[str]:
  if split not in ("train", "eval"):
    raise ValueError(f"split={split!r}; choose 'train' or 'eval'")
  spec = cfg[f"{split}_files"]
  if not spec:
    raise ValueError(
      f"data.{split}_files is empty; point it at ArrayRecord shards (build them "
      "with python -m launch.make_shards, or xcoder_jax.data.make_demo_shards)"
    )
  return shards_lib.shard_files(spec)


def _build(
  cfg,
  split: str,
  process_index: int,
  process_count: int,
  *,
  shuffle: bool | None = None,
  num_epochs: int | None = None,
  worker_count: int | None = None,
) -> _Built:
  seq_len = int(cfg.seq_len)
  if seq_len < 2:
    raise ValueError(f"data.seq_len must be >= 2, got {seq_len}")
  gbs = int(cfg.global_batch_size)
  if process_count < 1 or not 0 <= process_index < process_count:
    raise ValueError(f"process_index={process_index} must be in [0, {process_count})")
  if gbs < process_count or gbs % process_count:
    raise ValueError(
      f"data.global_batch_size={gbs} must be a positive multiple of the process "
      f"count {process_count}; each host loads global_batch_size // process_count"
    )
  host_batch = gbs // process_count
  files = _files_for(cfg, split)
  role = split_lib.TRAIN if split == "train" else "eval"
  split_lib.check_manifests(files, role, bool(cfg.train_on_heldout), f"SFT data {files[:3]}")
  tok = tokenizer_lib.load_tokenizer(cfg.tokenizer)
  try:
    source = grain.sources.ArrayRecordDataSource(files)
    lengths = [len(grain.sources.ArrayRecordDataSource([f])) for f in files]
  except Exception as e:  # array_record raises bare RuntimeErrors for unreadable files
    raise ValueError(
      f"cannot read ArrayRecord shards {files[:3]}...: {e}; check that the files "
      "are complete shards written by launch.make_shards"
    ) from e
  n = len(source)
  if n == 0:
    raise ValueError(f"the {split} shards {files[:3]} hold no records; rebuild them")
  is_train = split == "train"
  shuffle = is_train if shuffle is None else shuffle
  if num_epochs is None:
    num_epochs = int(cfg.num_epochs) if is_train else 1
  seed = int(cfg.shuffle_seed)

  ds = grain.MapDataset.source(source).map_with_index(_DecodeRecord(files, lengths))
  if shuffle:
    ds = ds.shuffle(seed=seed)
  ds = ds.repeat(num_epochs if num_epochs > 0 else None)
  ds = ds[process_index::process_count]
  encoder = _EncodeExample(
    tok,
    seq_len,
    bool(cfg.truncate),
    cfg.long_prompt,
    n,
    process_index,
    process_count,
    role,
    bool(cfg.train_on_heldout),
  )
  if is_train and cfg.train_on_heldout:
    split_lib.warn_training_on_heldout(f"SFT data {files[:3]}")
  ds = ds.map_with_index(encoder)
  it = ds.to_iter_dataset(
    grain.ReadOptions(
      num_threads=int(cfg.read_threads), prefetch_buffer_size=int(cfg.read_prefetch)
    )
  )
  if bool(cfg.packing):
    fields = ("inputs", "targets", "loss_mask", _EPOCH)
    bins = int(cfg.packing_bins) or host_batch
    it = grain.experimental.FirstFitPackIterDataset(
      it,
      length_struct={k: seq_len for k in fields},
      num_packing_bins=bins,
      seed=seed,
      shuffle_bins=shuffle,
      padding_struct={k: tok.pad_id if k in TOKEN_FIELDS else 0 for k in fields},
    )
    it = it.map(_finish_packed)
  else:
    it = it.map(lambda f, _l=seq_len, _p=tok.pad_id: _pad_example(f, _l, _p))
  drop = bool(cfg.drop_remainder) if is_train else False
  it = it.batch(host_batch, drop_remainder=drop, batch_fn=_StackBatch(host_batch, tok.pad_id))
  workers = int(cfg.worker_count) if worker_count is None else worker_count
  if workers > 0:
    from absl import flags

    if not flags.FLAGS.is_parsed():
      # Grain's worker start reads its absl flags; outside app.run (tests, notebooks) take
      # their defaults. app.run parses the command line again anyway.
      flags.FLAGS.mark_as_parsed()
    it = it.mp_prefetch(
      grain.MultiprocessingOptions(
        num_workers=workers, per_worker_buffer_size=int(cfg.worker_buffer_size)
      )
    )
  return _Built(it, encoder, n, host_batch, tok)


def make_sft_iterator(
  data_config,
  split: str = "train",
  process_index: int | None = None,
  process_count: int | None = None,
) -> SFTIterator:
  """Builds the checkpointable batch iterator for this host (see the module docstring)."""
  if process_index is None or process_count is None:
    import jax

    process_index = jax.process_index() if process_index is None else process_index
    process_count = jax.process_count() if process_count is None else process_count
  built = _build(data_config, split, process_index, process_count)
  return SFTIterator(iter(built.dataset))


def num_records(data_config, split: str = "train") -> int:
  """Number of records in the split's shards (before any epoch repetition or slicing)."""
  return len(grain.sources.ArrayRecordDataSource(_files_for(data_config, split)))


def packing_stats(
  data_config, split: str = "train", max_batches: int | None = None
) -> dict[str, Any]:
  """Share of real (non-pad) tokens: FirstFit packing vs pad-to-longest vs pad-to-seq_len.

  Reads one unshuffled epoch in-process (host 0 of 1); ``max_batches`` limits it to the
  examples of that many packed batches. Pad-to-longest batches the same
  examples, in the same order, ``global_batch_size`` at a time, each padded to its longest.
  """
  cfg = ml_collections.ConfigDict(
    data_config.to_dict() if hasattr(data_config, "to_dict") else dict(data_config)
  )
  cfg.packing = True
  packed = _build(cfg, split, 0, 1, shuffle=False, num_epochs=1, worker_count=0)
  real = slots = rows = packed_examples = 0
  for i, batch in enumerate(packed.dataset):
    if max_batches is not None and i >= max_batches:
      break
    seg = batch["segment_ids"]
    real += int((seg > 0).sum())
    packed_examples += int(seg.max(axis=1).sum())
    nonempty = seg.max(axis=1) > 0
    rows += int(nonempty.sum())
    slots += int(nonempty.sum()) * seg.shape[1]
  cfg.packing = False
  unpacked = _build(cfg, split, 0, 1, shuffle=False, num_epochs=1, worker_count=0)
  lengths = []
  for batch in unpacked.dataset:
    if max_batches is not None and len(lengths) >= packed_examples:
      break
    seg = batch["segment_ids"]
    lengths.extend(int(x) for x in seg.sum(axis=1) if x > 0)
  b = packed.host_batch_size
  longest_slots = sum(
    max(lengths[i : i + b]) * len(lengths[i : i + b]) for i in range(0, len(lengths), b)
  )
  total = sum(lengths)
  seq_len = int(cfg.seq_len)
  return {
    "examples": len(lengths),
    "real_tokens": total,
    "packed_rows": rows,
    "packed_efficiency": real / slots if slots else 0.0,
    "pad_to_longest_efficiency": total / longest_slots if longest_slots else 0.0,
    "pad_to_seq_len_efficiency": total / (len(lengths) * seq_len) if lengths else 0.0,
    "mean_example_tokens": total / len(lengths) if lengths else 0.0,
    "encode_stats": unpacked.encoder.stats.as_dict(),
  }
