"""Text generation on the model's KV cache with continuous batching, the way serving engines
(vLLM, SGLang, JetStream) keep an accelerator busy.

Every row (one sample of one prompt) goes through a decode slot of a `continuous.SlotBatch`:
rows wait, take a slot when one is free, and leave it the step they finish, so a long answer
does not hold short ones' slots and finished rows stop costing decode work (the batch shrinks
by powers of two as it empties). Prompts are prefilled once per distinct prompt (the `n`
samples of a request, GRPO's group) and kept in a prompt cache while rows still need them
(longer with `prompt_cache_bytes`). `Sampler.stats` counts what was computed against what
was asked for: prefill tokens, slot occupancy, cache bytes per live token.

Conventions (what RL and the teacher rely on):
- `Completion.tokens` includes the stop token when a stop token ended the row (GRPO must
  learn to stop), and the token that completed a stop string; `Completion.text` leaves out
  the stop token, and is cut before a matched stop string (as SGLang does).
- `Completion.logprobs[i]` is the log-softmax of the RAW logits (temperature 1, no repetition
  penalty, no top-k/top-p) at the sampled token: the model's own log-probability, which
  GRPO's ratio needs. The token itself is drawn from the penalised, tempered, filtered
  distribution.
- Sampling is per row: each row has its own temperature, top-p, top-k, repetition penalty,
  stops, token limit and seed. A row's random stream is `fold_in(key(seed), step)`, step
  counting its own tokens, so its sample does not depend on which other requests share the
  batch or when it joined (one shared SamplingParams gives prompt i the seed `seed + i`; `n`
  samples of a request get `SamplingParams.samples`).
- Stop strings are matched on the host after each decode chunk of at most `STOP_CHECK_STEPS`
  steps; a matching row ends at the token that completed the string.

Compilations are bounded by buckets: slot counts, prompt widths (at least 16), newcomers per
insert and distinct prompts per prefill are powers of two, stop-id lists at least 8 wide;
one decode loop per (slots, width, max_new_tokens), shared by every Sampler of the same
architecture.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
from flax import nnx

from xcoder_jax import sharding
from xcoder_jax.models.qwen import Qwen
from xcoder_jax.rollout import slots as slots_lib
from xcoder_jax.rollout.continuous import MIN_PROMPT_BUCKET, Request, SlotBatch, bucket
from xcoder_jax.rollout.types import Completion, SamplingParams

MIN_SLOTS = 8  # a batch shrinks no further: below this a decode step costs about the same


@dataclasses.dataclass
class SamplerStats:
  """What a Sampler computed against what it was asked for, summed over its calls."""

  prefill_computed: int = 0  # prompt tokens prefilled, padding included
  prefill_requested: int = 0  # every row's own prompt tokens
  slot_steps: int = 0  # decode steps x slots
  live_slot_steps: int = 0  # decode steps x slots holding an unfinished row
  cache_bytes: int = 0  # KV cache bytes, summed over decode chunks
  live_tokens: int = 0  # tokens the rows held in it, summed over the same chunks

  def since(self, before: SamplerStats) -> SamplerStats:
    """What was counted after `before` (a copy of these stats taken earlier)."""
    return SamplerStats(
      *(getattr(self, f.name) - getattr(before, f.name) for f in dataclasses.fields(self))
    )

  def summary(self) -> dict[str, float]:
    ratio = lambda a, b: a / b if b else 0.0  # noqa: E731
    return {
      "prefill_tokens_computed_share": ratio(self.prefill_computed, self.prefill_requested),
      "slot_occupancy": ratio(self.live_slot_steps, self.slot_steps),
      "cache_bytes_per_live_token": ratio(self.cache_bytes, self.live_tokens),
    }


class PromptCache:
  """Prefilled prompts by (token ids, width): a prompt asked for again while its entry lives
  is not prefilled again. Entries that waiting rows need are kept; the others are kept up to
  `budget_bytes`, least recently used out first (0: dropped once no row waits for them)."""

  def __init__(self, budget_bytes: int = 0):
    self.budget_bytes = budget_bytes
    self.entries: collections.OrderedDict = collections.OrderedDict()  # key -> (block, row, bytes)

  def lookup(
    self,
    keys: Sequence[Hashable],
    prefill: Callable[[list], slots_lib.Prompts],
    keep: set,
  ) -> list[tuple[slots_lib.Prompts, int]]:
    """(block, row) for every key; the missing ones are prefilled together, once each."""
    missing = list(dict.fromkeys(k for k in keys if k not in self.entries))
    if missing:
      block = prefill([k[0] for k in missing])
      row_bytes = sum(x.nbytes for x in block) // block.tokens.shape[0]
      for j, key in enumerate(missing):
        self.entries[key] = (block, j, row_bytes)
    found = []
    for key in keys:
      self.entries.move_to_end(key)
      found.append(self.entries[key][:2])
    total = sum(entry[2] for entry in self.entries.values())
    for key in list(self.entries):
      if total <= self.budget_bytes:
        break
      if key not in keep:
        total -= self.entries.pop(key)[2]
    return found

  def clear(self) -> None:
    self.entries.clear()


class Sampler:
  """Generates from a decoder; compilations are shared by every Sampler of one architecture.

  With a mesh (given, or active at construction) the slots and the cache are sharded over the
  data axes by the `cache_batch` / `activation_batch` rules. `state` (the model's nnx.State)
  may be replaced by one of the same structure, shapes and shardings without recompiling
  (the prompt cache is emptied). `max_slots` bounds the rows decoding at once (None: every
  row of a call); `max_length` the prompt plus new tokens of one row (default: the model's
  maximum position).
  """

  def __init__(
    self,
    model: Qwen,
    tokenizer,
    mesh: jax.sharding.Mesh | None = None,
    *,
    max_slots: int | None = None,
    min_slots: int = MIN_SLOTS,
    prompt_cache_bytes: int = 0,
    max_length: int | None = None,
  ):
    if max_slots is not None and max_slots < 1:
      raise ValueError(f"max_slots must be >= 1 or None (every row at once), got {max_slots}")
    self.tokenizer = tokenizer
    self.mesh = mesh if mesh is not None else sharding.current_mesh()
    self.graphdef, state = nnx.split(model)
    self.model_config = model.config
    self.max_slots, self.min_slots = max_slots, min_slots
    self.max_length = max_length or model.config.max_position_embeddings
    self.default_stop_ids = list(tokenizer.stop_ids)
    self.prompt_cache = PromptCache(prompt_cache_bytes)
    self.stats = SamplerStats()
    self.batch_shards = (
      sharding.shard_count("activation_batch", self.mesh) if self.mesh is not None else 1
    )
    self.state = state

  @property
  def state(self):
    return self._state

  @state.setter
  def state(self, value) -> None:
    self._state = value
    self.prompt_cache.clear()  # prefilled with the old weights

  def generate(
    self,
    prompts: Sequence[Sequence[int]],
    params: SamplingParams | Sequence[SamplingParams] = SamplingParams(),
  ) -> list[Completion]:
    """Completes each token-id prompt `n` times: `len(prompts) * n` completions, all samples
    of prompt 0 first (SGLang's order).

    `params` per prompt, or one for all: then prompt i uses seed `params.seed + i`, so that
    repeats of a prompt (GRPO's group) get distinct samples.
    """
    if not prompts:
      return []
    if isinstance(params, SamplingParams):
      params = [dataclasses.replace(params, seed=params.seed + i) for i in range(len(prompts))]
    if len(params) != len(prompts):
      raise ValueError(f"{len(prompts)} prompts but {len(params)} SamplingParams")
    rows = [(prompt, row) for prompt, request in zip(prompts, params) for row in request.samples()]
    requests = [self.request(i, prompt, row) for i, (prompt, row) in enumerate(rows)]
    batch = self.new_batch(requests)
    for request in requests:
      batch.add(request)
    results: list[Completion | None] = [None] * len(requests)
    while batch.busy:
      for request, completion in batch.run():
        results[request.key] = completion
    return results

  def request(self, key: Hashable, prompt: Sequence[int], params: SamplingParams) -> Request:
    """One row, checked: a prompt and `params.max_new_tokens` must fit `max_length`."""
    if params.n != 1:
      raise ValueError(f"a row takes n=1, got n={params.n}; use SamplingParams.samples()")
    if len(prompt) == 0:
      raise ValueError("empty prompt: every prompt needs at least one token")
    if len(prompt) + params.max_new_tokens > self.max_length:
      raise ValueError(
        f"a prompt of {len(prompt)} tokens plus max_new_tokens={params.max_new_tokens} does "
        f"not fit the sampler's {self.max_length}-token rows; shorten one of them"
      )
    stop_ids = sorted(set(self.default_stop_ids) | set(params.stop_token_ids))
    return Request(key, [int(t) for t in prompt], params, stop_ids)

  def new_batch(
    self, requests: Sequence[Request], round_up: bool = False, max_slots: int | None = None
  ) -> SlotBatch:
    """A slot batch shaped for `requests` (`round_up`: new-token limit to a power of two, so
    that later requests fit it too), with at most `max_slots` (default: the Sampler's)."""
    max_new_tokens = max(r.params.max_new_tokens for r in requests)
    return SlotBatch(
      self,
      width=bucket(max(len(r.prompt) for r in requests), MIN_PROMPT_BUCKET),
      max_new_tokens=bucket(max_new_tokens) if round_up else max_new_tokens,
      stop_width=bucket(max(len(r.stop_ids) for r in requests), 8),
      max_slots=max_slots or self.max_slots,
      min_slots=self.min_slots,
    )

  def generate_text(
    self,
    messages_batch: Sequence[Sequence[Mapping[str, Any]]],
    params: SamplingParams | Sequence[SamplingParams] = SamplingParams(),
    **template_kwargs: Any,
  ) -> list[Completion]:
    """Chat in, chat out: applies the chat template (with the generation prompt) per row."""
    prompts = [
      self.tokenizer.apply_chat_template(
        m, add_generation_prompt=True, tokenize=True, **template_kwargs
      )
      for m in messages_batch
    ]
    return self.generate(prompts, params)

  def decode_text(self, tokens: Sequence[int], stopped: bool) -> str:
    """The completion's text: without its stop token, special tokens skipped (as SGLang does)."""
    return self.tokenizer.decode(tokens[:-1] if stopped else tokens, skip_special_tokens=True)

  def completion(self, request: Request, tokens, logprobs, length, stopped, match) -> Completion:
    """A finished row's Completion (`match`: tokens kept and the stop string, if one ended it)."""
    if match is not None:
      n, matched = match
      text = self.decode_text(tokens[:n].tolist(), False)
      text = text[: text.find(matched)] if matched in text else text
    else:
      n = length
      matched = int(tokens[n - 1]) if stopped else None
      text = self.decode_text(tokens[:n].tolist(), stopped)
    return Completion(
      tokens[:n].tolist(),
      logprobs[:n].tolist(),
      "length" if matched is None else "stop",
      len(request.prompt),
      n,
      text,
      matched,
    )

  def decode_memory(self, prompts: Sequence[Sequence[int]], params: SamplingParams) -> dict:
    """How the compiled decode loop for these rows holds the KV cache, from XLA itself: the
    cache's bytes, the loop's temporary and input-aliased bytes, and the number of
    instructions that copy a whole cache-shaped buffer (0 when the cache is updated in place).
    """
    requests = [self.request(i, p, dataclasses.replace(params, n=1)) for i, p in enumerate(prompts)]
    batch = self.new_batch(requests)
    for request in requests:
      batch.add(request)
    with self.on_mesh():
      batch.fill()
      halt = np.zeros(batch.size, bool)
      compiled = slots_lib.decode.lower(
        self.state, batch.state, 1, 0, halt, graphdef=self.graphdef, pad_id=self.tokenizer.pad_id
      ).compile()
    k = batch.state.cache.k
    copy = re.compile(r"= \w+\[" + ",".join(map(str, k.shape)) + r"\]\S* copy\(")
    copies = [line for line in compiled.as_text().splitlines() if copy.search(line)]
    analysis = compiled.memory_analysis()
    return dict(
      cache_bytes=2 * k.nbytes,
      temp_bytes=analysis.temp_size_in_bytes,
      aliased_bytes=analysis.alias_size_in_bytes,
      cache_copies=len(copies),
    )

  def on_mesh(self):
    return sharding.use_mesh(self.mesh) if self.mesh is not None else contextlib.nullcontext()
