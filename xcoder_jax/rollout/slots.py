"""The sampler's device side: a fixed number of decode slots, each holding one row.

A row's KV cache row has the same layout whichever slot it lands in and whenever it joins:
its prompt left-padded into columns [0, width) (last prompt token at width - 1), then its
k-th sampled token at column width + k - 1. Each row advances its own `lengths` (tokens
sampled so far), which is also the step of its random stream `fold_in(key(seed), lengths)`,
so a row samples the same tokens alone, in a static batch, or after joining a running one.

Four compiled functions move the state, all module-level with the graphdef static so every
Sampler of one architecture shares them:
- `prefill_prompts` runs distinct prompts through the model once (the cache of their prompt
  columns and their last logits), whoever asks for them;
- `insert` puts prefilled prompts into free slots and samples each newcomer's first token;
- `decode` runs one token per live slot per step until a step limit, or until no more than
  `exit_live` slots are live (the host then refills the freed slots or shrinks the batch);
- `resize` moves the live slots into a batch of another size (the compaction and growth
  of continuous batching).
"""

from __future__ import annotations

import collections
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from xcoder_jax import sharding
from xcoder_jax.models.config import ModelConfig
from xcoder_jax.models.qwen import KVCache
from xcoder_jax.rollout.sampling import apply_repetition_penalty, sample_tokens

# (function, slots, prompt width, max_new_tokens, ...) -> times traced; each trace compiles.
COMPILED_SHAPES: collections.Counter = collections.Counter()


class Rows(NamedTuple):
  """Per-row sampling parameters on the device, one entry per slot (or per newcomer)."""

  prompt_lengths: jax.Array  # [slots]
  limits: jax.Array  # [slots] max new tokens (0 for an empty slot)
  temperature: jax.Array
  top_p: jax.Array
  top_k: jax.Array
  repetition_penalty: jax.Array
  seeds: jax.Array  # [slots] uint32
  stop_ids: jax.Array  # [slots, stops]; -1 pads


class Prompts(NamedTuple):
  """Prefilled prompts: their cache columns [0, width) and the logits after their last token."""

  k: jax.Array  # [layers, prompts, width, kv_heads, head_dim]
  v: jax.Array
  segment_ids: jax.Array  # [prompts, width]
  positions: jax.Array  # [prompts, width]
  tokens: jax.Array  # [prompts, width] (padding: segment 0)
  logits: jax.Array  # [prompts, vocab] float32


class Slots(NamedTuple):
  """The decode state of every slot, handed from call to call (donated, updated in place)."""

  cache: KVCache  # [slots, width + max_new_tokens] columns; its index is set per step
  rows: Rows
  last_token: jax.Array  # [slots]
  tokens: jax.Array  # [slots, max_new_tokens]
  logprobs: jax.Array  # [slots, max_new_tokens]
  lengths: jax.Array  # [slots] tokens sampled so far
  finished: jax.Array  # [slots] bool (an empty slot is finished)
  stopped: jax.Array  # [slots] bool: finished by a stop token
  seen: jax.Array  # [slots, vocab] bool: in the prompt or output (repetition penalty)
  slot_steps: jax.Array  # scalar: slots x decode steps run (occupancy's denominator)
  live_steps: jax.Array  # scalar: live slots summed over decode steps (its numerator)


def empty_rows(count: int, stop_width: int) -> Rows:
  zeros = jnp.zeros(count, jnp.int32)
  return Rows(
    zeros,
    zeros,
    jnp.zeros(count, jnp.float32),
    jnp.ones(count, jnp.float32),
    zeros,
    jnp.ones(count, jnp.float32),
    jnp.zeros(count, jnp.uint32),
    jnp.full((count, stop_width), -1, jnp.int32),
  )


@functools.partial(
  jax.jit, static_argnames=("config", "slots", "width", "max_new_tokens", "stop_width", "pad_id")
)
def empty(
  *, config: ModelConfig, slots: int, width: int, max_new_tokens: int, stop_width: int, pad_id: int
) -> Slots:
  """`slots` empty slots (finished, token limit 0) for prompts up to `width` tokens."""
  COMPILED_SHAPES[("empty", slots, width, max_new_tokens)] += 1
  shape = dict(slots=slots, width=width, max_new_tokens=max_new_tokens, stop_width=stop_width)
  return _empty(config=config, pad_id=pad_id, **shape)


