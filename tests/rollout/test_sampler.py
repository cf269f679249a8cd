"""The KV-cache sampler against the full forward (no cache): greedy tokens, raw log-probs,
left padding, per-row stops (tokens and strings), seeded sampling, n samples per prompt,
top-k/top-p, repetition penalty, a bounded number of compiles and a cache updated in place."""

import collections
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xcoder_jax import sharding
from xcoder_jax.data.tokenizer import load_tokenizer
from xcoder_jax.models import ModelConfig
from xcoder_jax.models.build import create_model
from xcoder_jax.rollout import RequestBatcher, Sampler, SamplingParams, continuous, sampling
from xcoder_jax.rollout import slots as slots_lib

MAX_NEW = 8
CONFIG = ModelConfig(
  family="qwen3",
  vocab_size=4096,
  hidden_size=64,
  intermediate_size=128,
  num_layers=2,
  num_heads=4,
  num_kv_heads=2,
  head_dim=16,
  dtype="float32",
)
PROMPTS = [[5, 17, 300], list(range(40, 51)), list(range(900, 916))]  # 3, 11, 16 tokens
GREEDY = SamplingParams(max_new_tokens=MAX_NEW, temperature=0.0)


@pytest.fixture(scope="module")
def tokenizer():
  return load_tokenizer("tiny")


@pytest.fixture(scope="module")
def model():
  return create_model(CONFIG, seed=0)


@pytest.fixture(scope="module")
def sampler(model, tokenizer):
  return Sampler(model, tokenizer)


_forward = jax.jit(lambda m, t, s: m(t, segment_ids=s))


def full_forward(model, prompts, completions, width=32):
  """Argmax tokens and raw log-probs at each completion position, from one uncached forward."""
  tokens = np.zeros((len(prompts), width), np.int32)
  segment_ids = np.zeros_like(tokens)
  for i, (p, c) in enumerate(zip(prompts, completions)):
    row = list(p) + list(c)
    tokens[i, : len(row)], segment_ids[i, : len(row)] = row, 1
  logits = np.asarray(_forward(model, tokens, segment_ids))
  logprobs = np.asarray(jax.nn.log_softmax(logits, axis=-1))
  out = []
  for i, (p, c) in enumerate(zip(prompts, completions)):
    at = np.arange(len(p) - 1, len(p) - 1 + len(c))
    out.append((logits[i, at].argmax(-1).tolist(), logprobs[i, at, c]))
  return out


def check_against_full_forward(model, prompts, completions, stop_ids):
  """Greedy from the cache must be the step-by-step argmax of the full forward, and stop right."""
  for (argmax, logprobs), c in zip(
    full_forward(model, prompts, [c.tokens for c in completions]), completions
  ):
    assert c.tokens == argmax
    np.testing.assert_allclose(c.logprobs, logprobs, atol=2e-5)
    hits = [i for i, t in enumerate(c.tokens) if t in stop_ids]
    if c.finish_reason == "stop":
      assert hits == [len(c.tokens) - 1]
    else:
      assert not hits and len(c.tokens) == MAX_NEW
    assert c.completion_tokens == len(c.tokens) == len(c.logprobs)


def test_greedy_equals_full_forward_and_left_padding_is_invisible(model, sampler, tokenizer):
  batched = sampler.generate(PROMPTS, GREEDY)
  check_against_full_forward(model, PROMPTS, batched, {tokenizer.eos_id})
  assert [c.prompt_tokens for c in batched] == [3, 11, 16]
  for prompt, together in zip(PROMPTS, batched):
    [alone] = sampler.generate([prompt], GREEDY)
    assert alone.tokens == together.tokens
    np.testing.assert_allclose(alone.logprobs, together.logprobs, atol=1e-5)
  assert batched[0].text == tokenizer.decode(batched[0].tokens, skip_special_tokens=True)


def test_each_row_stops_on_its_own_stop_token(sampler, tokenizer):
  free = sampler.generate(PROMPTS, GREEDY)
  stop = free[0].tokens[2]
  params = [
    SamplingParams(max_new_tokens=MAX_NEW, temperature=0.0, stop_token_ids=(stop,)),
    GREEDY,
    GREEDY,
  ]
  stopped = sampler.generate(PROMPTS, params)
  first = free[0].tokens.index(stop)
  assert stopped[0].finish_reason == "stop" and stopped[0].tokens == free[0].tokens[: first + 1]
  assert stopped[0].matched_stop == stop
  assert stopped[0].text == tokenizer.decode(stopped[0].tokens[:-1], skip_special_tokens=True)
  assert [c.tokens for c in stopped[1:]] == [c.tokens for c in free[1:]]
  assert [c.finish_reason for c in stopped[1:]] == ["length", "length"]
  assert [c.matched_stop for c in stopped[1:]] == [None, None]


