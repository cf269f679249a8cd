"""Batched text generation on the model's KV cache, the way MaxText and Tunix samplers work.

Prompts are left-padded to a bucketed length (segment id 0 on padding, positions counting from
0 at each prompt's first real token), so every row's last prompt token sits in the same column
and one prefill fills the cache for the whole batch. A jitted `lax.while_loop` then decodes one
token per step until every row has finished or `max_new_tokens` is reached.

Conventions (what RL and the teacher rely on):
- `Completion.tokens` includes the stop token when `finish_reason == "stop"` (GRPO must learn
  to stop); `Completion.text` leaves it out.
- `Completion.logprobs[i]` is the log-softmax of the RAW logits (temperature 1, no top-k/top-p)
  at the sampled token: the model's own log-probability, which GRPO's ratio needs. The token
  itself is drawn from the tempered, filtered distribution.
- Sampling is per row: each row has its own temperature, top-p, top-k, stop ids, token limit
  and seed. A row's random stream is `fold_in(key(seed), step)`, so its sample does not
  depend on which other requests share the batch (one shared SamplingParams gives row i the
  seed `seed + i`).

One compilation per (batch bucket, prompt bucket, max_new_tokens), shared by every Sampler of
the same architecture: batch sizes and prompt lengths are rounded up to powers of two (prompts
to at least 16), per-row stop-id lists are padded to at least 8.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
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
# (batch, prompt width, max_new_tokens) -> times traced; each trace is one compilation.
COMPILED_SHAPES: collections.Counter = collections.Counter()


class _Loop(NamedTuple):
  """The decode loop's carry."""

  step: jax.Array  # tokens sampled so far (the same for every row)
  cache: KVCache
  last_token: jax.Array  # [batch]
  tokens: jax.Array  # [batch, max_new_tokens]
  logprobs: jax.Array  # [batch, max_new_tokens]
  lengths: jax.Array  # [batch] tokens kept per row
  finished: jax.Array  # [batch] bool
  stopped: jax.Array  # [batch] bool: finished by a stop token


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


def sample_tokens(
  logits: jax.Array, keys: jax.Array, temperature: jax.Array, top_k: jax.Array, top_p: jax.Array
) -> tuple[jax.Array, jax.Array]:
  """Per-row sampling from float32 logits [batch, vocab]; returns (tokens, raw log-probs)."""
  scaled = logits / jnp.maximum(temperature, 1e-6)[:, None]
  filtering = jnp.any((top_k > 0) | (top_p < 1))
  scaled = jax.lax.cond(filtering, _filter_top_k_top_p, lambda x, *_: x, scaled, top_k, top_p)
  sampled = jax.vmap(jax.random.categorical)(keys, scaled)
  tokens = jnp.where(temperature > 0, sampled, jnp.argmax(logits, axis=-1)).astype(jnp.int32)
  logprobs = jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), tokens[:, None], -1)[:, 0]
  return tokens, logprobs


class Sampler:
  """Generates from a Qwen model; one compilation per padded shape, shared by every Sampler
  of the same architecture.

  With a mesh (given, or active at construction) the batch and the cache are sharded over the
  data axes by the `cache_batch` / `activation_batch` rules.
  """

  def __init__(self, model: Qwen, tokenizer, mesh: jax.sharding.Mesh | None = None):
    self.tokenizer = tokenizer
    self.mesh = mesh if mesh is not None else sharding.current_mesh()
    self._graphdef, self._state = nnx.split(model)
    self.default_stop_ids = sorted(
      {i for i in (tokenizer.eos_id, tokenizer.end_of_turn_id) if i is not None}
    )

  def generate(
    self,
    prompts: Sequence[Sequence[int]],
    params: SamplingParams | Sequence[SamplingParams] = SamplingParams(),
  ) -> list[Completion]:
    """Completes each token-id prompt.

    `params` per prompt, or one for all: then row i uses seed `params.seed + i`, so that
    repeats of a prompt (GRPO's group) get distinct samples.
    """
    if not prompts:
      return []
    if isinstance(params, SamplingParams):
      rows = [dataclasses.replace(params, seed=params.seed + i) for i in range(len(prompts))]
    else:
      rows = list(params)
    if len(rows) != len(prompts):
      raise ValueError(f"{len(prompts)} prompts but {len(rows)} SamplingParams")
    if any(len(p) == 0 for p in prompts):
      raise ValueError("empty prompt: every prompt needs at least one token")
    inputs = self._pack(prompts, rows)
    static = dict(
      graphdef=self._graphdef,
      pad_id=self.tokenizer.pad_id,
      max_new_tokens=max(r.max_new_tokens for r in rows),
    )
    if self.mesh is None:
      out = _generate(self._state, **inputs, **static)
    else:
      with sharding.use_mesh(self.mesh):
        out = _generate(self._state, **inputs, **static)
    tokens, logprobs, lengths, stopped = jax.device_get(out)
    results = []
    for i, prompt in enumerate(prompts):
      n = int(lengths[i])
      ids = tokens[i, :n].tolist()
      results.append(
        Completion(
          ids,
          logprobs[i, :n].tolist(),
          "stop" if stopped[i] else "length",
          len(prompt),
          n,
          self.decode_text(ids, bool(stopped[i])),
        )
      )
    return results

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

  def _pack(self, prompts, rows) -> dict[str, np.ndarray]:
    """Left-pads prompts and lays out per-row parameters in bucketed numpy arrays."""
    batch, width = bucket(len(prompts)), bucket(max(map(len, prompts)), MIN_PROMPT_BUCKET)
    pad = self.tokenizer.pad_id
    tokens = np.full((batch, width), pad, np.int32)
    segment_ids = np.zeros((batch, width), np.int32)
    positions = np.zeros((batch, width), np.int32)
    segment_ids[:, -1] = 1  # filler rows hold one pad token; their limit of 0 keeps them idle
    prompt_lengths = np.ones(batch, np.int32)
    limits = np.zeros(batch, np.int32)
    temperature = np.zeros(batch, np.float32)
    top_p = np.ones(batch, np.float32)
    top_k = np.zeros(batch, np.int32)
    seeds = np.zeros(batch, np.uint32)
    stops = [sorted(set(self.default_stop_ids) | set(r.stop_token_ids)) for r in rows]
    stop_ids = np.full((batch, bucket(max(map(len, stops)), 8)), -1, np.int32)  # -1: no stop
    for i, (prompt, row) in enumerate(zip(prompts, rows)):
      n = len(prompt)
      tokens[i, width - n :] = prompt
      segment_ids[i, width - n :] = 1
      positions[i, width - n :] = np.arange(n)
      prompt_lengths[i], limits[i] = n, row.max_new_tokens
      temperature[i], top_p[i], top_k[i] = row.temperature, row.top_p, row.top_k
      seeds[i] = row.seed & 0xFFFFFFFF
      stop_ids[i, : len(stops[i])] = stops[i]
    return dict(
      tokens=tokens,
      segment_ids=segment_ids,
      positions=positions,
      prompt_lengths=prompt_lengths,
      limits=limits,
      temperature=temperature,
      top_p=top_p,
      top_k=top_k,
      seeds=seeds,
      stop_ids=stop_ids,
    )