def _empty(
  *, config: ModelConfig, slots: int, width: int, max_new_tokens: int, stop_width: int, pad_id: int
) -> Slots:
  cache = KVCache.create(config, slots, width + max_new_tokens)
  state = Slots(
    cache._replace(index=jnp.zeros(slots, jnp.int32)),  # each slot writes its own column
    empty_rows(slots, stop_width),
    jnp.zeros(slots, jnp.int32),
    jnp.full((slots, max_new_tokens), pad_id, jnp.int32),
    jnp.zeros((slots, max_new_tokens), jnp.float32),
    jnp.zeros(slots, jnp.int32),
    jnp.ones(slots, bool),
    jnp.zeros(slots, bool),
    jnp.zeros((slots, config.vocab_size), bool),
    jnp.zeros((), jnp.int32),
    jnp.zeros((), jnp.int32),
  )
  return _constrain(state)


@functools.partial(jax.jit, static_argnames=("graphdef",))
def prefill_prompts(state, tokens, segment_ids, positions, *, graphdef) -> Prompts:
  """Runs left-padded prompts `tokens` [prompts, width] through the model."""
  COMPILED_SHAPES[("prefill", *tokens.shape)] += 1
  model = nnx.merge(graphdef, state)
  tokens = sharding.constrain(tokens, ("activation_batch", None))
  cache = _constrain_cache(KVCache.create(model.config, *tokens.shape))
  # Prefill all but the last column and drop those logits, so XLA never computes the
  # [prompts, width, vocab] projection; then the last column, every prompt's last token.
  _, cache = model.decode(tokens[:, :-1], positions[:, :-1], cache, segment_ids[:, :-1])
  logits, cache = model.decode(tokens[:, -1:], positions[:, -1:], cache, segment_ids[:, -1:])
  return Prompts(cache.k, cache.v, cache.segment_ids, cache.positions, tokens, logits[:, -1])


@functools.partial(jax.jit, static_argnames=("pad_id",), donate_argnames=("slots",))
def insert(slots: Slots, prompts: Prompts, source, targets, rows: Rows, *, pad_id: int) -> Slots:
  """Newcomer j takes prefilled prompt `source[j]` into slot `targets[j]` (out of range:
  a filler, dropped) and samples its first token; the slot's old row is forgotten."""
  count, width = source.shape[0], prompts.tokens.shape[1]
  COMPILED_SHAPES[("insert", slots.lengths.shape[0], width, slots.tokens.shape[1], count)] += 1
  take = functools.partial(jnp.take, indices=source, axis=0)
  columns = slots.cache.segment_ids.shape[1]
  pad_columns = ((0, 0), (0, columns - width))
  cache = KVCache(
    slots.cache.k.at[:, targets, :width].set(jnp.take(prompts.k, source, 1), mode="drop"),
    slots.cache.v.at[:, targets, :width].set(jnp.take(prompts.v, source, 1), mode="drop"),
    slots.cache.segment_ids.at[targets].set(
      jnp.pad(take(prompts.segment_ids), pad_columns), mode="drop"
    ),
    slots.cache.positions.at[targets].set(
      jnp.pad(take(prompts.positions), pad_columns), mode="drop"
    ),
    slots.cache.index,
  )
  tokens, segment_ids = take(prompts.tokens), take(prompts.segment_ids)
  vocab = slots.seen.shape[1]
  in_prompt = jnp.where(segment_ids > 0, tokens, vocab)  # padding goes out of range: dropped
  seen = (
    jnp.zeros((count, vocab), bool).at[jnp.arange(count)[:, None], in_prompt].set(True, mode="drop")
  )
  fresh = Slots(
    None,
    rows,
    jnp.zeros(count, jnp.int32),
    jnp.full((count, slots.tokens.shape[1]), pad_id, jnp.int32),
    jnp.zeros((count, slots.tokens.shape[1]), jnp.float32),
    jnp.zeros(count, jnp.int32),
    rows.limits <= 0,
    jnp.zeros(count, bool),
    seen,
    slots.slot_steps,
    slots.live_steps,
  )
  fresh = _emit(fresh, take(prompts.logits), pad_id)
  merged = _map_per_slot(lambda old, new: old.at[targets].set(new, mode="drop"), slots, fresh)
  return _constrain(merged._replace(cache=cache))


@functools.partial(jax.jit, static_argnames=("graphdef", "pad_id"), donate_argnames=("slots",))
def decode(state, slots: Slots, steps, exit_live, halt, *, graphdef, pad_id: int) -> Slots:
  """Decodes one token per live slot per step, for at most `steps` steps and while more than
  `exit_live` slots are live (`halt` slots are finished first). Both limits are traced:
  changing them does not recompile."""
  count, max_new_tokens = slots.tokens.shape
  width = slots.cache.k.shape[2] - max_new_tokens
  COMPILED_SHAPES[("decode", count, width, max_new_tokens)] += 1  # runs only while tracing
  model = nnx.merge(graphdef, state)

  def keep_going(carry) -> jax.Array:
    step, slots = carry
    return (step < steps) & (jnp.sum(~slots.finished) > exit_live)

  def decode_step(carry):
    step, slots = carry
    position = (slots.rows.prompt_lengths + slots.lengths - 1)[:, None]
    cache = slots.cache._replace(index=width + slots.lengths - 1)
    logits, cache = model.decode(
      slots.last_token[:, None], position, cache, jnp.ones_like(position)
    )
    live = jnp.sum(~slots.finished, dtype=jnp.int32)
    slots = slots._replace(
      cache=_constrain_cache(cache),
      slot_steps=slots.slot_steps + count,
      live_steps=slots.live_steps + live,
    )
    return step + 1, _emit(slots, logits[:, 0], pad_id)

  start = (jnp.zeros((), jnp.int32), slots._replace(finished=slots.finished | halt))
  return jax.lax.while_loop(keep_going, decode_step, start)[1]


