"""The `sglang` rollout engine: a client of SGLang's native HTTP API (or of `launch.serve`).

Field names and answer shapes are SGLang's own (`io_struct.py` GenerateReqInput and
UpdateWeightFromDiskReqInput, `http_server.py`, `tokenizer_manager.py`; pinned by the fixture
test in tests/rollout/test_serve.py):

- generation: `POST /generate` with `input_ids` (a list of token-id lists), one shared
  `sampling_params` dict (`max_new_tokens`, `temperature`, `top_p`, `top_k` (-1 = off), `n`,
  `stop_token_ids`) and `return_logprob: true`. The answer lists B*n objects, all samples of
  prompt 0 first; each has `output_ids` (ending with the stop token when one matched), `text`
  and `meta_info` with `finish_reason` {"type": "stop"|"length", ...}, `prompt_tokens`,
  `completion_tokens` and `output_token_logprobs` as (logprob, token_id, text|null) triples.
  Prompts go out in chunks of `prompts_per_request`, spread round-robin over the servers by a
  thread pool; failed requests (connection errors, timeouts, 429 and 5xx) are retried with
  exponential backoff, 4xx answers are raised at once with the server's message.
- weight sync: `update_weights(params, version)` exports the policy to
  `export_dir/weights_vNNNNNN` with the HF exporter, asks every server to
  `POST /update_weights_from_disk` {model_path, weight_version}, and returns only once each
  server's `/get_model_info` reports that `weight_version`; older exports beyond the last
  `keep_exports` are deleted.

Log-probabilities: SGLang reports those of the distribution it sampled from unless started with
SGLANG_RETURN_ORIGINAL_LOGPROB=1 (launch/sglang_server.sh sets it), which makes them the raw
ones GRPO's ratio needs; at temperature 1 without top-k/top-p both agree. `launch.serve`
always reports the raw ones.

Seeds: SGLang draws fresh randomness per request unless started with
--enable-deterministic-inference, which then seeds every sample of a request alike. With
`seeded=True` the client therefore sends each sample as its own row with n = 1 and
`sampling_seed` = seed + row index, so samples stay distinct and reproducible on SGLang in that
mode and on `launch.serve` (where they equal the in-process sampler's rows).
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import re
import shutil
import time
from collections.abc import Sequence
from typing import Any

from absl import logging

from xcoder_jax.http_json import JsonEndpoint, ServerError
from xcoder_jax.rollout.engine import ENGINES, EngineContext, RolloutEngine
from xcoder_jax.rollout.types import Completion, SamplingParams, token_prompts

EXPORT_NAME = "weights_v{:06d}"
_EXPORT_PATTERN = re.compile(r"^weights_v(\d{6,})$")


class SGLangError(ServerError):
  """A server refused a request, answered something malformed, or stayed unreachable."""


def sglang_sampling_params(sampling: SamplingParams) -> dict[str, Any]:
  """Ours -> SGLang's `sampling_params`: the one place the engine's settings meet the wire."""
  return {
    "max_new_tokens": sampling.max_new_tokens,
    "temperature": sampling.temperature,
    "top_p": sampling.top_p,
    "top_k": sampling.top_k or -1,  # SGLang's "off" is -1, ours 0
    "n": sampling.n,
    "stop_token_ids": list(sampling.stop_token_ids),
    "stop": list(sampling.stop),
    "repetition_penalty": sampling.repetition_penalty,
  }


def parse_generate_output(output: dict[str, Any]) -> Completion:
  """One object of a /generate answer -> Completion (tokens, raw log-probs, finish reason)."""
  try:
    meta = output["meta_info"]
    triples = meta["output_token_logprobs"]
    reason = meta["finish_reason"]
    tokens = [int(t) for _, t, *_ in triples]
    logprobs = [float(lp) for lp, *_ in triples]
    kind = reason["type"] if isinstance(reason, dict) else reason
    completion_tokens = int(meta["completion_tokens"])
    prompt_tokens = int(meta["prompt_tokens"])
  except (KeyError, TypeError, ValueError) as error:
    raise SGLangError(f"malformed /generate output ({error!r}): {str(output)[:500]}") from error
  if kind not in ("stop", "length"):
    raise SGLangError(f"generation did not finish normally: finish_reason={reason!r}")
  if "output_ids" in output and list(output["output_ids"]) != tokens:
    raise SGLangError("output_ids disagree with the tokens of output_token_logprobs")
  if len(tokens) != completion_tokens:
    raise SGLangError(f"{len(tokens)} log-probs for {completion_tokens} completion tokens")
  matched = reason.get("matched") if isinstance(reason, dict) and kind == "stop" else None
  return Completion(
    tokens,
    logprobs,
    kind,
    prompt_tokens,
    completion_tokens,
    output.get("text", ""),
    matched_stop=matched,
  )


class SGLangServer(JsonEndpoint):
  """One server's HTTP endpoints, with timeouts and retries."""

  def __init__(self, url: str, timeout_s: float = 600.0, max_retries: int = 3, backoff_s=1.0):
    super().__init__(url, timeout_s, max_retries, backoff_s, error_type=SGLangError)

  def generate(self, body: dict[str, Any]) -> list[dict[str, Any]]:
    answer = self.request("/generate", body)
    return answer if isinstance(answer, list) else [answer]

  def model_info(self) -> dict[str, Any]:
    return self.request("/get_model_info", method="GET")

  def flush_cache(self) -> None:
    self.request("/flush_cache", {})

  def update_weights_from_disk(self, model_path: str, weight_version: str) -> None:
    answer = self.request(
      "/update_weights_from_disk", {"model_path": model_path, "weight_version": weight_version}
    )
    if not (isinstance(answer, dict) and answer.get("success")):
      raise SGLangError(f"{self.url} could not load {model_path}: {answer}")


