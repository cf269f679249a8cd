"""One SFT example -> token ids with the prompt masked out of the loss.

``encode_messages`` renders a chat with the tokenizer's template and marks which tokens the
model is trained to produce: every assistant message's text and its closing ``<|im_end|>``
(whatever the template adds inside the assistant turn, such as Qwen3's empty
``<think>\\n\\n</think>\\n\\n``, counts as response too: it is what the model generates after the
generation prompt). System and user text, and template tokens (``<|im_start|>user\\n``, the
generation prompt ``<|im_start|>assistant\\n``, the newline after ``<|im_end|>``) are never in
the loss.

How: for assistant message i the text between ``render(messages[:i], add_generation_prompt=True)``
and ``render(messages[:i+1])`` (cut after its last ``<|im_end|>``) is its response span. The
rendered conversation is split at the span edges and each piece is tokenized on its own, so a
token never straddles prompt and response, and prompt text can never change a response token.
Templates must be prefix-consistent (rendering a prefix of the chat gives a prefix of the
text): every single-turn chat is, and so are Qwen2.5's multi-turn chats; Qwen3 drops earlier
turns' reasoning, so multi-turn Qwen3 chats with reasoning are refused with a clear error
(split them into single-turn records).

Long examples (``len(tokens) > seq_len``): ``truncate=True`` keeps the first ``seq_len`` tokens,
``truncate=False`` drops the example (counted in ``EncodeStats``). A prompt that leaves no room
for a single response token (prompt tokens >= seq_len) raises ``PromptTooLongError`` by default
(``long_prompt="error"``), naming the record, both lengths and the fixes; ``long_prompt="drop"``
drops and counts such records instead.

``to_features`` shifts an example into model inputs: ``inputs = tokens``, ``targets[t] =
tokens[t+1]`` within the example and ``pad_id`` at its last position, ``loss_mask[t] = 1`` iff
``targets[t]`` is a response token (so the last position always has loss 0). Because the shift
happens per example, before packing, targets can never cross into another packed example.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

LONG_PROMPT_POLICIES = ("error", "drop")


class PromptTooLongError(ValueError):
  """A prompt longer than the sequence length: nothing of the response could be trained."""


class AllRecordsDroppedError(ValueError):
  """Every record of a split is dropped by the length settings: training would see nothing."""


class TemplateError(ValueError):
  """The chat template does not render the conversation in a way the masking understands."""


@dataclasses.dataclass
class EncodeStats:
  """Counts of what the encoder did (per process; Grain workers keep their own)."""

  examples: int = 0
  truncated: int = 0
  dropped_too_long: int = 0
  dropped_long_prompt: int = 0
  skipped_split: int = 0  # held-out records in training, training records in evaluation

  def as_dict(self) -> dict[str, int]:
    return dataclasses.asdict(self)


def response_spans(
  messages: Sequence[Mapping[str, Any]], tokenizer, record_id: str = "?"
) -> tuple[str, list[tuple[int, int]]]:
  """The rendered conversation and the [start, end) character spans of assistant responses."""
  text = tokenizer.apply_chat_template(messages, add_generation_prompt=False)
  eot = tokenizer.end_of_turn
  spans = []
  for i, m in enumerate(messages):
    if m["role"] != "assistant":
      continue
    before = tokenizer.apply_chat_template(messages[:i], add_generation_prompt=True)
    upto = tokenizer.apply_chat_template(messages[: i + 1], add_generation_prompt=False)
    if not upto.startswith(before) or not text.startswith(upto):
      raise TemplateError(
        f"record {record_id!r}: the chat template renders assistant message {i} differently "
        "depending on what follows (typical of Qwen3 multi-turn chats with reasoning), so its "
        "response tokens cannot be located; split the conversation into single-turn records"
      )
    start, end = len(before), len(upto)
    if eot is not None:
      k = upto.rfind(eot, start, end)
      if k >= 0:
        end = k + len(eot)
    if spans and start < spans[-1][1]:
      raise TemplateError(f"record {record_id!r}: overlapping assistant spans; check the template")
    spans.append((start, end))
  return text, spans


def encode_messages(
  messages: Sequence[Mapping[str, Any]], tokenizer, record_id: str = "?"
) -> tuple[np.ndarray, np.ndarray]:
  """Returns ``tokens`` (int32) and ``loss_mask`` (int32 0/1, 1 = response token)."""
  text, spans = response_spans(messages, tokenizer, record_id)
  pieces: list[tuple[str, int]] = []
  pos = 0
  for start, end in spans:
    if start > pos:
      pieces.append((text[pos:start], 0))
    if end > start:
      pieces.append((text[start:end], 1))
    pos = end
  if pos < len(text):
    pieces.append((text[pos:], 0))
  ids = tokenizer.encode_batch([p for p, _ in pieces])
  tokens = np.fromiter((t for part in ids for t in part), dtype=np.int32)
  mask = (
    np.concatenate([np.full(len(part), flag, np.int32) for part, (_, flag) in zip(ids, pieces)])
    if pieces
    else np.zeros(0, np.int32)
  )
  return tokens, mask


def encode_example(
  record: Mapping[str, Any],
  tokenizer,
  seq_len: int,
  *,
  truncate: bool,
  long_prompt: str,
  stats: EncodeStats | None = None,
) -> dict[str, np.ndarray] | None:
  """A validated schema record -> ``{"tokens", "loss_mask"}`` of at most ``seq_len`` tokens.

  Returns None when the example is dropped (too long with ``truncate=False``, or a too-long
  prompt with ``long_prompt="drop"``). ``truncate`` and ``long_prompt`` are the ``data``
  config keys of the same names.
  """
  if long_prompt not in LONG_PROMPT_POLICIES:
    raise ValueError(f"long_prompt={long_prompt!r}; choose one of {LONG_PROMPT_POLICIES}")
  stats = stats if stats is not None else EncodeStats()
  rid = record.get("id", "?")
  tokens, mask = encode_messages(record["messages"], tokenizer, rid)
  stats.examples += 1
  response_at = np.flatnonzero(mask)
  if response_at.size == 0:
    raise TemplateError(
      f"record {rid!r}: no response token after tokenization (empty assistant "
      "content and a template without an end-of-turn token?); drop the record"
    )
  prompt_len = int(response_at[0])
  if prompt_len >= seq_len:
    if long_prompt == "drop":
      stats.dropped_long_prompt += 1
      return None
    raise PromptTooLongError(
      f"record {rid!r}: its prompt (system + user turns + chat template) is {prompt_len} tokens "
      f"but seq_len is {seq_len}, so not one response token fits. Fix: raise data.seq_len above "
      f"{prompt_len} (the whole example is {len(tokens)} tokens), shorten or remove this record, "
      "or set data.long_prompt='drop' to skip (and count) such records"
    )
  if len(tokens) > seq_len:
    if not truncate:
      stats.dropped_too_long += 1
      return None
    stats.truncated += 1
    tokens, mask = tokens[:seq_len], mask[:seq_len]
  return {"tokens": tokens, "loss_mask": mask}


def to_features(tokens: np.ndarray, token_mask: np.ndarray, pad_id: int) -> dict[str, np.ndarray]:
  """Per-example next-token features: ``inputs``, ``targets`` (int32), ``loss_mask`` (int32)."""
  tokens = np.asarray(tokens, np.int32)
  token_mask = np.asarray(token_mask, np.int32)
  targets = np.empty_like(tokens)
  targets[:-1] = tokens[1:]
  targets[-1:] = pad_id
  loss_mask = np.zeros_like(token_mask)
  loss_mask[:-1] = token_mask[1:]
  return {"inputs": tokens, "targets": targets, "loss_mask": loss_mask}
