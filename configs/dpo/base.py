"""Every DPO setting with its default; other DPO configs start from this one.

The model, init, mesh, optimizer and train sections are SFT's (configs/sft/base.py); `init`
names the starting policy, which is also the frozen reference. `data` is the shared data
section (configs/data.py) read for pairs: `global_batch_size` counts pairs (2 rows each),
`seq_len` bounds prompt + response of each side, and `truncate` is the long-pair policy
(True: keep the first seq_len tokens, cutting the response; False: drop the pair). Pairs
follow the schema in xcoder_jax/data/dpo.py. `dpo` holds the loss and the reference.
"""

from __future__ import annotations

import ml_collections

from configs.sft import base as sft_base


def get_config() -> ml_collections.ConfigDict:
  c = sft_base.get_config()
  c.data.packing = False  # one sequence per row: chosen and rejected rows of the same pair
  c.data.num_epochs = 1
  c.dpo = ml_collections.ConfigDict(
    dict(
      loss="sigmoid",  # xcoder_jax.dpo.losses.PREFERENCE_LOSSES
      beta=0.1,  # strength of the pull towards the reference
      label_smoothing=0.0,  # sigmoid losses: the assumed chance a preference label is wrong
      reference="precompute",  # "precompute" (one pass, stored in WORKDIR) or "on_the_fly"
    )
  )
  c.optimizer.lr = 5e-7
  c.optimizer.schedule = "cosine"
  c.optimizer.warmup_ratio = 0.1
  c.optimizer.weight_decay = 0.0
  return c


def validate(config: ml_collections.ConfigDict) -> None:
  """Refuses keys this base config does not know."""
  sft_base.validate(config, get_config(), "configs/dpo/base.py")
