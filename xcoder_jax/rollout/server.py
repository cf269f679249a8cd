"""An SGLang-compatible HTTP server over the in-process JAX sampler (`python -m launch.serve`).

It serves rollouts where SGLang does not run (TPU, CPU) and is the real server the SGLang
client engine is tested against, so its native endpoints keep SGLang's field names and
answer shapes (read from SGLang's `io_struct.py`, `http_server.py`, `tokenizer_manager.py`):

- `POST /generate`: `text` or `input_ids`, one prompt or a batch; `sampling_params` (one dict,
  or one per prompt); `return_logprob`. One prompt with n = 1 gets one object; otherwise a list
  of B*n objects, all samples of prompt 0 first. Each object is `{text, output_ids, meta_info}`;
  `meta_info` has `id`, `finish_reason` (`{"type": "length", "length": n}` or
  `{"type": "stop", "matched": token_id}`), `prompt_tokens`, `completion_tokens`,
  `cached_tokens`, `weight_version`, `e2e_latency` and, when asked, `output_token_logprobs` as
  `[logprob, token_id, text-or-null]` triples (the model's raw log-probabilities).
- `POST /update_weights_from_disk` `{model_path, weight_version, ...}` ->
  `{success, message, num_paused_requests}`: waits for running requests, reloads the weights of
  an HF directory of the same architecture (no recompilation), then serves the new version.
- `/flush_cache`, `/health`, `/health_generate`, `/get_model_info`, `/get_server_info`, and
  the OpenAI-compatible `/v1/...` routes of `openai_api.py`.

Concurrent requests share decode slots through `RequestBatcher` (continuous batching: a
request joins the running batch within one decode chunk, at most `max_batch` rows decode at
once, the rest queue). Sample j of
a prompt is drawn with seed `sampling_seed + j` (a fresh seed per prompt when none is given),
so a seeded request is reproducible whatever else shares its batch. Bad requests get HTTP 400
`{"error": {"message": ...}}`; SGLang sampling fields the sampler lacks are refused with 400
unless they hold their neutral value, never silently ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from xcoder_jax.data.tokenizer import load_tokenizer
from xcoder_jax.hf import from_hf_config, load_hf
from xcoder_jax.hf.config import read_hf_config
from xcoder_jax.rollout import slots as slots_lib
from xcoder_jax.rollout.api_fields import (
  GENERATE_FIELDS,
  NEUTRAL_GENERATE_FIELDS,
  UPDATE_FIELDS,
  RequestError,
  check_fields,
  per_prompt,
  to_sampling_params,
)
from xcoder_jax.rollout.batcher import RequestBatcher
from xcoder_jax.rollout.sampler import Sampler
from xcoder_jax.rollout.types import Completion, SamplingParams

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 30


class _Gate:
  """Many generations at once, or one weight update alone (a readers-writer lock)."""

  def __init__(self):
    self._condition = asyncio.Condition()
    self._readers = 0
    self._writing = False

  @contextlib.asynccontextmanager
  async def shared(self):
    async with self._condition:
      await self._condition.wait_for(lambda: not self._writing)
      self._readers += 1
    try:
      yield
    finally:
      async with self._condition:
        self._readers -= 1
        self._condition.notify_all()

  @contextlib.asynccontextmanager
  async def exclusive(self):
    async with self._condition:
      await self._condition.wait_for(lambda: not self._writing)
      self._writing = True
      await self._condition.wait_for(lambda: self._readers == 0)
    try:
      yield
    finally:
      async with self._condition:
        self._writing = False
        self._condition.notify_all()


class PolicyServer:
  """The policy behind the endpoints: model, tokenizer, batcher and weight version."""

  def __init__(
    self,
    model_path: str,
    tokenizer_path: str | None = None,
    mesh=None,
    dtype: str | None = None,
    served_model_name: str | None = None,
    weight_version: str = "default",
    max_batch: int = 64,
    max_wait_s: float = 0.02,
    seed: int = 0,
  ):
    self.tokenizer_path = tokenizer_path or model_path
    self.tokenizer = load_tokenizer(self.tokenizer_path)
    self.mesh = mesh
    model = load_hf(model_path, mesh, **({"dtype": dtype} if dtype else {}))
    self.config = model.config
    self.batcher = RequestBatcher(Sampler(model, self.tokenizer, mesh), max_batch, max_wait_s)
    self.model_path, self.weight_version = model_path, weight_version
    self.served_model_name = served_model_name or model_path
    self.context_length = self.config.max_position_embeddings
    self.started = time.time()
    self._seeds = random.Random(seed)
    self._gate = _Gate()

  def fresh_seed(self) -> int:
    return self._seeds.randrange(2**31)

  def encode(self, text: Any) -> list[int]:
    if not isinstance(text, str) or not text:
      raise RequestError(f"a text prompt must be a non-empty string, got {text!r}")
    return self.tokenizer.encode(text)

  def check_prompt(self, prompt: Any, params: SamplingParams) -> list[int]:
    vocab = self.config.vocab_size
    if not isinstance(prompt, list) or not prompt:
      raise RequestError(f"a token-id prompt must be a non-empty list of ints, got {prompt!r}")
    if not all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < vocab for t in prompt):
      raise RequestError(f"token ids must be ints in [0, {vocab}), got {prompt[:20]}...")
    if len(prompt) + params.max_new_tokens > self.context_length:
      raise RequestError(
        f"prompt ({len(prompt)} tokens) + max_new_tokens ({params.max_new_tokens}) exceeds the "
        f"model's context length {self.context_length}"
      )
    return prompt

  async def generate(
    self, prompts: Sequence[list[int]], params: Sequence[SamplingParams]
  ) -> tuple[list[list[Completion]], str]:
    """`params[i].n` completions of prompt i (sample j seeded `seed + j`), and the weight
    version that produced all of them."""
    prompts = [self.check_prompt(p, sp) for p, sp in zip(prompts, params)]
    rows = [
      (p, dataclasses.replace(sp, seed=sp.seed + j, n=1))
      for p, sp in zip(prompts, params)
      for j in range(sp.n)
    ]
    async with self._gate.shared():
      done = await asyncio.gather(*(asyncio.wrap_future(self.batcher.submit(*r)) for r in rows))
      version = self.weight_version
    groups, start = [], 0
    for sp in params:
      groups.append(list(done[start : start + sp.n]))
      start += sp.n
    return groups, version

  async def update_weights(self, model_path: str, weight_version: str | None) -> str:
    """Swaps in the weights of `model_path` once running requests are done."""
    new_config = from_hf_config(
      read_hf_config(model_path), dtype=self.config.dtype, param_dtype=self.config.param_dtype
    )
    if new_config != self.config:
      differ = [
        f.name
        for f in dataclasses.fields(new_config)
        if getattr(new_config, f.name) != getattr(self.config, f.name)
      ]
      raise RequestError(f"{model_path} has a different architecture: {differ} differ")
    async with self._gate.exclusive():
      model = await asyncio.get_running_loop().run_in_executor(
        None, lambda: load_hf(model_path, self.mesh, dtype=new_config.dtype)
      )
      self.batcher.sampler = Sampler(model, self.tokenizer, self.mesh)
      self.model_path = model_path
      if weight_version is not None:
        self.weight_version = weight_version
    return f"Succeeded to update model weights from {model_path}."

  def model_info(self) -> dict[str, Any]:
    return {
      "model_path": self.model_path,
      "tokenizer_path": self.tokenizer_path,
      "is_generation": True,
      "preferred_sampling_params": None,
      "weight_version": self.weight_version,
    }

  def decode(self, completion: Completion, skip_special_tokens: bool) -> str:
    if skip_special_tokens or isinstance(completion.matched_stop, str):
      return completion.text  # a matched stop string is cut from the text, as SGLang does
    stopped = completion.finish_reason == "stop"
    tokens = completion.tokens[:-1] if stopped else completion.tokens
    return self.tokenizer.decode(tokens, skip_special_tokens=False)


def finish_reason(completion: Completion) -> dict[str, Any]:
  """SGLang's finish-reason object (its FINISH_MATCHED_TOKEN / FINISH_LENGTH `to_json`)."""
  if completion.finish_reason == "stop":  # a stop token id or a stop string
    return {"type": "stop", "matched": completion.matched_stop}
  return {"type": "length", "length": completion.completion_tokens}


