"""The `openai` rollout engine: any OpenAI-compatible `/v1/completions` server (vLLM, SGLang's
OpenAI API, `launch.serve`, hosted endpoints), for evaluation and data generation.

Prompts go out as token ids (`prompt` as a list of ints, which vLLM, SGLang and
`launch.serve` accept), one request per prompt with `n` samples and `seed` = sampling seed +
prompt index, so reruns reproduce on servers that honour seeds. Extensions that vLLM and
SGLang share are sent too: `top_k` (-1 = off), `repetition_penalty`, `stop_token_ids`, and
`return_tokens_as_token_ids`, which makes `logprobs.tokens` read "token_id:N" so the sampled
ids come back exactly. A server that ignores that field answers token strings instead: the
completion then carries text only (`tokens` stays empty), which is enough for evaluation and
SynthSmith but not for GRPO, whose trainer needs token ids (use `in_process` or `sglang`).

There is no weight update in the OpenAI API: `update_weights` raises; restart the server on a
new export (`launch.export_hf`) instead.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence
from typing import Any

from xcoder_jax.http_json import JsonEndpoint, ServerError
from xcoder_jax.rollout.engine import ENGINES, EngineContext, RolloutEngine
from xcoder_jax.rollout.types import Completion, SamplingParams, token_prompts

_TOKEN_ID_PREFIX = "token_id:"


def completions_body(model: str, prompt: list[int], sampling: SamplingParams, seed: int) -> dict:
  """Ours -> one `/v1/completions` request: the one place the settings meet the wire."""
  return {
    "model": model,
    "prompt": prompt,
    "max_tokens": sampling.max_new_tokens,
    "temperature": sampling.temperature,
    "top_p": sampling.top_p,
    "top_k": sampling.top_k or -1,
    "n": sampling.n,
    "seed": seed,
    "stop": list(sampling.stop) or None,
    "stop_token_ids": list(sampling.stop_token_ids),
    "repetition_penalty": sampling.repetition_penalty,
    "logprobs": 0,  # the sampled token's own log-probability, no alternatives
    "return_tokens_as_token_ids": True,
  }


def parse_choice(choice: dict[str, Any], prompt_tokens: int) -> Completion:
  """One `choices` entry -> Completion; raises ServerError on an answer we cannot trust."""
  try:
    text, reason = choice["text"], choice["finish_reason"]
    logprobs = choice.get("logprobs") or {}
    token_strings = logprobs.get("tokens") or []
    token_logprobs = [float(lp) for lp in logprobs.get("token_logprobs") or []]
  except (KeyError, TypeError, ValueError) as error:
    raise ServerError(f"malformed completion choice ({error!r}): {str(choice)[:500]}") from error
  if reason not in ("stop", "length"):
    raise ServerError(f"generation did not finish normally: finish_reason={reason!r}")
  tokens: list[int] = []
  if token_strings and all(str(t).startswith(_TOKEN_ID_PREFIX) for t in token_strings):
    tokens = [int(str(t)[len(_TOKEN_ID_PREFIX) :]) for t in token_strings]
  else:
    token_logprobs = []  # token strings cannot be mapped back to ids exactly
  if tokens and len(token_logprobs) != len(tokens):
    raise ServerError(f"{len(token_logprobs)} log-probs for {len(tokens)} tokens")
  return Completion(
    tokens,
    token_logprobs,
    reason,
    prompt_tokens,
    len(tokens),
    text,
    # vLLM says stop_reason, SGLang and launch.serve matched_stop
    matched_stop=choice.get("stop_reason", choice.get("matched_stop"))
    if reason == "stop"
    else None,
  )


@ENGINES.register("openai")
class OpenAIEngine(RolloutEngine):
  """Completions from one OpenAI-compatible server (see the module docstring).

  `server_url`: the server's address with or without the trailing /v1. `model`: the served
  model name (vLLM's --served-model-name); `api_key` for hosted endpoints.
  """

  defaults = {
    "server_url": "",  # http://HOST:PORT, with or without /v1
    "model": "",  # the served model's name; "": the caller's model name, else "default"
    "api_key": "",
    "concurrency": 8,  # requests in flight
    "timeout_s": 600.0,  # one request
    "max_retries": 3,
  }

  @classmethod
  def cannot_train(cls, section) -> str:
    return "the OpenAI API has no weight update (serve each export anew for evaluation)"

  @classmethod
  def from_config(cls, section, context: EngineContext) -> OpenAIEngine:
    if not section.server_url:
      raise ValueError("the openai engine needs a server: set its server_url (http://HOST:PORT)")
    return cls(
      section.server_url,
      model=section.model or context.model_name or "default",
      api_key=section.api_key,
      concurrency=section.concurrency,
      timeout_s=section.timeout_s,
      max_retries=section.max_retries,
    )

  def __init__(
    self,
    server_url: str,
    model: str = "default",
    api_key: str = "",
    concurrency: int = 8,
    timeout_s: float = 600.0,
    max_retries: int = 3,
    backoff_s: float = 1.0,
  ):
    if concurrency < 1:
      raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    base = server_url.rstrip("/")
    base = base if base.endswith("/v1") else base + "/v1"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    self.server = JsonEndpoint(base, timeout_s, max_retries, backoff_s, headers)
    self.model = model
    self._pool = concurrent.futures.ThreadPoolExecutor(concurrency, "openai-client")

  @property
  def weights_version(self) -> int:
    return 0

  def update_weights(self, params: Any, version: int) -> None:
    raise NotImplementedError(
      "the OpenAI API has no weight update; export the weights with launch.export_hf and "
      "restart the server on them, or use the in_process or sglang engine"
    )

  def _one(self, prompt: list[int], sampling: SamplingParams, seed: int) -> list[Completion]:
    answer = self.server.request(
      "/completions", completions_body(self.model, prompt, sampling, seed)
    )
    try:
      choices = sorted(answer["choices"], key=lambda c: c["index"])
    except (KeyError, TypeError) as error:
      raise ServerError(f"malformed /completions answer: {str(answer)[:500]}") from error
    if len(choices) != sampling.n:
      raise ServerError(f"{len(choices)} choices for n={sampling.n}")
    prompt_tokens = int((answer.get("usage") or {}).get("prompt_tokens", len(prompt)))
    return [parse_choice(choice, prompt_tokens) for choice in choices]

  def generate(
    self, prompts: Sequence[Sequence[int]], sampling: SamplingParams
  ) -> list[list[Completion]]:
    prompts = token_prompts(prompts)
    futures = [
      self._pool.submit(self._one, prompt, sampling, sampling.seed + i)
      for i, prompt in enumerate(prompts)
    ]
    return [future.result() for future in futures]

  def healthy(self) -> bool:
    return self.server.healthy("/models")

  def close(self) -> None:
    self._pool.shutdown(wait=False, cancel_futures=True)
