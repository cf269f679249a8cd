"""Rollouts -> fixed-shape train rows, the host-side half of a GRPO step.

Each rollout becomes one row: prompt tokens then completion tokens, left-aligned and padded
to `seq_len` (segment id 1 on real tokens, 0 on padding). Position t holds input token t and
target token t + 1; the loss mask is 1 exactly where the target is a completion token, and
the rollout engine's log-probability of that token sits at the same position, so trainer and
engine log-probs compare position by position. Advantages are per row, broadcast to tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xcoder_jax.rollout.types import Completion

ROW_FIELDS = {
  "inputs": np.int32,
  "targets": np.int32,
  "positions": np.int32,
  "segment_ids": np.int32,
  "loss_mask": np.float32,
  "rollout_logprobs": np.float32,
  "advantages": np.float32,
}


def build_rows(
  prompts: Sequence[Sequence[int]],
  groups: Sequence[Sequence[Completion]],
  advantages: np.ndarray,
  seq_len: int,
  pad_id: int,
) -> dict[str, np.ndarray]:
  """Rows for `len(prompts) * n` rollouts (prompt-major, as the engine groups them).
  `advantages` is [num_prompts, n]; a row whose advantage should not train gets mask 0
  from the caller (dynamic sampling), never a truncated sequence."""
  rows = sum(len(g) for g in groups)
  out = {k: np.zeros((rows, seq_len), dtype) for k, dtype in ROW_FIELDS.items()}
  out["inputs"][:] = pad_id
  out["targets"][:] = pad_id
  row = 0
  for prompt, group, group_adv in zip(prompts, groups, advantages, strict=True):
    for completion, advantage in zip(group, group_adv, strict=True):
      tokens = list(prompt) + list(completion.tokens)
      if len(tokens) > seq_len + 1:
        raise ValueError(
          f"a rollout of {len(tokens)} tokens does not fit rows of {seq_len} + 1; "
          "rl.max_prompt_len + rl.max_new_tokens must bound every rollout"
        )
      n_in = len(tokens) - 1
      out["inputs"][row, :n_in] = tokens[:-1]
      out["targets"][row, :n_in] = tokens[1:]
      out["positions"][row, :n_in] = np.arange(n_in)
      out["segment_ids"][row, :n_in] = 1
      first = len(prompt) - 1  # the position whose target is the first completion token
      span = slice(first, first + len(completion.tokens))
      out["loss_mask"][row, span] = 1.0
      out["rollout_logprobs"][row, span] = completion.logprobs
      out["advantages"][row, :] = advantage
      row += 1
  return out


def split_minibatches(rows: dict[str, np.ndarray], count: int) -> list[dict[str, np.ndarray]]:
  """`count` mini-batches; mini-batch i takes rows i, i + count, ... so that every mini-batch
  mixes prompts and (rows sharded by position) each device keeps its own rows."""
  total = len(next(iter(rows.values())))
  if total % count:
    raise ValueError(f"{total} rollout rows do not split into {count} mini-batches")
  return [{k: v[i::count] for k, v in rows.items()} for i in range(count)]
