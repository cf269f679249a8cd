"""Preference pairs: schema errors name the record and field, every input form encodes with
SFT's chat template and masking, long pairs follow the configured policy, the iterator
resumes exactly and held-out pairs never reach training."""

import json

import numpy as np
import pytest
from pairs import demo_pairs, write_pairs

from configs.data import data_config
from xcoder_jax.data import dpo, load_tokenizer, sft


def _cfg(**changes):
  cfg = data_config()
  cfg.update({"seq_len": 128, "packing": False, "num_epochs": 1, **changes})
  return cfg


def _iterate(cfg, files, train=False, role="train", host_batch=4):
  return dpo.make_pair_iterator(
    cfg, files, host_batch=host_batch, process_index=0, process_count=1, train=train, role=role
  )


@pytest.mark.parametrize(
  "change,message",
  [
    ({"chosen": None}, "pair 'demo-0000' (t.jsonl:1): missing field 'chosen'"),
    ({"prompt": 7}, "pair 'demo-0000' (t.jsonl:1): field 'prompt' must be a string"),
    ({"rejected": [{"role": "user", "content": "x"}]}, "field 'rejected': message 0 must have"),
    ({"rejected_reason": "segfault"}, "field 'rejected_reason' is 'segfault'; one of"),
    ({"chosen_pass_fraction": 1.5}, "field 'chosen_pass_fraction' must be a number in"),
    ({"id": 12}, "field 'id' must be a non-empty string"),
    ({"rejected": "same"}, "'chosen' and 'rejected' are identical"),
  ],
)
def test_schema_errors_name_the_record_and_the_field(change, message):
  pair = {**demo_pairs(1)[0], **change}
  if change.get("rejected") == "same":
    pair["chosen"] = "same"
  with pytest.raises(dpo.PairError, match=message.replace("(", r"\(").replace(")", r"\)")):
    dpo.validate_pair(pair, "t.jsonl:1")


def test_every_input_form_encodes_like_sft(tmp_path):
  """Shards written by SynthSmith, trl's conversational JSONL and Parquet (without ids) give
  the same rows, and each row is exactly SFT's encoding of prompt + response."""
  import pyarrow as pa
  import pyarrow.parquet as pq

  pairs = demo_pairs(6)
  shards = str(tmp_path / "shards")
  dpo.shards_lib.write_shards(pairs, shards, prefix="dpo", sft_schema=False)
  trl = [
    {
      "id": p["id"],
      "prompt": [{"role": "user", "content": p["prompt"]}],
      "chosen": [{"role": "assistant", "content": p["chosen"]}],
      "rejected": [{"role": "assistant", "content": p["rejected"]}],
    }
    for p in pairs
  ]
  converted = dpo.to_shards(write_pairs(tmp_path / "trl.jsonl", trl), str(tmp_path / "trl"))
  table = pa.Table.from_pylist([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs])
  pq.write_table(table, tmp_path / "plain.parquet")
  from_parquet = dpo.to_shards(str(tmp_path / "plain.parquet"), str(tmp_path / "pq"))
  batches = [next(_iterate(_cfg(), files)) for files in (shards, converted, from_parquet)]
  for other in batches[1:]:
    for k in dpo.PAIR_FIELDS:
      np.testing.assert_array_equal(batches[0][k], other[k], err_msg=k)
  assert list(batches[2]["ids"]) == [f"plain-{i}" for i in range(4)]  # ids filled by row
  tokenizer = load_tokenizer("tiny")
  for row, pair in enumerate(pairs[:4]):
    for side in dpo.SIDES:
      messages = [
        {"role": "user", "content": pair["prompt"]},
        {"role": "assistant", "content": pair[side]},
      ]
      example = sft.encode_example(
        {"id": pair["id"], "messages": messages}, tokenizer, 128, truncate=True, long_prompt="error"
      )
      want = sft.to_features(example["tokens"], example["loss_mask"], tokenizer.pad_id)
      n = len(want["inputs"])
      for k in ("inputs", "targets", "loss_mask"):
        np.testing.assert_array_equal(batches[0][f"{side}_{k}"][row, :n], want[k])
      assert batches[0][f"{side}_segment_ids"][row].sum() == n
      assert batches[0][f"{side}_loss_mask"][row, n:].sum() == 0
  # The shards of a JSONL are reused while it is unchanged.
  manifest = tmp_path / "trl" / "manifest.json"
  before = manifest.stat().st_mtime_ns
  dpo.to_shards(str(tmp_path / "trl.jsonl"), str(tmp_path / "trl"))
  assert manifest.stat().st_mtime_ns == before


