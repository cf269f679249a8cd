"""Batched text generation on the model's KV cache, the way MaxText and Tunix samplers work.

Prompts are left-padded to a bucketed length (segment id 0 on padding, positions counting from
0 at each prompt's first real token), so every row's last prompt token sits in the same column
and one jitted prefill fills the cache for the whole batch. Rows with the same prompt (the `n`
samples of a request, GRPO's group, a repeated prompt) prefill it once: the prefill runs over
the distinct prompts and every row then takes its prompt's cache rows and last logits
(`Sampler.prefill_tokens` counts computed against requested). A jitted `lax.while_loop` then
decodes one token per step until every row has finished or a step limit is reached; the loop
state (KV cache included) is donated from call to call and the cache is written in place.

Conventions (what RL and the teacher rely on):
- `Completion.tokens` includes the stop token when a stop token ended the row (GRPO must
  learn to stop), and the token that completed a stop string; `Completion.text` leaves out
  the stop token, and is cut before a matched stop string (as SGLang does).
- `Completion.logprobs[i]` is the log-softmax of the RAW logits (temperature 1, no repetition
  penalty, no top-k/top-p) at the sampled token: the model's own log-probability, which
  GRPO's ratio needs. The token itself is drawn from the penalised, tempered, filtered
  distribution.
- Sampling is per row: each row has its own temperature, top-p, top-k, repetition penalty,
  stops, token limit and seed. A row's random stream is `fold_in(key(seed), step)`, so its
  sample does not depend on which other requests share the batch (one shared SamplingParams
  gives prompt i the seed `seed + i`; `n` samples of a request get `SamplingParams.samples`).
- Stop strings are matched on the host: rows with stop strings decode in chunks of
  `STOP_CHECK_STEPS` steps (the same compiled loop, run to a later step each time); after each
  chunk their new text is checked and a matching row is marked finished.

One compilation of the decode loop per (batch bucket, prompt bucket, max_new_tokens), and of
the prefill per those and the bucket of distinct prompts, shared by every Sampler of the same
architecture: batch sizes, distinct-prompt counts and prompt lengths are rounded up to powers
of two (prompts to at least 16), per-row stop-id lists are padded to at least 8.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from xcoder_jax import sharding
from xcoder_jax.models.qwen import KVCache, Qwen
from xcoder_jax.rollout.types import Completion, SamplingParams

MIN_PROMPT_BUCKET = 16
STOP_CHECK_STEPS = 32  # decode steps between host-side stop-string checks
# (function, batch, prompt width, max_new_tokens) -> times traced; each trace is a compilation.
COMPILED_SHAPES: collections.Counter = collections.Counter()


class _Rows(NamedTuple):
  """Per-row sampling parameters on the device."""

  prompt_lengths: jax.Array  # [batch]
  limits: jax.Array  # [batch] max new tokens (0 for filler rows)
  temperature: jax.Array
  top_p: jax.Array
  top_k: jax.Array
  repetition_penalty: jax.Array
  seeds: jax.Array  # [batch] uint32
  stop_ids: jax.Array  # [batch, stops]; -1 pads


class _Loop(NamedTuple):
  """The decode loop's carry, handed back and forth between the prefill and decode calls."""

  step: jax.Array  # tokens sampled so far (the same for every row)
  cache: KVCache
  last_token: jax.Array  # [batch]
  tokens: jax.Array  # [batch, max_new_tokens]
  logprobs: jax.Array  # [batch, max_new_tokens]
  lengths: jax.Array  # [batch] tokens kept per row
  finished: jax.Array  # [batch] bool
  stopped: jax.Array  # [batch] bool: finished by a stop token
  seen: jax.Array  # [batch, vocab] bool: in the prompt or output (repetition penalty)


def bucket(n: int, minimum: int = 1) -> int:
  """The power of two >= max(n, minimum): bounds the number of compiled shapes."""
  return max(minimum, 1 << max(0, n - 1).bit_length())