@functools.partial(jax.jit, static_argnames=("graphdef", "pad_id", "max_new_tokens"))
def _generate(
  state,
  tokens,
  segment_ids,
  positions,
  prompt_lengths,
  limits,
  temperature,
  top_p,
  top_k,
  seeds,
  stop_ids,
  *,
  graphdef,
  pad_id: int,
  max_new_tokens: int,
):
  """Prefill, then the decode loop; returns (tokens, logprobs, lengths, stopped).

  Module-level with the graphdef static, so every Sampler of one architecture (say, a new one
  per RL weight update) shares the compiled functions.
  """
  batch, width = tokens.shape
  COMPILED_SHAPES[(batch, width, max_new_tokens)] += 1  # runs only while tracing
  model = nnx.merge(graphdef, state)
  tokens = sharding.constrain(tokens, ("activation_batch", None))
  cache = _constrain_cache(KVCache.create(model.config, batch, width + max_new_tokens))
  # Prefill all but the last column and drop those logits, so XLA never computes the
  # [batch, width, vocab] projection; then the last column, every row's last prompt token.
  _, cache = model.decode(tokens[:, :-1], positions[:, :-1], cache, segment_ids[:, :-1])
  logits, cache = model.decode(tokens[:, -1:], positions[:, -1:], cache, segment_ids[:, -1:])
  keys = jax.vmap(jax.random.key)(seeds)

  def emit(loop: _Loop, logits: jax.Array) -> _Loop:
    """Samples the next token of every live row and records it."""
    step_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, loop.step)
    token, logprob = sample_tokens(logits, step_keys, temperature, top_k, top_p)
    live = ~loop.finished
    token = jnp.where(live, token, pad_id)
    stopped = live & jnp.any(token[:, None] == stop_ids, axis=-1)
    lengths = loop.lengths + live
    return _Loop(
      loop.step + 1,
      loop.cache,
      token,
      loop.tokens.at[:, loop.step].set(token),
      loop.logprobs.at[:, loop.step].set(jnp.where(live, logprob, 0.0)),
      lengths,
      loop.finished | stopped | (lengths >= limits),
      loop.stopped | stopped,
    )

  def keep_going(loop: _Loop) -> jax.Array:
    return (loop.step < max_new_tokens) & ~jnp.all(loop.finished)

  def decode_step(loop: _Loop) -> _Loop:
    position = (prompt_lengths + loop.step - 1)[:, None]
    step_logits, cache = model.decode(
      loop.last_token[:, None], position, loop.cache, jnp.ones_like(position)
    )
    return emit(loop._replace(cache=_constrain_cache(cache)), step_logits[:, 0])

  start = _Loop(
    jnp.zeros((), jnp.int32),
    cache,
    jnp.zeros(batch, jnp.int32),
    jnp.full((batch, max_new_tokens), pad_id, jnp.int32),
    jnp.zeros((batch, max_new_tokens), jnp.float32),
    jnp.zeros(batch, jnp.int32),
    limits <= 0,
    jnp.zeros(batch, bool),
  )
  loop = jax.lax.while_loop(keep_going, decode_step, emit(start, logits[:, -1]))
  return loop.tokens, loop.logprobs, loop.lengths, loop.stopped


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
