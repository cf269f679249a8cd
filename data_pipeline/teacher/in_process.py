"""An HF model directory as the teacher, run in-process with the JAX sampler (no server)."""

from __future__ import annotations

from typing import Any

from data_pipeline.teacher.base import TEACHERS, Teacher, TeacherError
from xcoder_jax.rollout.types import Completion, SamplingParams


@TEACHERS.register("jax")
class JaxTeacher(Teacher):
  """Config: ``model_dir`` (HF safetensors + config.json), optional ``tokenizer_dir`` (defaults
  to ``model_dir``), ``dtype`` (compute dtype override), ``concurrency`` (the largest batch),
  ``batch_wait_s`` (how long the first request of a batch waits for company), ``seed`` (used
  when a request names none). Concurrent ``complete`` calls from the stages' thread pools are
  answered together in one batched generation. Requests carry OpenAI fields: temperature,
  top_p, top_k (-1 or 0 = off), max_tokens (default 4096), seed. A request without a seed
  uses the configured one, so the same request always gets the same answer, as on replay.
  """

  SAMPLING_KEYS = ("temperature", "top_p", "top_k", "max_tokens", "seed")
  IDENTITY_KEYS = ("model_dir", "dtype", "seed")

  def __init__(self, config):
    super().__init__()
    from xcoder_jax.data.tokenizer import load_tokenizer
    from xcoder_jax.hf import load_hf
    from xcoder_jax.rollout import RequestBatcher, Sampler

    if not config.get("model_dir"):
      raise ValueError(
        "the jax teacher needs teacher.model_dir, an HF model directory "
        "(config.json + *.safetensors)"
      )
    overrides = {"dtype": config.dtype} if config.get("dtype") else {}
    model = load_hf(config.model_dir, **overrides)
    self.tokenizer = load_tokenizer(config.get("tokenizer_dir") or config.model_dir)
    self.sampler = Sampler(model, self.tokenizer)
    self.batcher = RequestBatcher(
      self.sampler,
      max_batch=config.get("concurrency", 64),
      max_wait_s=config.get("batch_wait_s", 0.02),
    )
    self.default_seed = config.get("seed", 0)

  def _sampling_params(self, sampling: dict[str, Any]) -> SamplingParams:
    unknown = sorted(set(sampling) - set(self.SAMPLING_KEYS))
    if unknown:
      raise TeacherError(
        f"the jax teacher does not support sampling keys {unknown}; it "
        f"knows {list(self.SAMPLING_KEYS)}"
      )
    try:
      return SamplingParams(
        max_new_tokens=sampling.get("max_tokens", 4096),
        temperature=sampling.get("temperature", 1.0),
        top_p=sampling.get("top_p", 1.0),
        top_k=max(0, sampling.get("top_k", 0)),  # SGLang's -1 means off
        seed=sampling.get("seed", self.default_seed),
      )
    except ValueError as error:
      raise TeacherError(str(error)) from error

  def _complete(self, stage, messages, sampling):
    params = self._sampling_params(sampling)
    prompt = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    result = self.batcher.generate(prompt, params)
    return Completion(
      text=result.text,
      prompt_tokens=result.prompt_tokens,
      completion_tokens=result.completion_tokens,
    )
