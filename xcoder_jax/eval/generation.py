"""Generating k samples per problem through any rollout engine (in-process, SGLang, ...)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from tqdm.auto import tqdm

from xcoder_jax.eval.types import Problem
from xcoder_jax.rollout.engine import RolloutEngine
from xcoder_jax.rollout.types import Completion, SamplingParams

# RECIPE.md, "Evaluation": X-Coder's inference settings (up to 32k new tokens).
EVAL_SAMPLING = SamplingParams(max_new_tokens=32768, temperature=0.6, top_p=0.95, top_k=20)


def _text(completion: Completion, tokenizer) -> str:
  if completion.text:
    return completion.text
  return tokenizer.decode(completion.tokens, skip_special_tokens=True)


def generate(
  problems: Sequence[Problem],
  engine: RolloutEngine,
  tokenizer,
  k: int,
  sampling: SamplingParams = EVAL_SAMPLING,
  batch_size: int = 8,
  on_problem: Callable[[str, list[str]], None] | None = None,
  progress: bool = True,
  **template_kwargs,
) -> dict[str, list[str]]:
  """k responses per problem: chat-templated prompts, ``batch_size`` problems per engine call.

  ``on_problem(question_id, responses)`` runs as each problem is done (to save progress).
  """
  sampling = dataclasses.replace(sampling, n=k)
  responses: dict[str, list[str]] = {}
  with tqdm(total=len(problems), desc="generating", unit="problem", disable=not progress) as bar:
    for start in range(0, len(problems), batch_size):
      batch = problems[start : start + batch_size]
      prompts = [
        tokenizer.apply_chat_template(
          list(problem.messages), add_generation_prompt=True, tokenize=True, **template_kwargs
        )
        for problem in batch
      ]
      # A seed per batch: reruns reproduce, batches differ.
      batch_sampling = dataclasses.replace(sampling, seed=sampling.seed + start)
      for problem, completions in zip(batch, engine.generate(prompts, batch_sampling)):
        texts = [_text(completion, tokenizer) for completion in completions]
        if len(texts) != k:
          raise RuntimeError(f"the engine returned {len(texts)} completions, asked for {k}")
        responses[problem.question_id] = texts
        if on_problem is not None:
          on_problem(problem.question_id, texts)
      bar.update(len(batch))
  return responses