def _filter_top_k_top_p(logits: jax.Array, top_k: jax.Array, top_p: jax.Array) -> jax.Array:
  """Masks (to -inf) the tokens outside each row's top-k and nucleus (top-p) sets."""
  descending = -jnp.sort(-logits, axis=-1)
  rank = jnp.arange(logits.shape[-1])
  keep = (top_k[:, None] <= 0) | (rank[None] < top_k[:, None])
  probs = jax.nn.softmax(jnp.where(keep, descending, -jnp.inf), axis=-1)
  keep &= (jnp.cumsum(probs, axis=-1) - probs) < top_p[:, None]  # the first token always stays
  cutoff = jnp.take_along_axis(descending, keep.sum(-1, keepdims=True) - 1, axis=-1)
  return jnp.where(logits >= cutoff, logits, -jnp.inf)  # ties with the cutoff stay in


def apply_repetition_penalty(logits: jax.Array, seen: jax.Array, penalty: jax.Array) -> jax.Array:
  """Seen tokens' logits: positive ones divided by the row's penalty, negative multiplied."""
  penalty = penalty[:, None]
  return jnp.where(seen, jnp.where(logits > 0, logits / penalty, logits * penalty), logits)


def sample_tokens(
  logits: jax.Array, keys: jax.Array, temperature: jax.Array, top_k: jax.Array, top_p: jax.Array
) -> jax.Array:
  """Per-row tokens from float32 logits [batch, vocab]; temperature 0 rows take the argmax.

  An inverse-CDF draw (one uniform per row, as torch.multinomial does): on XLA:CPU it costs a
  fifth of Gumbel-max sampling, which draws and takes two logs of a number per vocabulary
  entry. The uniform is taken in (0, 1], so a zero-probability token is never drawn.
  """
  scaled = logits / jnp.maximum(temperature, 1e-6)[:, None]
  filtering = jnp.any((top_k > 0) | (top_p < 1))
  scaled = jax.lax.cond(filtering, _filter_top_k_top_p, lambda x, *_: x, scaled, top_k, top_p)
  cdf = jnp.cumsum(jax.nn.softmax(scaled, axis=-1), axis=-1)
  draw = (1.0 - jax.vmap(jax.random.uniform)(keys)) * cdf[:, -1]
  sampled = jnp.minimum(jnp.sum(cdf < draw[:, None], axis=-1), logits.shape[-1] - 1)
  return jnp.where(temperature > 0, sampled, jnp.argmax(logits, axis=-1)).astype(jnp.int32)


