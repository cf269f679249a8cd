"""The `data` config section shared by every training config (SFT here; RL and DPO reuse it).

This is the one place its keys and defaults are written: `xcoder_jax.data.pipeline` reads
every key and has no fallbacks of its own. A config file starts from `data_config()` and
overrides what its run needs (`configs/sft/tiny.py`, `configs/sft/qwen25_coder_7b.py`).
"""

from __future__ import annotations

import ml_collections


def data_config() -> ml_collections.ConfigDict:
  """The `data` section with the tiny demo's defaults."""
  c = ml_collections.ConfigDict()
  c.train_files = ""  # shard file(s): path, glob, directory or comma-separated list
  c.eval_files = ""  # same, for split="eval" (read once, unshuffled)
  c.tokenizer = "tiny"  # "tiny" or an HF tokenizer directory
  c.seq_len = 512  # tokens per row
  c.global_batch_size = 8  # rows per step over all hosts
  c.shuffle_seed = 0
  c.num_epochs = 1  # <= 0: repeat forever
  c.worker_count = 0  # Grain worker processes; 0 = in-process
  c.worker_buffer_size = 2  # batches buffered per worker
  c.packing = True  # FirstFit packing; False pads each example to seq_len
  c.packing_bins = 0  # bins per packing round; 0 = the host batch size
  c.truncate = True  # longer examples: True keeps the first seq_len tokens, False drops
  c.long_prompt = "error"  # prompt >= seq_len: "error" or "drop" (counted)
  c.drop_remainder = True  # last partial batch: drop, or (False) pad with empty rows
  # True also trains on records of SynthSmith's held-out split (logged loudly); evaluation on
  # that split is then contaminated. Evaluation (eval_files) always skips training records.
  c.train_on_heldout = False
  c.read_threads = 2  # ReadOptions.num_threads
  c.read_prefetch = 64  # ReadOptions.prefetch_buffer_size
  return c
