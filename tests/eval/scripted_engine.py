"""A rollout engine for tests only: answers every prompt with a fixed response, and records
what it was asked (the prompts as text and the sampling parameters)."""

from xcoder_jax.data import load_tokenizer
from xcoder_jax.rollout.engine import ENGINES, RolloutEngine
from xcoder_jax.rollout.types import Completion

ANSWER = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"


@ENGINES.register("scripted")
class ScriptedEngine(RolloutEngine):
  calls: list = []  # (prompt texts, sampling) per generate call, across instances
  defaults = {"answer": ANSWER, "as_tokens": False, "fail": False}

  @classmethod
  def from_config(cls, section, context):
    return cls(context.model_name, section.answer, section.as_tokens, section.fail)

  def __init__(self, model, answer=ANSWER, as_tokens=False, fail=False):
    self.model, self.answer, self.as_tokens, self.fail = model, answer, as_tokens, fail
    self.tokenizer = load_tokenizer("tiny")

  def generate(self, prompts, sampling):
    if self.fail:
      raise AssertionError("generate called although every problem has its samples")
    self.calls.append(([self.tokenizer.decode(p) for p in prompts], sampling))
    if self.as_tokens:  # an engine that returns tokens only: the caller decodes them
      make = lambda: Completion(tokens=self.tokenizer.encode(self.answer))
    else:
      make = lambda: Completion(text=self.answer)
    return [[make() for _ in range(sampling.n)] for _ in prompts]

  def update_weights(self, params, version):
    raise NotImplementedError

  @property
  def weights_version(self):
    return 0
