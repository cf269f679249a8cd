"""Precomputed reference log-probs equal the ones scored on the fly, whatever batch a pair
lands in; the pass resumes after a kill and refuses a table of another model."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from pairs import demo_pairs

from configs.data import data_config
from xcoder_jax.data import dpo
from xcoder_jax.dpo import reference
from xcoder_jax.models import get_preset
from xcoder_jax.models.build import create_model


def test_precomputed_reference_logprobs_equal_on_the_fly_ones(tmp_path):
  files = str(tmp_path / "shards")
  dpo.shards_lib.write_shards(demo_pairs(12), files, prefix="dpo", sft_schema=False)
  cfg = data_config()
  cfg.update({"seq_len": 128, "packing": False, "num_epochs": 1})
  model_config = get_preset("tiny", dtype="float32").replace(num_layers=1)
  graphdef, state = nnx.split(create_model(model_config, seed=3))
  params = nnx.to_pure_dict(state)
  score_fn = jax.jit(reference.reference_fn(graphdef, 128))

  def iterate(train, table=None):
    return dpo.make_pair_iterator(
      cfg,
      files,
      host_batch=4,
      process_index=0,
      process_count=1,
      train=train,
      role="train",
      reference=table,
    )

  def score(batch):
    fields = {k: v for k, v in batch.items() if k in dpo.PAIR_FIELDS and k not in dpo.REF_FIELDS}
    return score_fn(params, fields)

  def compute(directory, checksum=None):
    meta = {"reference": reference.params_checksum(params) if checksum is None else checksum}
    return reference.precompute(directory, meta, iterate(False), score, jnp.asarray, 4)

  directory = str(tmp_path / "table")
  table = compute(directory)
  assert sorted(table) == sorted(p["id"] for p in demo_pairs(12))
  # On the fly: shuffled batches, scored as they come, against the table's lookups.
  for batch in iterate(True, table):
    chosen, rejected = score(batch)
    np.testing.assert_allclose(batch["chosen_ref_logprob"], chosen, rtol=1e-5)
    np.testing.assert_allclose(batch["rejected_ref_logprob"], rejected, rtol=1e-5)
    assert (np.asarray(chosen) < 0).all()
  # A killed pass resumes: only the missing part is scored again, the table is the same.
  parts = sorted(f for f in os.listdir(directory) if f.endswith(".npz"))
  assert len(parts) == 3
  kept = os.stat(os.path.join(directory, parts[0])).st_mtime_ns
  os.remove(os.path.join(directory, parts[1]))
  os.remove(os.path.join(directory, "complete-p0"))
  assert compute(directory) == table
  assert os.stat(os.path.join(directory, parts[0])).st_mtime_ns == kept
  with pytest.raises(ValueError, match="another reference model or other data .*reference"):
    compute(directory, checksum="1.0")