def error_response(status: int, message: str) -> web.Response:
  return web.json_response({"error": {"message": message}}, status=status)


@web.middleware
async def error_responses(request: web.Request, handler):
  """Every failure becomes a JSON error; nothing a client sends can stop the server."""
  try:
    return await handler(request)
  except RequestError as error:
    return error_response(400, str(error))
  except web.HTTPException as error:
    if error.status < 400:
      raise
    return error_response(error.status, error.reason or str(error))
  except Exception as error:  # a server-side failure: report it, keep serving
    log.exception("request to %s failed", request.path)
    return error_response(500, f"{type(error).__name__}: {error}")


async def read_json(request: web.Request) -> dict[str, Any]:
  try:
    body = await request.json()
  except (json.JSONDecodeError, UnicodeDecodeError) as error:
    raise RequestError(f"the request body is not valid JSON: {error}") from error
  if not isinstance(body, dict):
    raise RequestError(f"the request body must be a JSON object, got {type(body).__name__}")
  return body


class NativeApi:
  """SGLang's native endpoints."""

  def __init__(self, server: PolicyServer):
    self.server = server

  def _prompts(self, body: Mapping[str, Any]) -> tuple[list[list[int]], bool]:
    """(token-id prompts, whether the request named a single prompt)."""
    text, ids = body.get("text"), body.get("input_ids")
    if (text is None) == (ids is None):
      raise RequestError("give exactly one of `text` and `input_ids`")
    if text is not None:
      texts = text if isinstance(text, list) else [text]
      if not texts:
        raise RequestError("`text` is an empty list: give at least one prompt")
      return [self.server.encode(t) for t in texts], not isinstance(text, list)
    if isinstance(ids, list) and ids and all(isinstance(p, list) for p in ids):
      return ids, False
    return [ids], True

  async def generate(self, request: web.Request) -> web.Response:
    started = time.monotonic()
    body = await read_json(request)
    check_fields(body, GENERATE_FIELDS, NEUTRAL_GENERATE_FIELDS, "generate")
    prompts, single = self._prompts(body)
    fields = per_prompt(body.get("sampling_params"), len(prompts), "sampling_params", {})
    params = [to_sampling_params(f, self.server.fresh_seed()) for f in fields]
    logprobs = per_prompt(body.get("return_logprob"), len(prompts), "return_logprob", False)
    rid = body.get("rid")
    if isinstance(rid, str) and not single:  # SGLang: a batch's string rid is a prefix
      rid = [f"{rid}_{i}" for i in range(len(prompts))]
    rids = per_prompt(rid, len(prompts), "rid", None)
    token_text = bool(body.get("return_text_in_logprobs"))
    groups, version = await self.server.generate(prompts, params)
    outputs = []
    for group, f, want_logprobs, rid in zip(groups, fields, logprobs, rids):
      for completion in group:
        meta = {
          "id": rid if rid is not None and len(group) == 1 else uuid.uuid4().hex,
          "finish_reason": finish_reason(completion),
          "prompt_tokens": completion.prompt_tokens,
          "completion_tokens": completion.completion_tokens,
          "cached_tokens": 0,  # no prefix cache across calls (a batch prefills a prompt once)
          "weight_version": version,
          "e2e_latency": time.monotonic() - started,
        }
        if want_logprobs:
          meta["output_token_logprobs"] = [
            [lp, t, self.server.tokenizer.decode([t]) if token_text else None]
            for lp, t in zip(completion.logprobs, completion.tokens)
          ]
        text = self.server.decode(completion, f.get("skip_special_tokens") is not False)
        outputs.append({"text": text, "output_ids": completion.tokens, "meta_info": meta})
    return web.json_response(outputs[0] if single and len(outputs) == 1 else outputs)

  async def update_weights_from_disk(self, request: web.Request) -> web.Response:
    body = await read_json(request)
    check_fields(body, UPDATE_FIELDS, {}, "update_weights_from_disk")
    path = body.get("model_path")
    if not isinstance(path, str) or not path:
      raise RequestError("model_path (an HF directory) is required")
    if body.get("load_format") not in (None, "auto", "safetensors"):
      raise RequestError(f"load_format={body['load_format']!r}: only safetensors is read")
    version = body.get("weight_version")
    try:
      message = await self.server.update_weights(path, None if version is None else str(version))
      success = True
    except (OSError, ValueError) as error:  # a missing or incompatible directory
      message, success = f"Failed to update weights from {path}: {error}", False
    if success and version is not None:
      message += f" Weight version updated to {version}."
    answer = {"success": success, "message": message, "num_paused_requests": 0}
    return web.json_response(answer, status=200 if success else 400)

  async def flush_cache(self, request: web.Request) -> web.Response:
    del request
    return web.Response(text="Cache flushed.\nThis server keeps no prefix cache.\n")

  async def health(self, request: web.Request) -> web.Response:
    del request
    return web.Response()

  async def health_generate(self, request: web.Request) -> web.Response:
    del request
    try:
      await self.server.generate([[0]], [SamplingParams(max_new_tokens=1, temperature=0.0)])
    except Exception:  # unhealthy, not crashed
      log.exception("health generation failed")
      return web.Response(status=503)
    return web.Response()

  async def get_model_info(self, request: web.Request) -> web.Response:
    del request
    return web.json_response(self.server.model_info())

  async def get_server_info(self, request: web.Request) -> web.Response:
    s = self.server
    return web.json_response(
      {
        **s.model_info(),
        "host": request.host,
        "served_model_name": s.served_model_name,
        "context_length": s.context_length,
        "dtype": s.config.dtype,
        "max_running_requests": s.batcher.max_batch,
        "max_wait_s": s.batcher.max_wait_s,
        "batches_run": s.batcher.batches_run,
        "compiled_shapes": sum(slots_lib.COMPILED_SHAPES.values()),
        "version": "xcoder-jax",
      }
    )
