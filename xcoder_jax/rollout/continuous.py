"""Continuous batching: rows flow through a fixed number of decode slots.

A `SlotBatch` holds waiting rows and the slots' device state (`slots.Slots`). Each `run`:
1. sizes the batch to its demand (occupied + waiting slots, rounded up to a power of two
   between `min_slots` and `max_slots`): it grows when rows wait and shrinks once half the
   slots are empty, so finished rows stop costing decode work (XLA compiles one decode loop
   per slot count; a resize moves only the live slots);
2. admits waiting rows into free slots, first come first served: their prompts are
   prefilled once per distinct prompt (a prompt still in the Sampler's prompt cache, say a
   GRPO group's, is not prefilled again) and each newcomer samples its first token;
3. decodes until a step limit, or until enough slots are free to refill (1/REFILL_SHARE of
   them while rows wait) or to shrink (half of them);
4. checks stop strings on the host and hands back every finished row.
Every row keeps its own cache layout and random stream, so joining mid-way changes nothing.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Hashable, Sequence

import jax
import numpy as np

from xcoder_jax.rollout import slots as slots_lib
from xcoder_jax.rollout.types import Completion, SamplingParams

MIN_PROMPT_BUCKET = 16
STOP_CHECK_STEPS = 32  # decode steps between host-side stop-string checks
REFILL_SHARE = 8  # while rows wait, a batch is refilled once 1/8 of its slots are free


def bucket(n: int, minimum: int = 1) -> int:
  """The power of two >= max(n, minimum): bounds the number of compiled shapes."""
  return max(minimum, 1 << max(0, n - 1).bit_length())


def slot_limits(max_slots: int | None, min_slots: int, shards: int) -> tuple[int, int | None]:
  """(fewest, most) slots of a batch: powers of two that split evenly over the batch shards,
  the most being the largest within `max_slots` (None: no cap)."""
  if max_slots is not None:
    max_slots = max(1 << (max_slots.bit_length() - 1), bucket(shards))
    min_slots = min(min_slots, max_slots)
  return bucket(max(min_slots, shards)), max_slots


def first_slots(rows: int, limits: tuple[int, int | None]) -> int:
  """The slots a batch starts with for `rows` rows (its largest size: it only shrinks after)."""
  fewest, most = limits
  return bucket(rows, fewest) if most is None else min(bucket(rows, fewest), most)


@dataclasses.dataclass
class Request:
  """One row: a prompt and its single-sample parameters; `key` is the caller's handle."""

  key: Hashable
  prompt: list[int]
  params: SamplingParams
  stop_ids: list[int]
  stops: StopMatcher | None = None