class Sampler:
  """Generates from a decoder; one compilation per padded shape, shared by every Sampler
  of the same architecture.

  With a mesh (given, or active at construction) the batch and the cache are sharded over the
  data axes by the `cache_batch` / `activation_batch` rules. `state` (the model's nnx.State)
  may be replaced by one of the same structure, shapes and shardings without recompiling.
  """

  def __init__(self, model: Qwen, tokenizer, mesh: jax.sharding.Mesh | None = None):
    self.tokenizer = tokenizer
    self.mesh = mesh if mesh is not None else sharding.current_mesh()
    self.graphdef, self.state = nnx.split(model)
    self.default_stop_ids = list(tokenizer.stop_ids)
    # prompt tokens prefilled (padding included) and asked for (each row's own prompt), summed
    # over this Sampler's calls: computed / requested is the sharing ratio
    self.prefill_tokens = {"computed": 0, "requested": 0}

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
    if any(len(p) == 0 for p in prompts):
      raise ValueError("empty prompt: every prompt needs at least one token")
    expanded = [(list(p), row) for p, request in zip(prompts, params) for row in request.samples()]
    prompts, rows = [p for p, _ in expanded], [r for _, r in expanded]
    with self._on_mesh():
      return self._run(prompts, rows)

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

  def _run(self, prompts: list[list[int]], rows: list[SamplingParams]) -> list[Completion]:
    """Prefill, then decode (in chunks while stop strings are pending); one row per prompt."""
    inputs, device_rows = self._pack(prompts, rows)
    max_new_tokens = max(r.max_new_tokens for r in rows)
    static = dict(graphdef=self.graphdef, pad_id=self.tokenizer.pad_id)
    self.prefill_tokens["computed"] += inputs["tokens"].size
    self.prefill_tokens["requested"] += sum(map(len, prompts))
    loop = _prefill(self.state, **inputs, rows=device_rows, max_new_tokens=max_new_tokens, **static)
    stops = _StopStrings(self.tokenizer, rows)
    halt = np.zeros(len(device_rows.limits), bool)
    done = 1  # the prefill sampled the first token
    while done < max_new_tokens:
      done = min(done + STOP_CHECK_STEPS, max_new_tokens) if stops.pending else max_new_tokens
      loop = _decode(self.state, loop, done, halt, device_rows, **static)
      if stops.pending:
        halt = stops.check(
          *jax.device_get((loop.tokens, loop.lengths, loop.stopped, loop.finished))
        )
      if np.all(jax.device_get(loop.finished) | halt):
        break
    tokens, logprobs, lengths, stopped = jax.device_get(
      (loop.tokens, loop.logprobs, loop.lengths, loop.stopped)
    )
    results = []
    for i, prompt in enumerate(prompts):
      if i in stops.matches:
        n, matched = stops.matches[i]
        text = self.decode_text(tokens[i, :n].tolist(), False)
        text = text[: text.find(matched)] if matched in text else text
      else:
        n = int(lengths[i])
        matched = int(tokens[i, n - 1]) if stopped[i] else None
        text = self.decode_text(tokens[i, :n].tolist(), bool(stopped[i]))
      results.append(
        Completion(
          tokens[i, :n].tolist(),
          logprobs[i, :n].tolist(),
          "length" if matched is None else "stop",
          len(prompt),
          n,
          text,
          matched,
        )
      )
    return results

  def decode_memory(self, prompts: Sequence[Sequence[int]], params: SamplingParams) -> dict:
    """How the compiled decode loop for this batch holds the KV cache, from XLA itself: the
    cache's bytes, the loop's temporary and input-aliased bytes, and the number of
    instructions that copy a whole cache-shaped buffer (0 when the cache is updated in place).
    """
    rows = [dataclasses.replace(params, n=1)] * len(prompts)
    inputs, device_rows = self._pack([list(p) for p in prompts], rows)
    static = dict(graphdef=self.graphdef, pad_id=self.tokenizer.pad_id)
    halt = np.zeros(len(device_rows.limits), bool)
    with self._on_mesh():
      loop = _prefill(
        self.state, **inputs, rows=device_rows, max_new_tokens=params.max_new_tokens, **static
      )
      compiled = _decode.lower(
        self.state, loop, params.max_new_tokens, halt, device_rows, **static
      ).compile()
    k = loop.cache.k
    copy = re.compile(r"= \w+\[" + ",".join(map(str, k.shape)) + r"\]\S* copy\(")
    copies = [line for line in compiled.as_text().splitlines() if copy.search(line)]
    analysis = compiled.memory_analysis()
    return dict(
      cache_bytes=2 * k.nbytes,
      temp_bytes=analysis.temp_size_in_bytes,
      aliased_bytes=analysis.alias_size_in_bytes,
      cache_copies=len(copies),
    )

  def _on_mesh(self):
    return sharding.use_mesh(self.mesh) if self.mesh is not None else contextlib.nullcontext()

  def _pack(self, prompts, rows) -> tuple[dict[str, np.ndarray], _Rows]:
    """Left-pads the distinct prompts and lays out per-row parameters in bucketed numpy
    arrays; `source[i]` is row i's prompt among the distinct ones (filler rows: the first)."""
    distinct: dict[tuple[int, ...], int] = {}
    source = np.zeros(bucket(len(prompts)), np.int32)
    for i, prompt in enumerate(prompts):
      source[i] = distinct.setdefault(tuple(prompt), len(distinct))
    batch, width = len(source), bucket(max(map(len, prompts)), MIN_PROMPT_BUCKET)
    # at least one distinct row per batch shard, so the prefill splits over the mesh as before
    shards = sharding.shard_count("activation_batch", self.mesh) if self.mesh is not None else 1
    prefill_rows = min(batch, max(bucket(len(distinct)), shards))
    pad = self.tokenizer.pad_id
    tokens = np.full((prefill_rows, width), pad, np.int32)
    segment_ids = np.zeros(tokens.shape, np.int32)
    positions = np.zeros(tokens.shape, np.int32)
    segment_ids[:, -1] = 1  # filler rows hold one pad token; their limit of 0 keeps them idle
    for prompt, j in distinct.items():
      n = len(prompt)
      tokens[j, width - n :] = prompt
      segment_ids[j, width - n :] = 1
      positions[j, width - n :] = np.arange(n)
    prompt_lengths = np.ones(batch, np.int32)
    limits = np.zeros(batch, np.int32)
    temperature = np.zeros(batch, np.float32)
    top_p = np.ones(batch, np.float32)
    top_k = np.zeros(batch, np.int32)
    penalty = np.ones(batch, np.float32)
    seeds = np.zeros(batch, np.uint32)
    stops = [sorted(set(self.default_stop_ids) | set(r.stop_token_ids)) for r in rows]
    stop_ids = np.full((batch, bucket(max(map(len, stops)), 8)), -1, np.int32)  # -1: no stop
    for i, (prompt, row) in enumerate(zip(prompts, rows)):
      prompt_lengths[i], limits[i] = len(prompt), row.max_new_tokens
      temperature[i], top_p[i], top_k[i] = row.temperature, row.top_p, row.top_k
      penalty[i], seeds[i] = row.repetition_penalty, row.seed & 0xFFFFFFFF
      stop_ids[i, : len(stops[i])] = stops[i]
    inputs = dict(tokens=tokens, segment_ids=segment_ids, positions=positions, source=source)
    return inputs, _Rows(
      prompt_lengths, limits, temperature, top_p, top_k, penalty, seeds, stop_ids
    )


