"""The in-process rollout engine: n completions grouped by prompt, weight updates that change
the generations without recompiling, and clear errors for parameters that do not fit."""

import jax
import numpy as np
import pytest
from test_sampler import CONFIG, MAX_NEW, PROMPTS

from xcoder_jax.checkpoint import model_state
from xcoder_jax.data.tokenizer import load_tokenizer
from xcoder_jax.models.build import create_model
from xcoder_jax.rollout import InProcessEngine, Sampler, SamplingParams, make_engine
from xcoder_jax.rollout import slots as slots_lib
from xcoder_jax.rollout.engine import EngineContext

# Two prompts x n=2: the batch shape test_sampler already compiled.
SAMPLING = SamplingParams(max_new_tokens=MAX_NEW, temperature=1.0, seed=5, n=2)


@pytest.fixture(scope="module")
def tokenizer():
  return load_tokenizer("tiny")


@pytest.fixture(scope="module")
def models():
  return create_model(CONFIG, seed=0), create_model(CONFIG, seed=1)


def test_registered_and_grouped_by_prompt(models, tokenizer):
  context = EngineContext(tokenizer=tokenizer, load_model=lambda: models[0], weights_version=3)
  engine = make_engine("in_process", {}, context)
  assert isinstance(engine, InProcessEngine) and engine.weights_version == 3
  assert engine.generate([], SAMPLING) == []
  groups = engine.generate(PROMPTS[:2], SAMPLING)
  flat = Sampler(models[0], tokenizer).generate(PROMPTS[:2], SAMPLING)
  assert [len(g) for g in groups] == [2, 2]
  assert [c.tokens for g in groups for c in g] == [c.tokens for c in flat]
  assert [g[0].prompt_tokens for g in groups] == [len(p) for p in PROMPTS[:2]]
  two_slots = make_engine("in_process", {"max_batch": 2}, context)
  assert [[c.tokens for c in g] for g in two_slots.generate(PROMPTS[:2], SAMPLING)] == [
    [c.tokens for c in g] for g in groups
  ]


def test_update_weights_changes_generations_without_recompiling(models, tokenizer):
  first, second = models
  engine = InProcessEngine(first, tokenizer, weights_version=3)
  before = engine.generate(PROMPTS[:2], SAMPLING)
  compiled = dict(slots_lib.COMPILED_SHAPES)
  engine.update_weights(model_state(second), version=4)
  after = engine.generate(PROMPTS[:2], SAMPLING)
  assert slots_lib.COMPILED_SHAPES == compiled  # same shapes, new values: no new trace
  assert engine.weights_version == 4
  reference = Sampler(second, tokenizer).generate(PROMPTS[:2], SAMPLING)
  assert [c.tokens for g in after for c in g] == [c.tokens for c in reference]
  assert [c.tokens for g in after for c in g] != [c.tokens for g in before for c in g]
  for got, want in zip([c for g in after for c in g], reference):
    np.testing.assert_allclose(got.logprobs, want.logprobs, atol=1e-6)


def test_bad_parameters_and_deleted_parameters_are_explained(models, tokenizer):
  engine = InProcessEngine(models[0], tokenizer)
  params = model_state(models[1])
  with pytest.raises(ValueError, match=r"missing \[\('final_norm',\)\]"):
    engine.update_weights({k: v for k, v in params.items() if k != "final_norm"}, 1)
  wrong = {**params, "final_norm": np.ones(3, np.float32)}
  with pytest.raises(ValueError, match="shape mismatch: final_norm"):
    engine.update_weights(wrong, 1)
  assert engine.weights_version == 0
  donated = jax.tree.map(lambda x: x.copy(), params)
  engine.update_weights(donated, 1)
  jax.tree.leaves(donated)[0].delete()  # what a train step's donation does
  with pytest.raises(RuntimeError, match="call update_weights"):
    engine.generate(PROMPTS, SAMPLING)