def test_eos_stops_one_row_while_the_others_run_to_length(sampler, tokenizer):
  """Swapping the output columns of eos and a token row 0 emits makes row 0 emit eos there."""
  reference = sampler.generate(PROMPTS, GREEDY)
  others = {t for c in reference[1:] for t in c.tokens}
  swap = next(t for t in reference[0].tokens[1:] if t not in others)
  eos = tokenizer.eos_id
  swapped = create_model(CONFIG, seed=0)
  head = np.array(swapped.lm_head[...])
  head[:, [eos, swap]] = head[:, [swap, eos]]
  swapped.lm_head[...] = head
  completions = Sampler(swapped, tokenizer).generate(PROMPTS, GREEDY)
  check_against_full_forward(swapped, PROMPTS, completions, {eos})
  cut = reference[0].tokens.index(swap)
  assert completions[0].tokens == reference[0].tokens[:cut] + [eos]
  assert completions[0].finish_reason == "stop"
  assert [c.finish_reason for c in completions[1:]] == ["length", "length"]


def test_sampling_is_seeded_and_logprobs_are_untempered(model, sampler):
  def run(seed):
    return sampler.generate(
      PROMPTS, SamplingParams(max_new_tokens=MAX_NEW, temperature=0.7, seed=seed)
    )

  first, again, other = run(0), run(0), run(1)
  assert [c.tokens for c in first] == [c.tokens for c in again]
  assert [c.tokens for c in first] != [c.tokens for c in other]
  greedy = [c.tokens for c in sampler.generate(PROMPTS, GREEDY)]
  assert [c.tokens for c in first] != greedy
  for (_, logprobs), c in zip(full_forward(model, PROMPTS, [c.tokens for c in first]), first):
    np.testing.assert_allclose(c.logprobs, logprobs, atol=2e-5)


def test_a_shared_seed_spreads_over_rows_and_a_row_depends_only_on_its_seed(sampler):
  """One SamplingParams for a group of repeats gives distinct samples (row i: seed + i); a
  row's sample is the same whatever shares its batch."""
  params = SamplingParams(max_new_tokens=MAX_NEW, temperature=1.0, seed=7)
  group = sampler.generate([PROMPTS[0]] * 3, params)
  assert len({tuple(c.tokens) for c in group}) == 3
  for i, c in enumerate(group):
    [alone] = sampler.generate(
      [PROMPTS[0]], SamplingParams(max_new_tokens=MAX_NEW, temperature=1.0, seed=7 + i)
    )
    assert alone.tokens == c.tokens


def test_top_k_one_and_tiny_top_p_are_greedy(sampler):
  prompt = PROMPTS[1]
  params = [
    SamplingParams(max_new_tokens=MAX_NEW, temperature=1.0, top_k=1, seed=3),
    SamplingParams(max_new_tokens=MAX_NEW, temperature=1.0, top_p=1e-6, seed=4),
    GREEDY,
  ]
  top_k, top_p, greedy = sampler.generate([prompt] * 3, params)
  assert top_k.tokens == top_p.tokens == greedy.tokens


def test_compilations_are_bounded_by_buckets(model, tokenizer):
  """Fresh Samplers share the compiled functions; only a new padded shape compiles, once."""
  params = SamplingParams(max_new_tokens=5, temperature=0.0)  # a length no other test uses
  Sampler(model, tokenizer).generate([[1, 2], list(range(3, 12)), [7] * 5], params)
  seen = collections.Counter(slots_lib.COMPILED_SHAPES)
  Sampler(model, tokenizer).generate([list(range(100, 116)), [9], [4] * 13], params)
  Sampler(model, tokenizer).generate([[6] * 7, [8] * 2, [3], [11] * 4], params)  # 4 rows: same
  assert slots_lib.COMPILED_SHAPES == seen
  Sampler(model, tokenizer).generate([[5] * 17, [1], [2]], params)  # a wider prompt bucket
  new = slots_lib.COMPILED_SHAPES - seen
  assert set(new.values()) == {1}
  assert {k[:3] for k in new if k[0] != "prefill"} == {
    ("empty", 8, 32),
    ("insert", 8, 32),
    ("decode", 8, 32),
  }