class _StopStrings:
  """Host-side stop-string matching over the decoded text of the rows that have stop strings.

  After each decode chunk only a row's new tokens are checked, decoded together with the
  `window` tokens before them (a stop string of c characters spans at most c tokens), as
  SGLang checks a decoded tail. The first token whose text completes a stop string ends the
  row there, whatever the row sampled after it within the chunk.
  """

  def __init__(self, tokenizer, rows: Sequence[SamplingParams]):
    self.tokenizer = tokenizer
    self.strings = {i: row.stop for i, row in enumerate(rows) if row.stop}
    self.checked = dict.fromkeys(self.strings, 0)  # pending row -> tokens checked so far
    self.matches: dict[int, tuple[int, str]] = {}  # row -> (tokens kept, matched string)

  @property
  def pending(self) -> bool:
    return bool(self.checked)

  def check(self, tokens, lengths, stopped, finished) -> np.ndarray:
    """Checks the pending rows' new tokens; returns the rows to halt (every match so far)."""
    for i in list(self.checked):
      end = int(lengths[i]) - int(stopped[i])  # a stop token is never part of the text
      match = self._first_match(i, tokens[i], self.checked[i], end)
      if match is not None:
        self.matches[i] = match
      if match is not None or finished[i]:
        del self.checked[i]
      else:
        self.checked[i] = end
    halt = np.zeros(len(lengths), bool)
    halt[list(self.matches)] = True
    return halt

  def _first_match(self, i: int, row: np.ndarray, start: int, end: int):
    """(tokens kept, stop string) for the first token in [start, end) completing a match."""
    low = max(0, start - max(map(len, self.strings[i])))

    def earliest(stop: int) -> str | None:
      text = self.tokenizer.decode(row[low:stop].tolist(), skip_special_tokens=True)
      hits = [(text.find(s), k) for k, s in enumerate(self.strings[i]) if s in text]
      return self.strings[i][min(hits)[1]] if hits else None

    if end <= start or earliest(end) is None:
      return None
    return next((t, s) for t in range(start + 1, end + 1) if (s := earliest(t)) is not None)


