"""Tiny model on the bundled demo data: CPU, minutes. The default of the quickstart."""

from configs.sft import base


def get_config():
  c = base.get_config()
  c.model.preset = "tiny"
  c.model.dtype = "float32"
  c.data.train_files = "demo"  # the bundled demo set, written as shards under WORKDIR
  c.data.eval_files = "demo"  # its held-out shard
  c.data.tokenizer = "tiny"
  c.data.seq_len = 256
  c.data.global_batch_size = 8
  c.data.num_epochs = 100
  c.optimizer.lr = 1e-3
  c.optimizer.warmup_ratio = 0.05
  c.train.steps = 60
  c.train.loss_chunk = 128
  c.train.log_every = 5
  c.train.save_every = 20
  c.train.keep = 2
  c.train.eval_every = 20
  c.train.eval_batches = 4
  return c