def test_sharded_sampler_matches_one_device(model, sampler, tokenizer):
  """Batch over data x fsdp, heads and vocab over tensor (8 virtual CPU devices, conftest)."""
  mesh = sharding.make_mesh(sharding.MeshConfig(ici={"data": 2, "fsdp": 2, "tensor": 2}))
  with sharding.use_mesh(mesh):
    sharded = create_model(CONFIG, mesh, seed=0)
    completions = Sampler(sharded, tokenizer).generate(PROMPTS, GREEDY)
    # Twice the rows of the mesh's 4 batch shards, of different lengths: rows queue for the
    # 4 slots, join the sharded batch mid-way and leave it as they finish.
    rows = [dataclasses.replace(GREEDY, max_new_tokens=1 + i % MAX_NEW) for i in range(8)]
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(len(rows))]
    queued = Sampler(sharded, tokenizer, max_slots=4).generate(prompts, rows)
  single = sampler.generate(PROMPTS, GREEDY)
  assert [c.tokens for c in completions] == [c.tokens for c in single]
  for a, b in zip(completions, single):
    np.testing.assert_allclose(a.logprobs, b.logprobs, atol=1e-5)
  for i, c in enumerate(queued):
    reference = single[i % len(PROMPTS)]
    assert c.tokens == reference.tokens[: rows[i].max_new_tokens]
    np.testing.assert_allclose(c.logprobs, reference.logprobs[: len(c.tokens)], atol=1e-5)


def test_stop_strings_end_at_the_completing_token_and_cut_the_text(sampler, tokenizer, monkeypatch):
  """A stop string spanning tokens 3 and 4 is found across a chunk boundary (chunks of 3
  steps): tokens keep the completing token, the text ends before the stop string, and rows
  without a matching stop string are untouched."""
  monkeypatch.setattr(continuous, "STOP_CHECK_STEPS", 3)
  free = sampler.generate(PROMPTS, GREEDY)
  row = free[1].tokens
  before = tokenizer.decode(row[:4], skip_special_tokens=True)
  after = tokenizer.decode(row[:5], skip_special_tokens=True)
  stop = after[len(before) - 2 : len(before) + 2]
  assert after.find(stop) == len(before) - 2  # it first occurs across tokens 3 and 4
  params = [
    SamplingParams(max_new_tokens=MAX_NEW, temperature=0.0, stop=("never seen",)),
    SamplingParams(max_new_tokens=MAX_NEW, temperature=0.0, stop=["\x00zz", stop]),
    GREEDY,
  ]
  first, cut, plain = sampler.generate(PROMPTS, params)
  assert cut.tokens == row[:5] and cut.finish_reason == "stop" and cut.matched_stop == stop
  assert cut.text == free[1].text[: free[1].text.find(stop)] and stop not in cut.text
  assert cut.completion_tokens == len(cut.logprobs) == 5
  np.testing.assert_allclose(cut.logprobs, free[1].logprobs[:5], atol=1e-6)
  for c, reference in ((first, free[0]), (plain, free[2])):
    assert (c.tokens, c.text, c.finish_reason) == (reference.tokens, reference.text, "length")


def test_n_samples_per_prompt_are_reproducible_and_distinct(sampler):
  """n rows per prompt, all samples of prompt 0 first; sample 0 is the n=1 sample and the
  others come from seeds hashed from (seed, j)."""
  params = SamplingParams(max_new_tokens=MAX_NEW, temperature=1.0, seed=11, n=2)
  first = sampler.generate(PROMPTS[:2], params)
  again = sampler.generate(PROMPTS[:2], params)
  assert len(first) == 4 and [c.tokens for c in first] == [c.tokens for c in again]
  singles = sampler.generate(PROMPTS[:2], dataclasses.replace(params, n=1))
  for i, single in enumerate(singles):
    group = first[2 * i : 2 * i + 2]
    assert group[0].tokens != group[1].tokens
    assert all(c.prompt_tokens == len(PROMPTS[i]) for c in group)
    assert single.tokens == group[0].tokens