@ENGINES.register("sglang")
class SGLangEngine(RolloutEngine):
  """Rollouts from one or more SGLang-compatible servers (see the module docstring).

  `urls`: server addresses. `model_config` and `export_dir` (shared storage every server can
  read) are needed by `update_weights` only; `tokenizer_dir`'s files are copied into each
  export. `initial_version`: the version the servers start with.
  """

  defaults = {
    "server_url": "",  # http://HOST:PORT of each server, comma-separated
    "sync_dir": "",  # training: storage every server reads; the policy is exported there
    "export_dtype": "bfloat16",
    "keep_exports": 2,
    "prompts_per_request": 32,
    "requests_per_server": 4,
    "timeout_s": 3600.0,  # one request; also how long servers may take to come up
    "seeded": False,  # one row per sample with its own seed (see the module docstring)
  }
  syncs_weights = True

  @classmethod
  def cannot_train(cls, section) -> str:
    if section.server_url and section.sync_dir:
      return ""
    return (
      "set --config.rollout.sglang.server_url=http://HOST:PORT,... and "
      "--config.rollout.sglang.sync_dir=DIR (storage the servers can read)"
    )

  @classmethod
  def from_config(cls, section, context: EngineContext) -> SGLangEngine:
    """Waits up to `timeout_s` for the servers to answer (they may still be loading). The
    servers' weights are unknown (-1): a trainer syncs before its first rollout."""
    urls = [url for url in section.server_url.split(",") if url]
    if not urls:
      raise ValueError("the sglang engine needs its server_url (http://HOST:PORT,...)")
    engine = cls(
      urls,
      model_config=context.model_config,
      export_dir=section.sync_dir or None,
      tokenizer_dir=context.tokenizer_dir,
      export_dtype=section.export_dtype,
      keep_exports=section.keep_exports,
      initial_version=-1,
      prompts_per_request=section.prompts_per_request,
      requests_per_server=section.requests_per_server,
      timeout_s=section.timeout_s,
      seeded=section.seeded,
    )
    deadline = time.monotonic() + section.timeout_s
    while not engine.healthy():
      if time.monotonic() > deadline:
        engine.close()
        raise SGLangError(f"rollout servers {urls} not healthy after {section.timeout_s:.0f} s")
      logging.warning("waiting for rollout servers %s", urls)
      time.sleep(min(10.0, section.timeout_s / 10))
    return engine

  def __init__(
    self,
    urls: str | Sequence[str],
    model_config=None,
    export_dir: str | None = None,
    tokenizer_dir: str | None = None,
    export_dtype: str = "bfloat16",
    keep_exports: int = 2,
    initial_version: int = 0,
    prompts_per_request: int = 32,
    requests_per_server: int = 4,
    timeout_s: float = 600.0,
    max_retries: int = 3,
    backoff_s: float = 1.0,
    seeded: bool = False,
  ):
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not urls:
      raise ValueError("the sglang engine needs at least one server url")
    if keep_exports < 1 or prompts_per_request < 1 or requests_per_server < 1:
      raise ValueError("keep_exports, prompts_per_request and requests_per_server must be >= 1")
    self.servers = [SGLangServer(u, timeout_s, max_retries, backoff_s) for u in urls]
    self.model_config, self.export_dir = model_config, export_dir
    self.tokenizer_dir, self.export_dtype, self.keep_exports = (
      tokenizer_dir,
      export_dtype,
      keep_exports,
    )
    self.prompts_per_request, self.seeded = prompts_per_request, seeded
    self._version = initial_version
    self._pool = concurrent.futures.ThreadPoolExecutor(
      len(urls) * requests_per_server, thread_name_prefix="sglang-client"
    )

  @property
  def weights_version(self) -> int:
    return self._version

  def _body(self, prompts: list[list[int]], sampling: SamplingParams, first_row: int) -> dict:
    fields = sglang_sampling_params(sampling)
    if not self.seeded:
      return {"input_ids": prompts, "sampling_params": fields, "return_logprob": True}
    rows = [p for p in prompts for _ in range(sampling.n)]
    params = [
      {**fields, "n": 1, "sampling_seed": sampling.seed + first_row + r} for r in range(len(rows))
    ]
    return {"input_ids": rows, "sampling_params": params, "return_logprob": True}

  def generate(
    self, prompts: Sequence[Sequence[int]], sampling: SamplingParams
  ) -> list[list[Completion]]:
    prompts = token_prompts(prompts)
    size, n = self.prompts_per_request, sampling.n
    servers = itertools.cycle(self.servers)
    futures = [
      self._pool.submit(next(servers).generate, self._body(prompts[i : i + size], sampling, i * n))
      for i in range(0, len(prompts), size)
    ]
    outputs = [o for f in futures for o in f.result()]
    if len(outputs) != len(prompts) * n:
      raise SGLangError(f"{len(outputs)} outputs for {len(prompts)} prompts x n={n}")
    completions = [parse_generate_output(o) for o in outputs]
    return [completions[i * n : (i + 1) * n] for i in range(len(prompts))]

  def _each_server(self, method: str, *args) -> list[Any]:
    futures = [self._pool.submit(getattr(s, method), *args) for s in self.servers]
    return [f.result() for f in futures]

  def healthy(self) -> bool:
    return all(self._each_server("healthy"))

  def flush_cache(self) -> None:
    self._each_server("flush_cache")

  def update_weights(self, params: Any, version: int) -> None:
    """Exports `params` (checkpoint item "model", or a Qwen model) and reloads every server."""
    import jax
    from flax import nnx
    from jax.experimental import multihost_utils

    if self.model_config is None or not self.export_dir:
      raise ValueError(
        "update_weights needs model_config and export_dir (a directory every server can read)"
      )
    from xcoder_jax.hf import save_hf

    path = os.path.join(os.path.abspath(self.export_dir), EXPORT_NAME.format(version))
    from xcoder_jax.models.build import model_from_params

    model = (
      params if isinstance(params, nnx.Module) else model_from_params(self.model_config, params)
    )
    save_hf(
      model,
      path,
      dtype=self.export_dtype,
      tokenizer_dir=self.tokenizer_dir,
      overwrite=True,
    )
    if jax.process_index() == 0:  # one process drives the servers; the others wait below
      self._each_server("update_weights_from_disk", path, str(version))
      self._remove_old_exports(version)
    if jax.process_count() > 1:
      multihost_utils.sync_global_devices(f"sglang weights v{version}")
    for server, info in zip(self.servers, self._each_server("model_info")):
      if str(info.get("weight_version")) != str(version):
        raise SGLangError(f"{server.url} reports weight_version {info.get('weight_version')!r}")
    self._version = version

  def _remove_old_exports(self, current: int) -> None:
    """Keeps the newest `keep_exports` exports (the current one among them), deletes older."""
    versions = sorted(
      int(m.group(1)) for name in os.listdir(self.export_dir) if (m := _EXPORT_PATTERN.match(name))
    )
    keep = set(versions[-self.keep_exports :]) | {current}
    for v in versions:
      if v not in keep:
        shutil.rmtree(os.path.join(self.export_dir, EXPORT_NAME.format(v)), ignore_errors=True)

  def close(self) -> None:
    self._pool.shutdown(wait=False, cancel_futures=True)
