"""benchmarks/mfu.py at its CPU test size: the table and the JSON contract of its last line."""

import json

from absl import flags
from absl.testing import flagsaver

from benchmarks import mfu
from xcoder_jax.models import get_preset


def test_mfu_benchmark_reports_every_kernel_on_cpu(capsys):
  if not flags.FLAGS.is_parsed():  # other test modules define required flags of their own
    flags.FLAGS.mark_as_parsed()
  with flagsaver.flagsaver(
    kernels=["xla", "cudnn"], policies=["save_attention"], seq_lens=["32"], repeats=1, peak_gemm=512
  ):
    mfu.main([])
  out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
  assert out["backend"] == "cpu" and out["size"] == "tiny"
  assert 0 < out["mfu"]["xla"]["32"] and out["tokens_per_s"]["xla"]["32"] > 0
  assert "needs backend 'gpu'" in out["skipped"]["cudnn/save_attention/32"]


def test_causal_attention_counts_half_the_square_plus_the_diagonal():
  config = get_preset("tiny")
  dense = config.flops_per_token(0, backward=True)
  square = config.flops_per_token(64, backward=True) - dense
  assert mfu.causal_flops_per_token(config, 64) == dense + square * 65 / 128