def test_batcher_submits_n_samples_as_rows(sampler):
  """Concurrent callers asking for n samples get the same rows as one direct generate."""
  params = SamplingParams(max_new_tokens=MAX_NEW, temperature=1.0, seed=3, n=2)
  batcher = RequestBatcher(sampler, max_wait_s=0.2)
  futures = batcher.submit_samples(PROMPTS[0], params)
  assert [f.result().tokens for f in futures] == [
    c.tokens for c in sampler.generate([PROMPTS[0]], params)
  ]
  with pytest.raises(ValueError, match="submit_samples"):
    batcher.submit(PROMPTS[0], params)


def test_repetition_penalty_by_hand():
  """Seen tokens: positive logits divided by the penalty, negative ones multiplied."""
  logits = jnp.array([[2.0, -1.0, 0.5, -3.0], [2.0, -1.0, 0.5, -3.0]])
  seen = jnp.array([[True, True, False, False], [False, False, True, True]])
  out = sampling.apply_repetition_penalty(logits, seen, jnp.array([2.0, 4.0]))
  np.testing.assert_allclose(out, [[1.0, -2.0, 0.5, -3.0], [2.0, -1.0, 0.125, -12.0]])


@pytest.fixture(scope="module")
def copycat():
  """The test model with lm_head = 8 x embed^T: it predicts tokens it has seen, so greedy
  decoding repeats itself unless a repetition penalty intervenes."""
  copy = create_model(CONFIG, seed=0)
  copy.lm_head[...] = 8.0 * np.asarray(copy.embed[...]).T
  return copy


def test_repetition_penalty_counts_prompt_and_output_tokens(copycat, tokenizer):
  """Greedy with a penalty is the step-by-step argmax of the full forward's logits after
  penalising every token of the prompt and the output so far; log-probs stay raw."""
  sampler = Sampler(copycat, tokenizer)
  plain = sampler.generate(PROMPTS, GREEDY)
  penalty = 3.0
  penalized = sampler.generate(PROMPTS, dataclasses.replace(GREEDY, repetition_penalty=penalty))
  assert any(set(c.tokens) & set(p) or len(set(c.tokens)) < MAX_NEW for c, p in zip(plain, PROMPTS))
  width = 32
  tokens = np.zeros((len(PROMPTS), width), np.int32)
  for i, (p, c) in enumerate(zip(PROMPTS, penalized)):
    tokens[i, : len(p) + len(c.tokens)] = list(p) + c.tokens
  logits = np.asarray(_forward(copycat, tokens, np.ones_like(tokens)))
  for i, (p, c) in enumerate(zip(PROMPTS, penalized)):
    assert c.finish_reason == "length" and not set(c.tokens) & set(p)
    for t, token in enumerate(c.tokens):
      row = logits[i, len(p) - 1 + t]
      seen = list(p) + c.tokens[:t]
      expected = row.copy()
      expected[seen] = np.where(row[seen] > 0, row[seen] / penalty, row[seen] * penalty)
      assert token == expected.argmax()
      np.testing.assert_allclose(c.logprobs[t], jax.nn.log_softmax(row)[token], atol=2e-5)
  assert [c.tokens for c in penalized] != [c.tokens for c in plain]


def test_decode_step_updates_the_cache_in_place(sampler):
  """The compiled decode loop holds no second KV cache: the donated loop state (cache
  included) is aliased to the output and no instruction copies a whole cache-shaped buffer."""
  memory = sampler.decode_memory(PROMPTS, GREEDY)
  assert memory["cache_copies"] == 0
  assert memory["aliased_bytes"] >= memory["cache_bytes"]


def test_rows_sharing_a_prompt_prefill_it_once_and_equal_rows_run_alone(sampler):
  """GRPO's group: n samples of a prompt prefill it once (the counter says so), yet each row
  samples exactly what it samples alone, with log-probs within 1e-5."""
  params = SamplingParams(max_new_tokens=MAX_NEW, temperature=1.0, seed=5, n=4)
  prompts = [PROMPTS[1], PROMPTS[0]]
  before = dataclasses.replace(sampler.stats)
  shared = sampler.generate(prompts, params)
  computed = sampler.stats.prefill_computed - before.prefill_computed
  requested = sampler.stats.prefill_requested - before.prefill_requested
  assert requested == 4 * sum(map(len, prompts))
  assert computed == 2 * 16  # two distinct prompts of one 16-token bucket, not eight rows
  rows = [
    (prompt, row)
    for i, prompt in enumerate(prompts)
    for row in dataclasses.replace(params, seed=params.seed + i).samples()
  ]
  assert len({tuple(c.tokens) for c in shared}) > 1  # the samples differ
  for (prompt, row), together in zip(rows, shared, strict=True):
    [alone] = sampler.generate([prompt], [row])
    assert alone.tokens == together.tokens
    np.testing.assert_allclose(alone.logprobs, together.logprobs, atol=1e-5)


