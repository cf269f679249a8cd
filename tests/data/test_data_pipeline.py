"""The Grain SFT pipeline: batch layout, loss mask, packing, determinism, host slices, state."""

import collections
import json

import numpy as np
import pytest

from configs.data import data_config
from xcoder_jax import data
from xcoder_jax.data import schema, sft

SEQ = 256


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
  d = tmp_path_factory.mktemp("demo_shards")
  data.make_demo_shards(str(d), num_shards=2)
  return str(d)


@pytest.fixture(scope="module")
def tok():
  return data.load_tokenizer("tiny")


def cfg_for(shard_dir, **kw):
  c = data_config()
  c.train_files = shard_dir
  c.eval_files = shard_dir
  c.seq_len = SEQ
  c.global_batch_size = 4
  c.shuffle_seed = 7
  c.num_epochs = 1
  for k, v in kw.items():
    c[k] = v
  return c


def take(it, n=None):
  out = []
  for b in it:
    out.append(b)
    if n is not None and len(out) == n:
      break
  return out


def segments(batch):
  """Yields (inputs, targets, loss_mask, positions) for every packed example in a batch."""
  for r in range(batch["inputs"].shape[0]):
    seg = batch["segment_ids"][r]
    for s in np.unique(seg[seg > 0]):
      sel = seg == s
      idx = np.flatnonzero(sel)
      assert np.all(np.diff(idx) == 1), "a segment must be contiguous"
      yield (
        batch["inputs"][r, sel],
        batch["targets"][r, sel],
        batch["loss_mask"][r, sel],
        batch["positions"][r, sel],
      )


def example_key(batch_segment):
  return tuple(int(x) for x in batch_segment[0])


