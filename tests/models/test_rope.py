"""YaRN RoPE scaling against transformers' Qwen2 with rope type "yarn": import, logits, export."""

import json

import numpy as np
import pytest

from xcoder_jax.hf import load_hf, save_hf

from hf_models import hf_logits, make_hf_model

TOKENS = np.random.RandomState(1).randint(0, 256, (1, 48))
# A tiny original context (16 positions) so that 48 tokens run well past it, as 128K does past 32K.
YARN = {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0}


@pytest.fixture(scope="module")
def yarn_model(tmp_path_factory):
  model = make_hf_model(
    "qwen2", False, rope_parameters={**YARN, "original_max_position_embeddings": 16}
  )
  path = tmp_path_factory.mktemp("yarn")
  model.save_pretrained(str(path))
  return model, str(path)


def test_yarn_logits_match_transformers_and_survive_export(yarn_model, tmp_path):
  model, path = yarn_model
  ours = load_hf(path, dtype="float32")
  assert (ours.config.rope_type, ours.config.rope_factor) == ("yarn", 4.0)
  assert ours.config.rope_original_max_position == 16
  want = hf_logits(model, TOKENS)
  assert np.abs(np.asarray(ours(TOKENS)) - want).max() < 1e-4  # plain RoPE: 2e-3 off
  plain = load_hf(path, dtype="float32", rope_type="default")  # YaRN really changes the logits
  assert np.abs(np.asarray(plain(TOKENS)) - want).max() > 1e-3
  out = save_hf(ours, str(tmp_path / "export"), dtype="float32")
  with open(f"{out}/config.json") as f:
    rope = json.load(f)["rope_parameters"]
  assert rope == {**YARN, "original_max_position_embeddings": 16}
  assert load_hf(out, dtype="float32").config == ours.config
