"""Tiny model on the bundled demo pairs (SynthSmith's demo): CPU, a minute.

  python -m launch.dpo --config=configs/dpo/tiny.py --workdir=/tmp/dpo

A random tiny model at a high learning rate separates the verified answers from the failing
ones within a few dozen steps; reference log-probs are precomputed into WORKDIR first.
"""

import os

from configs.dpo import base
from xcoder_jax.data import dpo

DEMO_PAIRS = os.path.join(
  os.path.dirname(os.path.abspath(dpo.__file__)), "assets", "demo_dpo_pairs.jsonl"
)


def get_config():
  c = base.get_config()
  c.model.preset = "tiny"
  c.model.dtype = "float32"
  # The asset holds both sides of SynthSmith's split: training reads the pairs marked
  # "train", evaluation those marked "heldout".
  c.data.train_files = DEMO_PAIRS
  c.data.eval_files = DEMO_PAIRS
  c.data.tokenizer = "tiny"
  c.data.seq_len = 512  # the demo pairs are 250-480 tiny-tokenizer tokens per side
  c.data.global_batch_size = 8
  c.data.num_epochs = 0  # repeat: the run is driven by train.steps
  c.dpo.beta = 0.1
  c.optimizer.lr = 1e-3
  c.optimizer.warmup_ratio = 0.05
  c.optimizer.schedule = "constant"
  c.train.steps = 40
  c.train.loss_chunk = 128
  c.train.log_every = 1  # one metrics.jsonl line per step
  c.train.save_every = 20
  c.train.keep = 2
  c.train.eval_every = 20
  c.train.eval_batches = 4
  return c