def _alone(sampler, prompt, row):
  [completion] = sampler.generate([prompt], [row])
  return completion


def test_rows_joining_a_running_batch_sample_what_they_sample_alone(model, tokenizer, sampler):
  """Two slots, six rows of different lengths: rows take a slot when one frees up, mid-way
  through the others, and still sample (greedy or seeded) exactly what they sample alone."""
  rows = [
    SamplingParams(max_new_tokens=limit, temperature=temperature, seed=seed)
    for limit, temperature, seed in [
      (2, 1.0, 1),
      (MAX_NEW, 0.0, 0),
      (3, 1.0, 2),
      (5, 1.0, 3),
      (1, 0.0, 0),
      (4, 1.0, 4),
    ]
  ]
  prompts = [PROMPTS[i % len(PROMPTS)] for i in range(len(rows))]
  narrow = Sampler(model, tokenizer, max_slots=2, min_slots=1)
  joined = narrow.generate(prompts, rows)
  assert narrow.stats.slot_steps <= 2 * sum(r.max_new_tokens for r in rows)  # two slots, ever
  for prompt, row, completion in zip(prompts, rows, joined, strict=True):
    alone = _alone(sampler, prompt, row)
    assert completion.tokens == alone.tokens and len(alone.tokens) == row.max_new_tokens
    np.testing.assert_allclose(completion.logprobs, alone.logprobs, atol=1e-5)


def test_a_batch_shrinks_as_rows_finish_without_changing_them(model, tokenizer):
  """Seven short rows and one long one: the shrinking batch keeps its slots busier than a
  static batch of eight and gives the same tokens and log-probs."""
  rows = [
    SamplingParams(max_new_tokens=1 if i < 7 else MAX_NEW, temperature=1.0, seed=i)
    for i in range(8)
  ]
  prompts = [PROMPTS[i % len(PROMPTS)] for i in range(8)]
  static, shrinking = Sampler(model, tokenizer), Sampler(model, tokenizer, min_slots=1)
  expected, got = static.generate(prompts, rows), shrinking.generate(prompts, rows)
  for a, b in zip(expected, got, strict=True):
    assert a.tokens == b.tokens
    np.testing.assert_allclose(a.logprobs, b.logprobs, atol=1e-5)
  static_share = static.stats.summary()["slot_occupancy"]
  assert shrinking.stats.summary()["slot_occupancy"] > 2 * static_share
  # Four long rows, then three: both shrink 8 slots to 4, one compilation whatever the count.
  long_rows = lambda n: [
    dataclasses.replace(r, max_new_tokens=MAX_NEW if i < n else 1) for i, r in enumerate(rows)
  ]  # noqa: E731
  shrinking.generate(prompts, long_rows(4))
  seen = collections.Counter(slots_lib.COMPILED_SHAPES)
  shrinking.generate(prompts, long_rows(3))
  assert slots_lib.COMPILED_SHAPES == seen


def test_a_row_longer_than_the_cache_is_refused_naming_both_numbers(model, tokenizer):
  sampler = Sampler(model, tokenizer, max_length=20)
  with pytest.raises(ValueError, match=r"prompt of 16 tokens plus max_new_tokens=8 .* 20-token"):
    sampler.generate([list(range(1, 17))], SamplingParams(max_new_tokens=8))


def test_the_prompt_cache_serves_a_repeated_prompt_until_the_weights_change(model, tokenizer):
  sampler = Sampler(model, tokenizer, prompt_cache_bytes=1 << 30)
  params = SamplingParams(max_new_tokens=2, temperature=1.0, seed=9)
  first = sampler.generate([PROMPTS[0]], params)
  computed = sampler.stats.prefill_computed
  again = sampler.generate([PROMPTS[0]], params)
  assert sampler.stats.prefill_computed == computed  # served from the cache
  assert [c.tokens for c in again] == [c.tokens for c in first]
  sampler.state = sampler.state  # new weights (here the same): the cache is stale
  sampler.generate([PROMPTS[0]], params)
  assert sampler.stats.prefill_computed == 2 * computed
