"""The in-process JAX teacher: a tiny random Qwen3 saved as an HF directory with the tiny
tokenizer answers chats deterministically, counts tokens, batches concurrent requests, and
its recorded answers replay exactly without the model."""

import threading

import ml_collections
import pytest

from data_pipeline import teacher as teacher_lib
from xcoder_jax.data.tokenizer import TINY_VOCAB_SIZE, load_tokenizer
from xcoder_jax.rollout import SamplingParams

from hf_models import make_hf_model

CHAT = [
  {"role": "system", "content": "You write Python."},
  {"role": "user", "content": "Read two numbers and print their sum."},
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  path = tmp_path_factory.mktemp("jax_teacher_model")
  make_hf_model(
    "qwen3", tied=False, vocab_size=TINY_VOCAB_SIZE, max_position_embeddings=4096
  ).save_pretrained(path)
  load_tokenizer("tiny").save_pretrained(str(path))
  return str(path)


def _config(**values):
  base = {
    "backend": "jax",
    "model_dir": "",
    "record_to": "",
    "replay_file": "",
    "concurrency": 4,
    "batch_wait_s": 0.2,
  }
  return ml_collections.ConfigDict({**base, **values})


@pytest.fixture(scope="module")
def recorded(model_dir, tmp_path_factory):
  recording = str(tmp_path_factory.mktemp("recording") / "teacher.jsonl")
  return teacher_lib.make_teacher(_config(model_dir=model_dir, record_to=recording)), recording


def test_greedy_answer_is_deterministic_counted_and_replays(recorded):
  teacher, recording = recorded
  greedy = {"temperature": 0.0, "max_tokens": 12}
  sampled = {"temperature": 0.8, "top_p": 0.95, "top_k": -1, "max_tokens": 12, "seed": 5}
  first = teacher.complete("solution", CHAT, greedy)
  assert teacher.complete("solution", CHAT, greedy) == first
  random_answer = teacher.complete("solution", CHAT, sampled)

  jax_teacher = teacher.inner
  prompt = jax_teacher.tokenizer.apply_chat_template(
    CHAT, add_generation_prompt=True, tokenize=True
  )
  [ref] = jax_teacher.sampler.generate([prompt], SamplingParams(max_new_tokens=12, temperature=0.0))
  kept = ref.tokens[:-1] if ref.finish_reason == "stop" else ref.tokens
  assert first.text == jax_teacher.tokenizer.decode(kept, skip_special_tokens=True)
  assert (first.prompt_tokens, first.completion_tokens) == (len(prompt), len(ref.tokens))
  [chat] = jax_teacher.sampler.generate_text(
    [CHAT], SamplingParams(max_new_tokens=12, temperature=0.0)
  )
  assert chat.text == first.text and chat.tokens == ref.tokens
  assert jax_teacher.usage["solution"] == {
    "requests": 3,
    "prompt_tokens": 3 * len(prompt),
    "completion_tokens": 2 * len(ref.tokens) + random_answer.completion_tokens,
  }

  replay = teacher_lib.make_teacher(_config(backend="replay", replay_file=recording))
  assert replay.complete("solution", CHAT, greedy) == first
  assert replay.complete("solution", CHAT, sampled) == random_answer
  with pytest.raises(teacher_lib.TeacherError):
    teacher.complete("solution", CHAT, {"max_tokens": 12, "stop": ["\n"]})


def test_concurrent_requests_share_batches_and_answer_as_if_alone(recorded):
  jax_teacher = recorded[0].inner
  requests = [
    {"temperature": 0.0, "max_tokens": 12},
    {"temperature": 1.0, "max_tokens": 12, "seed": 1},
    {"temperature": 1.0, "max_tokens": 6, "seed": 2},
  ]
  alone = [jax_teacher.complete("test_inputs", CHAT, r) for r in requests]
  batches_before = jax_teacher.batcher.batches_run
  together = [None] * len(requests)
  start = threading.Barrier(len(requests))

  def ask(i):
    start.wait()
    together[i] = jax_teacher.complete("test_inputs", CHAT, requests[i])

  threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(requests))]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  assert together == alone
  assert jax_teacher.batcher.batches_run - batches_before < len(requests)
  assert alone[2].completion_tokens <= 6
