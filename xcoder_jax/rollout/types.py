"""What every generator speaks: sampling parameters in, completions out.

Shared by the in-process sampler, rollout engines (in-process, SGLang), the serving endpoint
and SynthSmith's teachers, so a completion means the same thing wherever it came from.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class SamplingParams:
  """How one request is sampled. temperature 0 is greedy; top_k 0, top_p 1 and
  repetition_penalty 1 turn those off.

  `repetition_penalty` follows transformers / vLLM (and SGLang before its penalty rewrite):
  the raw logit of every token already in the prompt or the output so far is divided by the
  penalty when positive and multiplied by it when negative, before temperature and filters.
  (Current SGLang counts output tokens only.) `stop` strings end a completion as SGLang's
  do: the token that completes a stop string is kept in `tokens`, the text is cut before it.
  """

  max_new_tokens: int = 256
  temperature: float = 1.0
  top_p: float = 1.0
  top_k: int = 0
  seed: int = 0
  stop_token_ids: tuple[int, ...] = ()  # stop on these besides eos and end of turn
  n: int = 1  # completions per prompt, each its own row (see `samples`)
  repetition_penalty: float = 1.0
  stop: tuple[str, ...] = ()  # stop strings; a str or list is accepted and made a tuple

  def __post_init__(self):
    stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)
    object.__setattr__(self, "stop", stop)
    object.__setattr__(self, "stop_token_ids", tuple(self.stop_token_ids))
    problems = []
    if self.max_new_tokens < 1:
      problems.append(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
    if self.temperature < 0:
      problems.append(f"temperature must be >= 0, got {self.temperature}")
    if not 0 < self.top_p <= 1:
      problems.append(f"top_p must be in (0, 1], got {self.top_p}")
    if self.n < 1:
      problems.append(f"n must be >= 1, got {self.n}")
    if self.top_k < 0:
      problems.append(f"top_k must be >= 0 (0 = off), got {self.top_k}")
    if not self.repetition_penalty > 0:
      problems.append(f"repetition_penalty must be > 0 (1 = off), got {self.repetition_penalty}")
    if not all(isinstance(s, str) and s for s in stop):
      problems.append(f"stop must hold non-empty strings, got {stop!r}")
    if problems:
      raise ValueError("invalid SamplingParams: " + "; ".join(problems))

  def samples(self) -> list[SamplingParams]:
    """The `n` single-sample rows of this request. Sample 0 keeps `seed` (so n=1 changes
    nothing); sample j > 0 gets a seed hashed from (seed, j), so one seed fixes all n
    samples and they differ from each other (and from neighbouring seeds' samples)."""
    return [
      dataclasses.replace(self, n=1, seed=self.seed if j == 0 else sample_seed(self.seed, j))
      for j in range(self.n)
    ]


def token_prompts(prompts) -> list[list[int]]:
  """Prompts as plain int lists (what goes on the wire), refusing an empty one."""
  prompts = [[int(t) for t in p] for p in prompts]
  if any(not p for p in prompts):
    raise ValueError("empty prompt: every prompt needs at least one token")
  return prompts


def sample_seed(seed: int, sample: int) -> int:
  """A 32-bit seed for sample `sample` of a request seeded `seed` (numpy's SeedSequence)."""
  return int(np.random.SeedSequence([seed & 0xFFFFFFFF, sample]).generate_state(1)[0])


@dataclasses.dataclass
class Completion:
  """One row's result; `tokens` and `logprobs` have `completion_tokens` entries."""

  tokens: list[int] = dataclasses.field(default_factory=list)
  logprobs: list[float] = dataclasses.field(default_factory=list)
  finish_reason: str = ""  # "stop" (a stop token or string ended it) or "length"
  prompt_tokens: int = 0
  completion_tokens: int = 0
  text: str = ""
  matched_stop: int | str | None = None  # the stop token id or string (SGLang's "matched")
