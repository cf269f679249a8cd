"""OpenAI-compatible routes of `launch.serve`: /v1/chat/completions, /v1/completions, /v1/models.

What OpenAI clients (SynthSmith's `OpenAITeacher`, evaluation harnesses) send and read:
`{model, messages, max_tokens, temperature, top_p, seed, ...}` in, `choices[i].message.content`
(chat) or `choices[i].text` (completions), `finish_reason` and `usage` out, in the shapes of
OpenAI's API as SGLang serves it (SGLang's extensions `top_k`, `stop_token_ids`,
`chat_template_kwargs`, `matched_stop` included). Request fields are renamed to SGLang's
sampling fields and go through the same `to_sampling_params` as /generate, so both APIs accept
and refuse exactly the same sampling settings. Without `max_tokens` a completion may run to
the end of the model's context, as in SGLang and vLLM.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
from aiohttp import web

from xcoder_jax.rollout.api_fields import RequestError, check_fields, to_sampling_params
from xcoder_jax.rollout.server import PolicyServer, read_json
from xcoder_jax.rollout.types import Completion, SamplingParams

# OpenAI request field -> SGLang sampling field.
SAMPLING_ALIASES = {
  "max_tokens": "max_new_tokens",
  "max_completion_tokens": "max_new_tokens",
  "temperature": "temperature",
  "top_p": "top_p",
  "top_k": "top_k",
  "min_p": "min_p",
  "n": "n",
  "seed": "sampling_seed",
  "stop": "stop",
  "stop_token_ids": "stop_token_ids",
  "repetition_penalty": "repetition_penalty",
  "frequency_penalty": "frequency_penalty",
  "presence_penalty": "presence_penalty",
  "min_tokens": "min_new_tokens",
  "ignore_eos": "ignore_eos",
  "skip_special_tokens": "skip_special_tokens",
  "no_stop_trim": "no_stop_trim",
  "logit_bias": "logit_bias",
  "regex": "regex",
  "ebnf": "ebnf",
}
# Request fields that change nothing here (bookkeeping of hosted APIs, the echoed model name).
# tool_choice and parallel_tool_calls mean nothing without tools, which are refused.
IGNORED = {"model", "user", "metadata", "store", "stream_options", "tool_choice"}
IGNORED |= {"parallel_tool_calls", "rid"}
# Fields this server lacks, accepted only at the value that means "not used".
NEUTRAL = {"stream": False, "tools": None}
CHAT_NEUTRAL = {**NEUTRAL, "response_format": None, "top_logprobs": 0}
CHAT_FIELDS = (
  set(SAMPLING_ALIASES)
  | IGNORED
  | set(CHAT_NEUTRAL)
  | {
    "messages",
    "logprobs",
    "chat_template_kwargs",
    "separate_reasoning",
  }
)
COMPLETION_NEUTRAL = {**NEUTRAL, "echo": False, "suffix": None}
# return_tokens_as_token_ids (vLLM's): log-prob tokens as "token_id:N", so ids come back exact.
COMPLETION_FIELDS = set(SAMPLING_ALIASES) | IGNORED | set(COMPLETION_NEUTRAL)
COMPLETION_FIELDS |= {"prompt", "logprobs", "best_of", "return_tokens_as_token_ids"}


def _sampling(body: Mapping[str, Any], server: PolicyServer, prompt_len: int) -> SamplingParams:
  fields = {SAMPLING_ALIASES[k]: v for k, v in body.items() if k in SAMPLING_ALIASES}
  if fields.get("max_new_tokens") is None:
    fields["max_new_tokens"] = max(1, server.context_length - prompt_len)
  return to_sampling_params(fields, server.fresh_seed())


def _finish(completion: Completion) -> tuple[str, int | None]:
  """OpenAI's finish_reason and SGLang's matched_stop."""
  if completion.finish_reason == "stop":
    return "stop", completion.matched_stop
  return "length", None


def _usage(prompt_lengths: Sequence[int], groups: Sequence[Sequence[Completion]]) -> dict:
  completion = sum(c.completion_tokens for g in groups for c in g)
  prompt = sum(prompt_lengths)
  return {
    "prompt_tokens": prompt,
    "completion_tokens": completion,
    "total_tokens": prompt + completion,
  }


def _messages(value: Any) -> list[dict[str, Any]]:
  """Chat messages with their text parts joined (images and audio are refused)."""
  if not isinstance(value, list) or not value:
    raise RequestError("messages must be a non-empty list of {role, content} objects")
  messages = []
  for m in value:
    if not isinstance(m, dict) or not isinstance(m.get("role"), str):
      raise RequestError(f"each message needs a string role, got {m!r}")
    content = m.get("content")
    if isinstance(content, list):
      if not all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        raise RequestError("only text content parts are supported by this server")
      content = "".join(str(p.get("text", "")) for p in content)
    elif content is not None and not isinstance(content, str):
      raise RequestError(f"message content must be a string or text parts, got {content!r}")
    messages.append({**m, "content": content})
  return messages


class OpenAIApi:
  def __init__(self, server: PolicyServer):
    self.server = server

  def _token_text(self, token: int) -> str:
    return self.server.tokenizer.decode([token])

  def _envelope(self, body, kind: str, choices: list, usage: dict) -> dict:
    prefix = "chatcmpl" if kind == "chat.completion" else "cmpl"
    return {
      "id": f"{prefix}-{uuid.uuid4().hex}",
      "object": kind,
      "created": int(time.time()),
      "model": body.get("model") or self.server.served_model_name,
      "choices": choices,
      "usage": usage,
    }

  async def chat_completions(self, request: web.Request) -> web.Response:
    body = await read_json(request)
    check_fields(body, CHAT_FIELDS, CHAT_NEUTRAL, "chat completion")
    if body.get("response_format") not in (None, {"type": "text"}):
      raise RequestError("response_format other than text is not supported by this server yet")
    template_kwargs = body.get("chat_template_kwargs") or {}
    if not isinstance(template_kwargs, dict):
      raise RequestError("chat_template_kwargs must be an object")
    messages = _messages(body.get("messages"))
    try:
      prompt = self.server.tokenizer.apply_chat_template(
        messages,
        add_generation_prompt=True,
        tokenize=True,
        **template_kwargs,
      )
    except (ValueError, TypeError, jinja2.TemplateError) as error:
      raise RequestError(f"the chat template failed on these messages: {error}") from error
    params = _sampling(body, self.server, len(prompt))
    [group], _ = await self.server.generate([prompt], [params])
    skip_special = body.get("skip_special_tokens") is not False
    choices = []
    for index, completion in enumerate(group):
      reason, matched = _finish(completion)
      logprobs = None
      if body.get("logprobs"):
        logprobs = {
          "content": [
            {
              "token": (text := self._token_text(t)),
              "logprob": lp,
              "bytes": list(text.encode("utf-8")),
              "top_logprobs": [],
            }
            for t, lp in zip(completion.tokens, completion.logprobs)
          ]
        }
      message = {
        "role": "assistant",
        "content": self.server.decode(completion, skip_special),
        "reasoning_content": None,  # no reasoning parser: thinking stays inside content
        "tool_calls": None,
      }
      choices.append(
        {
          "index": index,
          "message": message,
          "logprobs": logprobs,
          "finish_reason": reason,
          "matched_stop": matched,
        }
      )
    usage = _usage([len(prompt)], [group])
    return web.json_response(self._envelope(body, "chat.completion", choices, usage))

  def _prompts(self, prompt: Any) -> list[list[int]]:
    if isinstance(prompt, str):
      return [self.server.encode(prompt)]
    if isinstance(prompt, list) and prompt:
      if all(isinstance(p, str) for p in prompt):
        return [self.server.encode(p) for p in prompt]
      if all(isinstance(p, list) for p in prompt):
        return prompt
      if all(isinstance(p, int) for p in prompt):
        return [prompt]
    raise RequestError(
      "prompt must be a string, a list of strings, a token-id list or a list of token-id lists"
    )

  async def completions(self, request: web.Request) -> web.Response:
    body = await read_json(request)
    check_fields(body, COMPLETION_FIELDS, COMPLETION_NEUTRAL, "completion")
    want_logprobs = body.get("logprobs")
    if want_logprobs not in (None, 0):
      raise RequestError("logprobs > 0 (top alternatives) is not supported by this server yet")
    if body.get("best_of") not in (None, body.get("n") or 1):
      raise RequestError("best_of other than n is not supported by this server yet")
    prompts = self._prompts(body.get("prompt"))
    params = [_sampling(body, self.server, len(p)) for p in prompts]
    groups, _ = await self.server.generate(prompts, params)
    skip_special = body.get("skip_special_tokens") is not False
    choices = []
    for completion in (c for g in groups for c in g):
      reason, matched = _finish(completion)
      text = self.server.decode(completion, skip_special)
      logprobs = None
      if want_logprobs is not None:
        if body.get("return_tokens_as_token_ids"):
          tokens = [f"token_id:{t}" for t in completion.tokens]
        else:
          tokens = [self._token_text(t) for t in completion.tokens]
        offsets = [0, *itertools.accumulate(len(t) for t in tokens)][:-1]
        logprobs = {
          "tokens": tokens,
          "token_logprobs": completion.logprobs,
          "top_logprobs": None,
          "text_offset": offsets,
        }
      choices.append(
        {
          "index": len(choices),
          "text": text,
          "logprobs": logprobs,
          "finish_reason": reason,
          "matched_stop": matched,
        }
      )
    usage = _usage([len(p) for p in prompts], groups)
    return web.json_response(self._envelope(body, "text_completion", choices, usage))

  async def models(self, request: web.Request) -> web.Response:
    del request
    name = self.server.served_model_name
    card = {
      "id": name,
      "object": "model",
      "created": int(self.server.started),
      "owned_by": "xcoder-jax",
      "root": name,
      "max_model_len": self.server.context_length,
    }
    return web.json_response({"object": "list", "data": [card]})


def add_routes(app: web.Application, server: PolicyServer) -> None:
  api = OpenAIApi(server)
  app.router.add_post("/v1/chat/completions", api.chat_completions)
  app.router.add_post("/v1/completions", api.completions)
  app.router.add_get("/v1/models", api.models)