class SlotBatch:
  """Continuous batching over the slots of one shape: prompts up to `width` tokens (a
  power of two), up to `max_new_tokens` new tokens and `stop_width` stop ids per row.
  `sampler` (a `sampler.Sampler`, not imported: it imports this module) lends the weights,
  tokenizer, prompt cache and stats."""

  def __init__(
    self,
    sampler,
    *,
    width: int,
    max_new_tokens: int,
    stop_width: int,
    max_slots: int | None,
    min_slots: int,
  ):
    self.sampler = sampler
    self.width, self.max_new_tokens, self.stop_width = width, max_new_tokens, stop_width
    self.min_slots, self.max_slots = slot_limits(max_slots, min_slots, sampler.batch_shards)
    self.waiting: collections.deque[Request] = collections.deque()
    self.occupant: list[Request | None] = []  # per slot
    self.state: slots_lib.Slots | None = None
    self._halt = np.zeros(0, bool)  # slots whose stop string matched: finished on the device next
    self._steps_seen = (0, 0)  # the state's step counters at the last account

  def fits(self, request: Request) -> bool:
    return (
      len(request.prompt) <= self.width
      and request.params.max_new_tokens <= self.max_new_tokens
      and len(request.stop_ids) <= self.stop_width
    )

  def add(self, request: Request) -> None:
    if not self.fits(request):
      raise ValueError("request does not fit this batch's shapes; make a new batch for it")
    if request.params.stop:
      request.stops = StopMatcher(self.sampler.tokenizer, request.params.stop)
    self.waiting.append(request)

  def requests(self) -> list[Request]:
    """Every row this batch holds: decoding, then waiting."""
    return [r for r in self.occupant if r is not None] + list(self.waiting)

  @property
  def busy(self) -> bool:
    return bool(self.waiting) or any(r is not None for r in self.occupant)

  @property
  def size(self) -> int:
    return len(self.occupant)

  def fill(self) -> None:
    """Sizes the batch to its demand and admits waiting rows into the free slots."""
    self._resize()
    free = [s for s, r in enumerate(self.occupant) if r is None]
    admitted = [(s, self.waiting.popleft()) for s in free[: len(self.waiting)]]
    if admitted:
      self._admit(admitted)

  def run(self, max_steps: int | None = None) -> list[tuple[Request, Completion]]:
    """Fills, decodes one chunk; returns the rows that finished in it."""
    self.fill()
    size = self.size
    if self.waiting:
      exit_live = size - max(1, size // REFILL_SHARE)
    elif size > self.min_slots:
      exit_live = size // 2
    else:
      exit_live = 0
    pending_stops = any(r is not None and r.stops and r.stops.pending for r in self.occupant)
    steps = self.max_new_tokens if max_steps is None else max_steps
    if pending_stops:
      steps = min(steps, STOP_CHECK_STEPS)
    sampler = self.sampler
    with sampler.on_mesh():
      self.state = slots_lib.decode(
        sampler.state,
        self.state,
        steps,
        exit_live,
        self._halt,
        graphdef=sampler.graphdef,
        pad_id=sampler.tokenizer.pad_id,
      )
    self._halt = np.zeros(size, bool)
    state = self.state
    finished, lengths, stopped, slot_steps, live_steps = jax.device_get(
      (state.finished, state.lengths, state.stopped, state.slot_steps, state.live_steps)
    )
    self._account(lengths, int(slot_steps), int(live_steps))
    return self._harvest(finished, lengths, stopped)

  def _resize(self) -> None:
    occupied = [s for s, r in enumerate(self.occupant) if r is not None]
    target = first_slots(len(occupied) + len(self.waiting), (self.min_slots, self.max_slots))
    size = self.size
    if self.state is not None and (target == size or (size // 2 < target < size)):
      return  # big enough, and not yet half empty
    config, pad_id = self.sampler.model_config, self.sampler.tokenizer.pad_id
    with self.sampler.on_mesh():
      if self.state is None:
        self.state = slots_lib.empty(
          config=config,
          slots=target,
          width=self.width,
          max_new_tokens=self.max_new_tokens,
          stop_width=self.stop_width,
          pad_id=pad_id,
        )
      else:
        keep = np.full(target, size, np.int32)  # out of range: an empty slot
        keep[: len(occupied)] = occupied
        self.state = slots_lib.resize(self.state, keep, config=config, size=target, pad_id=pad_id)
    self.occupant = [self.occupant[s] for s in occupied] + [None] * (target - len(occupied))
    self._halt = np.zeros(target, bool)

  def _admit(self, admitted: Sequence[tuple[int, Request]]) -> None:
    """Prefills the prompts not in the prompt cache, then inserts every newcomer."""
    sampler = self.sampler
    keys = [(tuple(r.prompt), self.width) for _, r in admitted]
    waiting = {(tuple(r.prompt), self.width) for r in self.waiting}
    blocks = sampler.prompt_cache.lookup(keys, self._prefill, waiting)
    by_block: dict[int, tuple[slots_lib.Prompts, list]] = {}  # id(block) -> block, members
    for (slot, request), (block, row) in zip(admitted, blocks):
      by_block.setdefault(id(block), (block, []))[1].append((slot, row, request))
      self.occupant[slot] = request
      self._halt[slot] = False
    for block, members in by_block.values():
      count = bucket(len(members))
      source = np.zeros(count, np.int32)
      targets = np.full(count, self.size, np.int32)  # out of range: a filler, dropped
      source[: len(members)] = [row for _, row, _ in members]
      targets[: len(members)] = [slot for slot, _, _ in members]
      rows = self._rows([r for _, _, r in members], count)
      with sampler.on_mesh():
        self.state = slots_lib.insert(
          self.state, block, source, targets, rows, pad_id=sampler.tokenizer.pad_id
        )
    sampler.stats.prefill_requested += sum(len(r.prompt) for _, r in admitted)

  def _prefill(self, prompts: Sequence[tuple[int, ...]]) -> slots_lib.Prompts:
    """One compiled prefill over distinct prompts, left-padded to the batch's width."""
    sampler = self.sampler
    count = bucket(len(prompts), sampler.batch_shards)
    tokens = np.full((count, self.width), sampler.tokenizer.pad_id, np.int32)
    segment_ids = np.zeros(tokens.shape, np.int32)
    positions = np.zeros(tokens.shape, np.int32)
    segment_ids[:, -1] = 1  # filler rows hold one pad token; nobody inserts them
    for j, prompt in enumerate(prompts):
      n = len(prompt)
      tokens[j, self.width - n :] = prompt
      segment_ids[j, self.width - n :] = 1
      positions[j, self.width - n :] = np.arange(n)
    sampler.stats.prefill_computed += tokens.size
    with sampler.on_mesh():
      return slots_lib.prefill_prompts(
        sampler.state, tokens, segment_ids, positions, graphdef=sampler.graphdef
      )

  def _rows(self, requests: Sequence[Request], count: int) -> slots_lib.Rows:
    """The newcomers' sampling parameters, padded to `count` rows."""
    prompt_lengths = np.zeros(count, np.int32)
    limits = np.zeros(count, np.int32)
    temperature = np.zeros(count, np.float32)
    top_p = np.ones(count, np.float32)
    top_k = np.zeros(count, np.int32)
    penalty = np.ones(count, np.float32)
    seeds = np.zeros(count, np.uint32)
    stop_ids = np.full((count, self.stop_width), -1, np.int32)  # -1: no stop
    for i, request in enumerate(requests):
      row = request.params
      prompt_lengths[i], limits[i] = len(request.prompt), row.max_new_tokens
      temperature[i], top_p[i], top_k[i] = row.temperature, row.top_p, row.top_k
      penalty[i], seeds[i] = row.repetition_penalty, row.seed & 0xFFFFFFFF
      stop_ids[i, : len(request.stop_ids)] = request.stop_ids
    return slots_lib.Rows(
      prompt_lengths, limits, temperature, top_p, top_k, penalty, seeds, stop_ids
    )

  def _harvest(self, finished, lengths, stopped) -> list[tuple[Request, Completion]]:
    """Checks stop strings, then frees the slots of finished rows and completes them."""
    occupied = [s for s, r in enumerate(self.occupant) if r is not None]
    checking = [s for s in occupied if self.occupant[s].stops and self.occupant[s].stops.pending]
    ending = sorted(set(checking).union(s for s in occupied if finished[s]))
    if not ending:
      return []
    tokens = dict(zip(ending, self._rows_of(self.state.tokens, ending)))  # one fetch for both
    matches = {}
    for slot in checking:
      stops = self.occupant[slot].stops
      stops.check(tokens[slot], int(lengths[slot]), bool(stopped[slot]), bool(finished[slot]))
      if stops.match is not None:
        matches[slot] = stops.match
        self._halt[slot] = True  # the device stops it at the next decode
    done = [s for s in ending if finished[s] or s in matches]
    logprobs = self._rows_of(self.state.logprobs, done) if done else []
    results = []
    for slot, row_logprobs in zip(done, logprobs):
      row_tokens = tokens[slot]
      request = self.occupant[slot]
      self.occupant[slot] = None
      completion = self.sampler.completion(
        request,
        row_tokens,
        row_logprobs,
        int(lengths[slot]),
        bool(stopped[slot]),
        matches.get(slot),
      )
      results.append((request, completion))
    return results

  def _rows_of(self, array: jax.Array, slots: Sequence[int]) -> np.ndarray:
    """`array[slots]` on the host; the index is padded to a power of two, so that the
    gather compiles once per bucket, not once per count."""
    index = np.zeros(bucket(len(slots)), np.int32)
    index[: len(slots)] = slots
    return jax.device_get(array[index])[: len(slots)]

  def _account(self, lengths, slot_steps: int, live_steps: int) -> None:
    """Adds this chunk's decode steps (all slots, live ones), its cache bytes and the tokens
    its rows hold (bytes per live token)."""
    stats, cache = self.sampler.stats, self.state.cache
    stats.slot_steps += slot_steps - self._steps_seen[0]
    stats.live_slot_steps += live_steps - self._steps_seen[1]
    self._steps_seen = (slot_steps, live_steps)
    stats.cache_bytes += cache.k.nbytes + cache.v.nbytes
    stats.live_tokens += sum(
      len(r.prompt) + int(n) for r, n in zip(self.occupant, lengths) if r is not None
    )


class StopMatcher:
  """Host-side stop-string matching over one row's decoded text.

  After each decode chunk only the row's new tokens are checked, decoded together with the
  tokens before them that a stop string could span (c characters span at most c tokens), as
  SGLang checks a decoded tail. The first token whose text completes a stop string ends the
  row there, whatever the row sampled after it within the chunk.
  """

  def __init__(self, tokenizer, strings: Sequence[str]):
    self.tokenizer, self.strings = tokenizer, tuple(strings)
    self.checked = 0  # tokens checked so far
    self.match: tuple[int, str] | None = None  # (tokens kept, matched string)
    self.pending = True

  def check(self, row: np.ndarray, length: int, stopped: bool, finished: bool) -> None:
    end = length - int(stopped)  # a stop token is never part of the text
    self.match = self._first_match(row, self.checked, end)
    self.checked = end
    self.pending = self.match is None and not finished

  def _first_match(self, row: np.ndarray, start: int, end: int):
    """(tokens kept, stop string) for the first token in [start, end) completing a match."""
    low = max(0, start - max(map(len, self.strings)))

    def earliest(stop: int) -> str | None:
      text = self.tokenizer.decode(row[low:stop].tolist(), skip_special_tokens=True)
      hits = [(text.find(s), k) for k, s in enumerate(self.strings) if s in text]
      return self.strings[min(hits)[1]] if hits else None

    if end <= start or earliest(end) is None:
      return None
    return next((t, s) for t in range(start + 1, end + 1) if (s := earliest(t)) is not None)