@functools.partial(jax.jit, static_argnames=("config", "size", "pad_id"))
def resize(slots: Slots, keep, *, config: ModelConfig, size: int, pad_id: int) -> Slots:
  """A batch of `size` slots: slot i holds old slot `keep[i]`, or is empty where `keep[i]` is
  out of range (`keep` has `size` entries, so one compilation serves any number of live
  slots). Not donated: XLA cannot alias buffers of another shape; the caller drops the old
  batch at once."""
  count, max_new_tokens = slots.tokens.shape
  width = slots.cache.k.shape[2] - max_new_tokens
  COMPILED_SHAPES[("resize", count, width, max_new_tokens, size)] += 1
  target = _empty(
    config=config,
    slots=size,
    width=width,
    max_new_tokens=max_new_tokens,
    stop_width=slots.rows.stop_ids.shape[1],
    pad_id=pad_id,
  )
  kept = keep < count

  def pick(new: jax.Array, old: jax.Array, axis: int = 0) -> jax.Array:
    moved = jnp.take(old, jnp.minimum(keep, count - 1), axis)
    return jnp.where(kept.reshape((-1,) + (1,) * (old.ndim - axis - 1)), moved, new)

  cache = KVCache(
    pick(target.cache.k, slots.cache.k, 1),
    pick(target.cache.v, slots.cache.v, 1),
    pick(target.cache.segment_ids, slots.cache.segment_ids),
    pick(target.cache.positions, slots.cache.positions),
    target.cache.index,
  )
  per_slot = _map_per_slot(pick, target, slots)
  return _constrain(
    per_slot._replace(cache=cache, slot_steps=slots.slot_steps, live_steps=slots.live_steps)
  )


def _emit(slots: Slots, logits: jax.Array, pad_id: int) -> Slots:
  """Samples the next token of every live slot from its logits and records it."""
  rows = slots.rows
  keys = jax.vmap(lambda seed, step: jax.random.fold_in(jax.random.key(seed), step))(
    rows.seeds, slots.lengths
  )
  penalized = apply_repetition_penalty(logits, slots.seen, rows.repetition_penalty)
  token = sample_tokens(penalized, keys, rows.temperature, rows.top_k, rows.top_p)
  logprob = jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), token[:, None], -1)[:, 0]
  live = ~slots.finished
  token = jnp.where(live, token, pad_id)
  stopped = live & jnp.any(token[:, None] == rows.stop_ids, axis=-1)
  lengths = slots.lengths + live
  index = jnp.arange(token.shape[0])
  written = jnp.where(live, slots.lengths, slots.tokens.shape[1])  # finished rows: dropped
  return slots._replace(
    last_token=token,
    tokens=slots.tokens.at[index, written].set(token, mode="drop"),
    logprobs=slots.logprobs.at[index, written].set(logprob, mode="drop"),
    lengths=lengths,
    finished=slots.finished | stopped | (lengths >= rows.limits),
    stopped=slots.stopped | stopped,
    seen=slots.seen.at[index, token].set(True),
  )


def _map_per_slot(fn, slots: Slots, *others: Slots) -> Slots:
  """`fn` over the per-slot arrays of `slots` (and of `others`, leaf by leaf); the cache and
  the step counters are left out of the map and kept from `slots`."""
  shared = dict(cache=None, slot_steps=None, live_steps=None)
  mapped = jax.tree.map(fn, slots._replace(**shared), *(o._replace(**shared) for o in others))
  return mapped._replace(
    cache=slots.cache, slot_steps=slots.slot_steps, live_steps=slots.live_steps
  )


def _constrain(slots: Slots) -> Slots:
  """Shards every per-slot array over the batch axes (a no-op without a mesh)."""
  per_slot = _map_per_slot(
    lambda x: sharding.constrain(x, ("activation_batch",) + (None,) * (x.ndim - 1)), slots
  )
  seen = sharding.constrain(slots.seen, ("activation_batch", "activation_vocab"))
  return per_slot._replace(cache=_constrain_cache(slots.cache), seen=seen)


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
