"""SGLang's request fields, and the one mapping of its `sampling_params` onto SamplingParams.

Names come from SGLang's `io_struct.py` (GenerateReqInput, UpdateWeightFromDiskReqInput) and
`sampling/sampling_params.py`; tests/rollout/fixtures/sglang_api.json pins them. A field the
sampler does not implement is refused (HTTP 400) unless it holds its neutral value, so no
request is ever answered as if a setting had been applied when it was not. Supporting a new
SamplingParams field is one line in `to_sampling_params` (and removing it from
UNSUPPORTED_SAMPLING).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xcoder_jax.rollout.types import SamplingParams

DEFAULT_MAX_NEW_TOKENS = 128  # SGLang's default
GREEDY_BELOW = 1e-6  # SGLang samples greedily below this temperature
TOP_K_ALL = 1 << 30  # SGLang's "whole vocabulary"
# SGLang sampling fields the sampler does not implement yet, with the value that turns each
# off; a request may only send that value (or null).
UNSUPPORTED_SAMPLING = {
  "stop_regex": None,
  "frequency_penalty": 0.0,
  "presence_penalty": 0.0,
  "min_p": 0.0,
  "min_new_tokens": 0,
  "ignore_eos": False,
  "no_stop_trim": False,
  "spaces_between_special_tokens": True,
  "json_schema": None,
  "regex": None,
  "ebnf": None,
  "structural_tag": None,
  "logit_bias": None,
  "custom_params": None,
}
SAMPLING_FIELDS = {
  "max_new_tokens",
  "temperature",
  "top_p",
  "top_k",
  "n",
  "stop_token_ids",
  "stop",
  "repetition_penalty",
  "sampling_seed",
  "skip_special_tokens",  # applied when decoding the text
  "stream_interval",  # only matters for streaming, which is refused
} | set(UNSUPPORTED_SAMPLING)
# /generate fields beyond the prompt, sampling and log-prob ones: accepted only at these values.
NEUTRAL_GENERATE_FIELDS = {
  "stream": False,
  "logprob_start_len": -1,
  "top_logprobs_num": 0,
  "token_ids_logprob": None,
  "input_embeds": None,
  "image_data": None,
  "video_data": None,
  "audio_data": None,
  "lora_path": None,
  "session_params": None,
  "custom_logit_processor": None,
  "return_hidden_states": False,
  "return_routed_experts": False,
  "return_entropy": False,
  "modalities": None,
  "data_parallel_rank": None,
  "routed_dp_rank": None,
  "priority": None,
  "extra_key": None,
  "background": False,
}
GENERATE_FIELDS = {
  "text",
  "input_ids",
  "sampling_params",
  "return_logprob",
  "return_text_in_logprobs",
  "rid",
  "log_metrics",
  "no_logs",
  "custom_labels",
} | set(NEUTRAL_GENERATE_FIELDS)


# UpdateWeightFromDiskReqInput's fields. The rest beside model_path, load_format and
# weight_version steer SGLang's scheduler (abort, pause, cache flush); here an update always
# waits for running requests and there is no cache to flush.
UPDATE_FIELDS = {
  "model_path",
  "load_format",
  "weight_version",
  "abort_all_requests",
  "is_async",
  "torch_empty_cache",
  "keep_pause",
  "recapture_cuda_graph",
  "token_step",
  "flush_cache",
  "manifest",
  "rid",
}


class RequestError(ValueError):
  """A bad request: answered with HTTP 400 and this message."""


def check_fields(body: Mapping[str, Any], allowed: set[str], neutral: Mapping[str, Any], what: str):
  """Refuses unknown fields, and fields this server lacks unless they hold their neutral value."""
  unknown = sorted(set(body) - allowed)
  if unknown:
    raise RequestError(f"unknown {what} field(s) {unknown}; known: {sorted(allowed)}")
  for name, off in neutral.items():
    value = body.get(name)
    empty = off is None and value in ("", [], {})  # an empty stop list or bias map is unset
    if value is not None and value != off and not empty:
      raise RequestError(f"{what} field {name}={value!r} is not supported by this server yet")


def _number(fields: Mapping[str, Any], name: str, default, kind):
  value = fields.get(name)
  if value is None:
    return default
  if isinstance(value, bool) or not isinstance(value, int | float) or kind(value) != value:
    raise RequestError(f"sampling_params.{name} must be {kind.__name__}, got {value!r}")
  return kind(value)


def to_sampling_params(fields: Mapping[str, Any], default_seed: int) -> SamplingParams:
  """SGLang's `sampling_params` -> ours: the one place request fields meet the sampler."""
  if not isinstance(fields, Mapping):
    raise RequestError(f"sampling_params must be an object, got {fields!r}")
  check_fields(fields, SAMPLING_FIELDS, UNSUPPORTED_SAMPLING, "sampling_params")
  if "max_new_tokens" in fields and fields["max_new_tokens"] is None:
    raise RequestError(
      "sampling_params.max_new_tokens=null (until the context is full) is not supported by "
      "this server yet; give a number"
    )
  temperature = _number(fields, "temperature", 1.0, float)
  top_k = _number(fields, "top_k", -1, int)
  if top_k == 0 or top_k < -1:
    raise RequestError(f"sampling_params.top_k must be -1 (off) or >= 1, got {top_k}")
  stop_ids = fields.get("stop_token_ids") or ()
  if not isinstance(stop_ids, list | tuple) or not all(
    isinstance(t, int) and not isinstance(t, bool) for t in stop_ids
  ):
    raise RequestError(f"sampling_params.stop_token_ids must be a list of ints, got {stop_ids!r}")
  stop = fields.get("stop") or ()
  stop = (stop,) if isinstance(stop, str) else stop
  if not isinstance(stop, list | tuple) or not all(isinstance(t, str) and t for t in stop):
    raise RequestError(f"sampling_params.stop must be a string or a list of strings, got {stop!r}")
  try:
    return SamplingParams(
      max_new_tokens=_number(fields, "max_new_tokens", DEFAULT_MAX_NEW_TOKENS, int),
      temperature=0.0 if 0 <= temperature < GREEDY_BELOW else temperature,
      top_p=_number(fields, "top_p", 1.0, float),
      top_k=0 if top_k in (-1, TOP_K_ALL) else top_k,
      seed=_number(fields, "sampling_seed", default_seed, int),
      stop_token_ids=tuple(sorted(set(stop_ids))),
      stop=tuple(stop),
      repetition_penalty=_number(fields, "repetition_penalty", 1.0, float),
      n=_number(fields, "n", 1, int),
    )
  except ValueError as error:
    raise RequestError(str(error)) from error


def per_prompt(value: Any, count: int, name: str, default: Any) -> list:
  """One value for every prompt, or a list with one per prompt (SGLang's batch convention)."""
  if value is None:
    return [default] * count
  if isinstance(value, list):
    if len(value) != count:
      raise RequestError(f"{name} has {len(value)} entries for {count} prompts")
    return value
  return [value] * count