def test_long_pairs_are_cut_or_dropped_as_configured(tmp_path):
  pairs = demo_pairs(8)
  files = str(tmp_path / "shards")
  dpo.shards_lib.write_shards(pairs, files, prefix="dpo", sft_schema=False)
  seq_len = 64
  cut = next(_iterate(_cfg(seq_len=seq_len, truncate=True), files, host_batch=8))
  assert list(cut["ids"]) == [p["id"] for p in pairs]
  assert cut["chosen_segment_ids"].sum(1).max() == seq_len  # cut to seq_len, response kept
  kept = [
    i for batch in _iterate(_cfg(seq_len=seq_len, truncate=False), files) for i in batch["ids"]
  ]
  long_ids = set(cut["ids"][(cut["chosen_segment_ids"].sum(1) == seq_len)])
  assert long_ids and not long_ids & set(kept)
  with pytest.raises(sft.PromptTooLongError, match="data.long_prompt='drop'"):
    next(_iterate(_cfg(seq_len=16), files))


def test_iterator_resumes_exactly_and_held_out_pairs_never_train(tmp_path):
  files = str(tmp_path / "shards")
  pairs = [
    {**p, "split": "heldout" if i % 4 == 0 else "train"} for i, p in enumerate(demo_pairs(40))
  ]
  dpo.shards_lib.write_shards(pairs, files, num_shards=2, prefix="dpo", sft_schema=False)
  cfg = _cfg(num_epochs=2)
  it = _iterate(cfg, files, train=True)
  for _ in range(3):
    next(it)
  state = json.loads(json.dumps(it.get_state()))
  expected = [next(it) for _ in range(4)]
  resumed = _iterate(cfg, files, train=True)
  resumed.set_state(state)
  for want in expected:
    got = next(resumed)
    for k in want:
      np.testing.assert_array_equal(got[k], want[k])
  seen = {i for batch in _iterate(_cfg(), files, train=True) for i in batch["ids"]}
  held = {i for batch in _iterate(_cfg(), files, role="eval") for i in batch["ids"]}
  held.discard("")  # the padded last eval batch
  assert held == {p["id"] for p in pairs if p["split"] == "heldout"}
  train = {p["id"] for p in pairs if p["split"] == "train"}
  assert seen <= train and len(seen) == len(train) // 4 * 4  # the last partial batch dropped


def test_held_out_only_pairs_refuse_to_train_unless_allowed_and_old_synthsmith_pairs_fail(
  tmp_path,
):
  files = str(tmp_path / "heldout")
  pairs = [{**p, "split": "heldout"} for p in demo_pairs(8)]
  dpo.shards_lib.write_shards(pairs, files, prefix="dpo", sft_schema=False)
  with pytest.raises(dpo.split.SplitError, match="all 8 records are held out.*train_on_heldout"):
    next(_iterate(_cfg(), files, train=True))
  allowed = next(_iterate(_cfg(train_on_heldout=True), files, train=True))
  assert len(set(allowed["ids"])) == 4
  old = str(tmp_path / "old")
  legacy = [{**p, "metadata": {"source": "synthsmith"}} for p in demo_pairs(2)]
  dpo.shards_lib.write_shards(legacy, old, prefix="dpo", sft_schema=False)
  with pytest.raises(dpo.split.SplitError, match="before the train/held-out split.*rerun"):
    _iterate(_cfg(), old, train=True)
