"""What every generator speaks: sampling parameters in, completions out.

Shared by the in-process sampler, rollout engines (in-process, SGLang), the serving endpoint
and SynthSmith's teachers, so a completion means the same thing wherever it came from.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class SamplingParams:
  """How one row is sampled. temperature 0 is greedy; top_k 0 and top_p 1 turn filters off."""

  max_new_tokens: int = 256
  temperature: float = 1.0
  top_p: float = 1.0
  top_k: int = 0
  seed: int = 0
  stop_token_ids: tuple[int, ...] = ()  # stop on these besides eos and end of turn
  n: int = 1  # completions per prompt (rollout engines; the sampler takes one row per prompt)

  def __post_init__(self):
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
    if problems:
      raise ValueError("invalid SamplingParams: " + "; ".join(problems))


@dataclasses.dataclass
class Completion:
  """One row's result; `tokens` and `logprobs` have `completion_tokens` entries."""

  tokens: list[int] = dataclasses.field(default_factory=list)
  logprobs: list[float] = dataclasses.field(default_factory=list)
  finish_reason: str = ""  # "stop" (a stop token or string ended it) or "length"
  prompt_tokens: int = 0
  completion_tokens: int = 0
  text: str = ""
