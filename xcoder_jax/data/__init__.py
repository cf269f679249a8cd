"""SFT data: record schema, JSONL/Parquet readers, ArrayRecord shards, tokenizers, Grain pipeline.

See ``schema`` (record format), ``tokenizer`` (``load_tokenizer``), ``sft`` (masking),
``batch`` (``BATCH_FIELDS``: the batch layout), ``pipeline`` (``make_sft_iterator``) and
``demo`` (bundled demo data). The ``data`` config section lives in ``configs/data.py``.
"""

from xcoder_jax.data.batch import BATCH_FIELDS
from xcoder_jax.data.demo import generate_demo_records, make_demo_shards
from xcoder_jax.data.pipeline import SFTIterator, make_sft_iterator, num_records, packing_stats
from xcoder_jax.data.schema import RecordError, validate_record
from xcoder_jax.data.sft import (
  EncodeStats,
  PromptTooLongError,
  encode_example,
  encode_messages,
  to_features,
)
from xcoder_jax.data.shards import write_shards
from xcoder_jax.data.tokenizer import Tokenizer, load_tokenizer

__all__ = [
  "BATCH_FIELDS",
  "EncodeStats",
  "PromptTooLongError",
  "RecordError",
  "SFTIterator",
  "Tokenizer",
  "encode_example",
  "encode_messages",
  "generate_demo_records",
  "load_tokenizer",
  "make_demo_shards",
  "make_sft_iterator",
  "num_records",
  "packing_stats",
  "to_features",
  "validate_record",
  "write_shards",
]
