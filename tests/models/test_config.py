"""Which ModelConfig fields a run may set (RUNTIME_FIELDS), and that the SFT config sets them."""

import dataclasses

import jax

from configs.sft import base
from xcoder_jax.models import get_preset
from xcoder_jax.models.build import abstract_model
from xcoder_jax.models.config import RUNTIME_FIELDS, ModelConfig

CONFIG = get_preset("tiny", vocab_size=512, num_layers=2)
# A value other than the tiny preset's for each runtime field.
OTHER_VALUES = {
  "param_dtype": "bfloat16",
  "dtype": "bfloat16",
  "remat_policy": "full",
  "scan_layers": False,
  "attention_impl": "chunked",
  "attention_chunk": 8,
  "attention_block_q": 16,
  "attention_block_kv": 32,
}


def test_sft_model_section_is_preset_plus_the_runtime_fields():
  assert set(base.get_config().model) == {"preset", *RUNTIME_FIELDS}


def test_runtime_fields_never_change_parameter_shapes():
  fields = {field.name for field in dataclasses.fields(ModelConfig)}
  assert set(RUNTIME_FIELDS) <= fields and len(set(RUNTIME_FIELDS)) == len(RUNTIME_FIELDS)
  assert set(OTHER_VALUES) == set(RUNTIME_FIELDS)

  def shapes(config):
    return jax.tree.map(lambda leaf: leaf.shape, abstract_model(config)[1])

  reference = shapes(CONFIG)
  for name, value in OTHER_VALUES.items():
    assert getattr(CONFIG, name) != value, name
    assert shapes(CONFIG.replace(**{name: value})) == reference, name