def assert_batches_equal(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    assert x.keys() == y.keys()
    for k in x:
      np.testing.assert_array_equal(x[k], y[k], err_msg=k)


@pytest.fixture(scope="module")
def reference(shard_dir, tok):
  """Every demo record's expected (inputs, targets, loss_mask) by its token sequence."""
  ref = {}
  for rec in data.generate_demo_records():
    toks, mask = sft.encode_messages(schema.validate_record(rec)["messages"], tok)
    f = sft.to_features(toks, mask, tok.pad_id)
    ref[tuple(int(x) for x in f["inputs"])] = (f, rec)
  return ref


def test_batch_fields_dtypes_shapes(shard_dir):
  batch = next(data.make_sft_iterator(cfg_for(shard_dir), process_index=0, process_count=1))
  assert set(batch) == set(data.BATCH_FIELDS)
  for k, dtype in data.BATCH_FIELDS.items():
    assert batch[k].dtype == dtype, k
    assert batch[k].shape == (4, SEQ), k


@pytest.mark.parametrize("packing", [True, False])
def test_loss_mask_targets_and_boundaries(shard_dir, reference, tok, packing):
  batches = take(
    data.make_sft_iterator(cfg_for(shard_dir, packing=packing), process_index=0, process_count=1)
  )
  seen = 0
  for b in batches:
    seg, lm = b["segment_ids"], b["loss_mask"]
    assert set(np.unique(lm)) <= {0.0, 1.0}
    assert np.all(lm[seg == 0] == 0), "padding must have loss_mask 0"
    assert np.all(b["positions"][seg == 0] == 0)
    assert np.all(b["inputs"][seg == 0] == tok.pad_id)
    # Next-token targets never cross a segment boundary.
    same = (seg[:, 1:] == seg[:, :-1]) & (seg[:, :-1] > 0)
    np.testing.assert_array_equal(b["targets"][:, :-1][same], b["inputs"][:, 1:][same])
    ends = (seg[:, :-1] > 0) & (seg[:, 1:] != seg[:, :-1])
    assert np.all(lm[:, :-1][ends] == 0), "the last position of a segment has no loss"
    assert np.all(lm[:, -1][seg[:, -1] > 0] == 0)
    for s in segments(b):
      inputs, targets, mask, positions = s
      np.testing.assert_array_equal(positions, np.arange(len(inputs)))
      f, rec = reference[example_key(s)]
      np.testing.assert_array_equal(targets, f["targets"])
      np.testing.assert_array_equal(mask, f["loss_mask"])
      # The trained targets are exactly the assistant's answer and its <|im_end|>.
      assert tok.decode(targets[mask == 1]) == rec["response"] + "<|im_end|>"
      # Prompt/template targets are never trained.
      prompt_text = tok.decode(targets[mask == 0])
      assert rec["query"] in prompt_text and "<|im_start|>assistant\n" in prompt_text
      seen += 1
  assert seen > 0


def test_packed_and_unpacked_hold_the_same_examples(shard_dir):
  def multiset(packing):
    it = data.make_sft_iterator(
      cfg_for(shard_dir, packing=packing, drop_remainder=False), process_index=0, process_count=1
    )
    return collections.Counter(
      (example_key(s), tuple(int(t) for t in s[1][s[2] == 1])) for b in it for s in segments(b)
    )

  packed, unpacked = multiset(True), multiset(False)
  assert sum(packed.values()) == 200
  assert packed == unpacked


def test_drop_remainder_false_pads_last_batch_with_empty_rows(shard_dir):
  batches = take(
    data.make_sft_iterator(
      cfg_for(shard_dir, packing=False, global_batch_size=8, drop_remainder=False, num_epochs=1),
      process_index=0,
      process_count=1,
    )
  )
  assert len(batches) == 25 and all(b["inputs"].shape == (8, SEQ) for b in batches)
  batches = take(
    data.make_sft_iterator(
      cfg_for(shard_dir, packing=False, global_batch_size=12), process_index=0, process_count=1
    )
  )
  assert len(batches) == 200 // 12


def test_same_seed_same_batches_other_seed_differs(shard_dir):
  a = take(data.make_sft_iterator(cfg_for(shard_dir), process_index=0, process_count=1), 6)
  b = take(data.make_sft_iterator(cfg_for(shard_dir), process_index=0, process_count=1), 6)
  assert_batches_equal(a, b)
  c = take(
    data.make_sft_iterator(cfg_for(shard_dir, shuffle_seed=8), process_index=0, process_count=1), 6
  )
  assert any(not np.array_equal(x["inputs"], y["inputs"]) for x, y in zip(a, c))


def test_host_slices_are_disjoint_and_cover(shard_dir):
  per_host = []
  for pi in range(2):
    it = data.make_sft_iterator(
      cfg_for(shard_dir, packing=False, drop_remainder=False), process_index=pi, process_count=2
    )
    batches = take(it)
    assert all(b["inputs"].shape == (2, SEQ) for b in batches)  # 4 // 2 rows per host
    per_host.append(collections.Counter(example_key(s) for b in batches for s in segments(b)))
  everything = collections.Counter(
    example_key(s)
    for b in take(
      data.make_sft_iterator(
        cfg_for(shard_dir, packing=False, drop_remainder=False), process_index=0, process_count=1
      )
    )
    for s in segments(b)
  )
  assert not set(per_host[0]) & set(per_host[1])
  assert per_host[0] + per_host[1] == everything
  assert sum(everything.values()) == 200


def test_epochs_reshuffle_track_and_end(shard_dir):
  it = data.make_sft_iterator(
    cfg_for(shard_dir, packing=False, num_epochs=2), process_index=0, process_count=1
  )
  batches = take(it)
  assert len(batches) == 100 and it.epoch == 1
  keys = [example_key(s) for b in batches for s in segments(b)]
  first, second = keys[:200], keys[200:]
  assert collections.Counter(first) == collections.Counter(second)
  assert first != second, "each epoch is shuffled differently"
  with pytest.raises(StopIteration):
    next(it)


def test_state_restore_continues_exactly(shard_dir):
  cfg = cfg_for(shard_dir, num_epochs=2)
  it = data.make_sft_iterator(cfg, process_index=0, process_count=1)
  k = 15  # packed: ~17 batches per epoch, so the next ones cross the epoch boundary
  take(it, k)
  state = json.loads(json.dumps(it.get_state()))  # must survive JSON (Orbax stores it so)
  uninterrupted = take(it, 5)
  fresh = data.make_sft_iterator(cfg, process_index=0, process_count=1)
  fresh.set_state(state)
  assert fresh.batches == k
  resumed = take(fresh, 5)
  assert_batches_equal(uninterrupted, resumed)
  assert fresh.epoch == it.epoch == 1


@pytest.mark.slow
def test_worker_processes_complete_deterministic_and_restorable(shard_dir):
  """worker_count=2: every example once; a restored iterator continues the same stream."""
  cfg = cfg_for(shard_dir, worker_count=2, drop_remainder=False)
  it = data.make_sft_iterator(cfg, process_index=0, process_count=1)
  k = 6
  head = take(it, k)
  state = json.loads(json.dumps(it.get_state()))
  rest = take(it)
  assert sum(1 for x in head + rest for _ in segments(x)) == 200
  fresh = data.make_sft_iterator(cfg, process_index=0, process_count=1)
  fresh.set_state(state)
  assert_batches_equal(rest, take(fresh))


def test_eval_split_reads_once_in_order_and_pads(shard_dir):
  cfg = cfg_for(shard_dir, packing=False, global_batch_size=16, num_epochs=3)
  batches = take(data.make_sft_iterator(cfg, split="eval", process_index=0, process_count=1))
  assert len(batches) == 13 and batches[-1]["inputs"].shape == (16, SEQ)  # 200 = 12*16 + 8
  assert batches[-1]["segment_ids"][8:].max() == 0  # padded rows are empty
  again = take(data.make_sft_iterator(cfg, split="eval", process_index=0, process_count=1))
  assert_batches_equal(batches, again)


def test_missing_shard_file_error(tmp_path, shard_dir):
  missing = str(tmp_path / "nope-00000-of-00001.array_record")
  with pytest.raises(FileNotFoundError, match="does not exist.*make_shards"):
    data.make_sft_iterator(cfg_for(missing), process_index=0, process_count=1)
  with pytest.raises(FileNotFoundError, match="matched no files"):
    data.make_sft_iterator(
      cfg_for(str(tmp_path / "*.array_record")), process_index=0, process_count=1
    )
  with pytest.raises(ValueError, match="eval_files is empty"):
    data.make_sft_iterator(
      cfg_for(shard_dir, eval_files=""), split="eval", process_index=0, process_count=1
    )


def test_record_without_required_fields_in_shard(tmp_path):
  from array_record.python.array_record_module import ArrayRecordWriter

  path = str(tmp_path / "bad-00000-of-00001.array_record")
  w = ArrayRecordWriter(path, "group_size:1")
  w.write(schema.encode_record({"id": "ok-1", "query": "q", "response": "r"}))
  w.write(schema.encode_record({"id": "broken-7", "query": "only a question"}))
  w.close()
  it = data.make_sft_iterator(cfg_for(path, shuffle_seed=0), process_index=0, process_count=1)
  with pytest.raises(Exception) as info:
    take(it)
  msg = str(info.value)
  assert "broken-7" in msg and "'response'" in msg and "bad-00000-of-00001.array_record #1" in msg
  assert "query" in msg and "schema.py" in msg  # says what a valid record needs


def test_seq_len_smaller_than_prompt(shard_dir):
  it = data.make_sft_iterator(cfg_for(shard_dir, seq_len=24), process_index=0, process_count=1)
  with pytest.raises(Exception) as info:
    next(it)
  msg = str(info.value)
  assert "prompt" in msg and "seq_len is 24" in msg and "raise data.seq_len" in msg
  assert "long_prompt='drop'" in msg


def test_long_prompt_drop_and_truncate_counts(shard_dir):
  cfg = cfg_for(shard_dir, seq_len=64, long_prompt="drop", truncate=False)
  stats = data.packing_stats(cfg)["encode_stats"]
  assert stats["examples"] == 200
  assert stats["dropped_long_prompt"] > 0 and stats["dropped_too_long"] > 0
  cfg = cfg_for(shard_dir, seq_len=64, long_prompt="drop", truncate=True)
  stats = data.packing_stats(cfg)["encode_stats"]
  assert stats["truncated"] > 0 and stats["dropped_too_long"] == 0
  for b in take(data.make_sft_iterator(cfg, process_index=0, process_count=1), 3):
    assert b["loss_mask"].sum() > 0


def test_packing_stats(shard_dir):
  stats = data.packing_stats(cfg_for(shard_dir, global_batch_size=8))
  assert stats["examples"] == 200
  assert 0 < stats["pad_to_seq_len_efficiency"] < stats["pad_to_longest_efficiency"]
  assert stats["pad_to_longest_efficiency"] < stats["packed_efficiency"] <= 1.0


def test_global_batch_must_divide_by_hosts(shard_dir):
  with pytest.raises(ValueError, match="multiple of the process count 3"):
    data.make_sft_iterator(cfg_for(shard_dir), process_index=0, process_count=3)
