"""Every SFT setting with its default; other configs start from this one.

A key that is not here is a mistake (`validate` says which); override any key from the
command line: `--config.train.steps=100`.
"""

from __future__ import annotations

import ml_collections

from configs.data import data_config
from xcoder_jax import sharding


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  # Shapes come from `preset` (init.source=random) or from the HF dir / checkpoint; the other
  # keys are exactly xcoder_jax.models.config.RUNTIME_FIELDS, applied over whichever source.
  c.model = ml_collections.ConfigDict(
    dict(
      preset="tiny",
      param_dtype="float32",
      dtype="bfloat16",
      remat_policy="none",  # xcoder_jax.models.remat.REMAT_POLICIES
      scan_layers=True,
      attention_impl="xla",  # xcoder_jax.models.attention.ATTENTION_KERNELS
      attention_chunk=1024,  # queries per block for attention_impl="chunked"
      attention_block_q=128,  # query / key tiles of the Pallas kernels ("flash", "splash")
      attention_block_kv=128,
    )
  )
  c.init = ml_collections.ConfigDict(dict(source="random", path="", seed=0))
  c.mesh = ml_collections.ConfigDict(
    {
      **{axis: 1 for axis in sharding.MESH_AXES},
      "fsdp": -1,
      **{f"dcn_{axis}": 1 for axis in sharding.MESH_AXES},
    }
  )
  c.data = data_config()
  c.optimizer = ml_collections.ConfigDict(
    dict(
      lr=5e-5,
      schedule="cosine",
      warmup_ratio=0.03,
      min_lr_ratio=0.0,
      b1=0.9,
      b2=0.999,
      eps=1e-8,
      weight_decay=0.1,
      clip_norm=1.0,
    )
  )
  c.train = ml_collections.ConfigDict(
    dict(
      steps=1000,
      grad_accum=1,
      loss_chunk=2048,
      log_every=10,
      eval_every=0,
      eval_batches=8,
      save_every=500,
      keep=3,
      async_checkpoint=True,
      peak_flops_per_device=0.0,
      progress_bar=True,
    )
  )
  return c


def validate(
  config: ml_collections.ConfigDict,
  reference: ml_collections.ConfigDict | None = None,
  where: str = "configs/sft/base.py",
) -> None:
  """Refuses keys the base config (`reference`) does not know: typos would otherwise be
  silently ignored."""
  unknown = sorted(_keys(config) - _keys(reference or get_config()))
  if unknown:
    raise ValueError(f"unknown config keys {unknown}; the known keys are listed in {where}")


def _keys(config, prefix=""):
  out = set()
  for key, value in config.items():
    name = f"{prefix}{key}"
    out.add(name)
    if isinstance(value, ml_collections.ConfigDict):
      out |= _keys(value, name + ".")
  return out
