"""The shared train loop is reusable: a loss given to a trainer trains through it, owns its
normalisation under gradient accumulation, and its metrics reach metrics.jsonl."""

import jax.numpy as jnp
import pytest

from configs.sft import tiny
from xcoder_jax.fileio import read_jsonl
from xcoder_jax.train import loss as loss_lib
from xcoder_jax.train import sft


def _sequence_mean_loss(config):
  """Every sequence weighs the same: the mean over rows of each row's mean response loss."""
  chunk = config.train.loss_chunk

  def loss_fn(model, batch):
    logprobs, entropy = loss_lib.sequence_logprobs(model, batch, chunk, with_entropy=True)
    mask = batch["loss_mask"]
    tokens = jnp.sum(mask, axis=1)
    has_tokens = (tokens > 0).astype(jnp.float32)
    row_means = -jnp.sum(logprobs * mask, axis=1) / jnp.maximum(tokens, 1.0)
    return loss_lib.LossOutput(
      jnp.sum(row_means * has_tokens),
      jnp.sum(has_tokens),
      sums={"rows": jnp.sum(has_tokens)},
      means={"test_entropy": (jnp.sum(entropy * mask), jnp.sum(mask))},
    )

  return loss_fn


def _config(grad_accum):
  c = tiny.get_config()
  c.model.preset = "tiny"
  c.train.steps = 1
  c.train.log_every = 1
  c.train.eval_every = 0
  c.train.grad_accum = grad_accum
  c.train.async_checkpoint = False
  c.train.progress_bar = False
  c.data.seq_len = 128
  c.data.global_batch_size = 8
  c.data.packing = False
  c.data.eval_files = ""
  return c


@pytest.mark.slow
def test_a_trainers_own_loss_trains_through_the_shared_loop(tmp_path):
  runs = {}
  for accum in (1, 2):
    workdir = tmp_path / f"accum{accum}"
    config = _config(accum)
    sft.train(config, str(workdir), _sequence_mean_loss(config))
    runs[accum] = read_jsonl(str(workdir / "metrics.jsonl"))
    assert (workdir / "checkpoints" / "1").is_dir()
  one, two = runs[1][0], runs[2][0]
  assert one["rows"] == two["rows"] == 8  # unpacked: one example per row
  assert one["test_entropy"] > 0
  # The loss normalises over the global batch's rows, however it is split.
  assert one["loss"] == pytest.approx(two["loss"], rel=1e-5)
  assert one["grad_norm"] == pytest.approx(two["grad_norm"], rel=1e-4)


def test_metrics_resume_drops_redone_steps_and_a_torn_last_line(tmp_path):
  from xcoder_jax.train.metrics import MetricsWriter

  writer = MetricsWriter(str(tmp_path))
  for step in (1, 2, 3):
    writer.write(step, {"loss": 1.0 / step})
  writer.close()
  with open(tmp_path / "metrics.jsonl", "a") as f:
    f.write('{"step": 4, "lo')  # killed mid-write
  MetricsWriter(str(tmp_path), resume_step=2).close()
  assert [r["step"] for r in read_jsonl(str(tmp_path / "metrics.jsonl"))] == [1, 2]
