"""The layout of a training batch: the one definition every producer and consumer reads.

Every batch is a dict of arrays, each ``[rows, seq_len]``, with exactly these fields and dtypes:

===============  =======  ==========================================================
``inputs``       int32    token ids (padding: the tokenizer's ``pad_id``)
``targets``      int32    next token within the same segment; ``pad_id`` at each segment's
                          last position and on padding
``loss_mask``    float32  1.0 exactly where ``targets`` is a response token of a real
                          segment, 0.0 on prompt/template targets, segment ends and padding
``segment_ids``  int32    1, 2, ... per packed example in a row; 0 = padding
``positions``    int32    position within the segment, restarting at 0; 0 on padding
===============  =======  ==========================================================

Never use ``segment_ids`` as a loss mask; ``loss_mask`` is the 0/1 mask. The SFT pipeline
produces these batches, the train step shards and compiles for them.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

BATCH_FIELDS: MappingProxyType[str, np.dtype] = MappingProxyType(
  {
    "inputs": np.dtype(np.int32),
    "targets": np.dtype(np.int32),
    "loss_mask": np.dtype(np.float32),
    "segment_ids": np.dtype(np.int32),
    "positions": np.dtype(np.int32),
  }
)
TOKEN_FIELDS = ("inputs", "targets")  # padded with the tokenizer's pad_id; the rest with 0