@functools.partial(jax.jit, static_argnames=("graphdef", "pad_id", "max_new_tokens"))
def _prefill(
  state,
  tokens,
  segment_ids,
  positions,
  source,
  rows: _Rows,
  *,
  graphdef,
  pad_id: int,
  max_new_tokens: int,
) -> _Loop:
  """Fills the cache with the distinct prompts (`tokens` [distinct, width]), gives row i the
  cache rows and last logits of prompt `source[i]`, and samples every row's first token.

  Module-level with the graphdef static, so every Sampler of one architecture (say, a new one
  per RL weight update) shares the compiled functions.
  """
  (distinct, width), batch = tokens.shape, source.shape[0]
  COMPILED_SHAPES[("prefill", batch, width, max_new_tokens, distinct)] += 1  # while tracing
  model = nnx.merge(graphdef, state)
  tokens = sharding.constrain(tokens, ("activation_batch", None))
  cache = _constrain_cache(KVCache.create(model.config, distinct, width + max_new_tokens))
  # Prefill all but the last column and drop those logits, so XLA never computes the
  # [batch, width, vocab] projection; then the last column, every prompt's last token.
  _, cache = model.decode(tokens[:, :-1], positions[:, :-1], cache, segment_ids[:, :-1])
  logits, cache = model.decode(tokens[:, -1:], positions[:, -1:], cache, segment_ids[:, -1:])
  cache = _constrain_cache(
    KVCache(
      cache.k[:, source],
      cache.v[:, source],
      cache.segment_ids[source],
      cache.positions[source],
      cache.index,
    )
  )
  logits, tokens, segment_ids = logits[source], tokens[source], segment_ids[source]
  vocab = logits.shape[-1]
  in_prompt = jnp.where(segment_ids > 0, tokens, vocab)  # padding goes out of range: dropped
  seen = (
    jnp.zeros((batch, vocab), bool).at[jnp.arange(batch)[:, None], in_prompt].set(True, mode="drop")
  )
  start = _Loop(
    jnp.zeros((), jnp.int32),
    cache,
    jnp.zeros(batch, jnp.int32),
    jnp.full((batch, max_new_tokens), pad_id, jnp.int32),
    jnp.zeros((batch, max_new_tokens), jnp.float32),
    jnp.zeros(batch, jnp.int32),
    rows.limits <= 0,
    jnp.zeros(batch, bool),
    seen,
  )
  return _emit(start, logits[:, -1], rows, pad_id)


@functools.partial(jax.jit, static_argnames=("graphdef", "pad_id"), donate_argnames=("loop",))
def _decode(state, loop: _Loop, until, halt, rows: _Rows, *, graphdef, pad_id: int) -> _Loop:
  """Decodes one token per step until step `until` or every row is finished (`halt` rows
  are finished first). `until` is traced: running to a later step does not recompile."""
  batch, max_new_tokens = loop.tokens.shape
  width = loop.cache.k.shape[2] - max_new_tokens
  COMPILED_SHAPES[("decode", batch, width, max_new_tokens)] += 1  # runs only while tracing
  model = nnx.merge(graphdef, state)

  def keep_going(loop: _Loop) -> jax.Array:
    return (loop.step < until) & ~jnp.all(loop.finished)

  def decode_step(loop: _Loop) -> _Loop:
    position = (rows.prompt_lengths + loop.step - 1)[:, None]
    step_logits, cache = model.decode(
      loop.last_token[:, None], position, loop.cache, jnp.ones_like(position)
    )
    return _emit(loop._replace(cache=_constrain_cache(cache)), step_logits[:, 0], rows, pad_id)

  return jax.lax.while_loop(keep_going, decode_step, loop._replace(finished=loop.finished | halt))


def _emit(loop: _Loop, logits: jax.Array, rows: _Rows, pad_id: int) -> _Loop:
  """Samples the next token of every live row from its logits and records it."""
  keys = jax.vmap(jax.random.key)(rows.seeds)
  step_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, loop.step)
  penalized = apply_repetition_penalty(logits, loop.seen, rows.repetition_penalty)
  token = sample_tokens(penalized, step_keys, rows.temperature, rows.top_k, rows.top_p)
  logprob = jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), token[:, None], -1)[:, 0]
  live = ~loop.finished
  token = jnp.where(live, token, pad_id)
  stopped = live & jnp.any(token[:, None] == rows.stop_ids, axis=-1)
  lengths = loop.lengths + live
  seen = loop.seen.at[jnp.arange(token.shape[0]), token].set(True)
  return _Loop(
    loop.step + 1,
    loop.cache,
    token,
    loop.tokens.at[:, loop.step].set(token),
    loop.logprobs.at[:, loop.step].set(jnp.where(live, logprob, 0.0)),
    lengths,
    loop.finished | stopped | (lengths >= rows.limits),
    loop.stopped | stopped,
    sharding.constrain(seen, ("activation_batch", "activation_vocab")),
  )


def _constrain_cache(cache: KVCache) -> KVCache:
  """Shards the cache over the batch (a no-op without a mesh)."""
  kv = (None, "cache_batch", "cache_length", "activation_kv_heads", None)
  slots = ("cache_batch", "cache_length")
  return KVCache(
    sharding.constrain(cache.k, kv),
    sharding.constrain(cache.v, kv),
    sharding.constrain(cache.segment_ids, slots),
    sharding.constrain(cache.positions, slots),
    cache.index,
  )
