"""The SGLang client engine against `launch.serve` run as a real process on localhost, checked
against transformers (the reference implementation) on the same weights; plus a fixture of
SGLang's own request fields and answer shapes that both the client and the server must match.

One server serves the whole module. Every generation keeps to a few compiled shapes (prompts
under 16 tokens, max_new_tokens 8, batches of 1 or 4 rows), and the server keeps JAX's
compilation cache in the temp directory, so reruns skip compilation.
"""

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import ml_collections
import numpy as np
import pytest
import torch

from configs.rl import tiny as rl_tiny
from data_pipeline.teacher import make_teacher
from launch import rl as rl_launch
from xcoder_jax.checkpoint import model_state
from xcoder_jax.data.tokenizer import TINY_VOCAB_SIZE, load_tokenizer
from xcoder_jax.fileio import read_jsonl
from xcoder_jax.hf import from_hf_config, load_hf
from xcoder_jax.hf.config import read_hf_config
from xcoder_jax.rl import grpo
from xcoder_jax.rollout import SamplingParams, api_fields
from xcoder_jax.rollout.engine import ENGINES, EngineContext, make_engine
from xcoder_jax.rollout.sglang_client import (
  SGLangEngine,
  SGLangError,
  SGLangServer,
  parse_generate_output,
  sglang_sampling_params,
)

from hf_models import hf_logits, make_hf_model
from ports import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "sglang_api.json")
COMPILE_CACHE = os.path.join(tempfile.gettempdir(), "xcoder_jax_test_compile_cache")
MAX_NEW = 8
PROMPTS = [[5, 17, 300], list(range(40, 51)), [900, 901, 902, 903, 904], [7, 8]]
GREEDY = SamplingParams(max_new_tokens=MAX_NEW, temperature=0.0)
EOS = 2  # the tiny tokenizer's <|im_end|>: eos and end of turn
SLOTS = 4  # the server's decode slots: bursts of more requests queue for them


@pytest.fixture(scope="module")
def fixture():
  with open(FIXTURE) as f:
    return json.load(f)


@pytest.fixture(scope="module")
def tokenizer():
  return load_tokenizer("tiny")


@pytest.fixture(scope="module")
def models(tmp_path_factory, tokenizer):
  """name -> (HF directory, transformers model): two weight sets of one architecture."""
  root = tmp_path_factory.mktemp("serve")
  out = {}
  for name, seed in (("a", 0), ("b", 1)):
    model = make_hf_model("qwen3", tied=True, seed=seed, vocab_size=TINY_VOCAB_SIZE)
    model.save_pretrained(root / name)
    tokenizer.save_pretrained(str(root / name))
    out[name] = (str(root / name), model)
  return out


@pytest.fixture(scope="module")
def url(models):
  model_dir = models["a"][0]
  port = free_port()
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # one CPU device
  env["JAX_PLATFORMS"] = "cpu"
  log_path = os.path.join(os.path.dirname(model_dir), "server.log")
  with open(log_path, "w") as log:
    process = subprocess.Popen(
      [
        sys.executable,
        "-m",
        "launch.serve",
        f"--model={model_dir}",
        f"--port={port}",
        "--max_wait_s=0.3",
        f"--max_batch={SLOTS}",
        f"--compilation_cache_dir={COMPILE_CACHE}",
      ],
      cwd=ROOT,
      env=env,
      stdout=log,
      stderr=subprocess.STDOUT,
    )
  address = f"http://127.0.0.1:{port}"
  probe = SGLangServer(address, timeout_s=2, max_retries=0)
  deadline = time.monotonic() + 300
  while not probe.healthy():
    if process.poll() is not None or time.monotonic() > deadline:
      process.kill()
      pytest.fail("launch.serve did not come up:\n" + open(log_path).read()[-4000:])
    time.sleep(0.2)
  yield address
  process.terminate()
  try:
    process.wait(timeout=30)
  except subprocess.TimeoutExpired:
    process.kill()


@pytest.fixture(scope="module")
def engine(url, models, tmp_path_factory):
  model_dir = models["a"][0]
  settings = {"server_url": url, "sync_dir": str(tmp_path_factory.mktemp("exports"))}
  settings.update(export_dtype="float32", keep_exports=1, prompts_per_request=4)
  context = EngineContext(
    model_config=from_hf_config(read_hf_config(model_dir)), tokenizer_dir=model_dir
  )
  engine = make_engine("sglang", settings, context)
  yield engine
  engine.close()


def call(url, path, body=None, method="POST"):
  """(HTTP status, decoded JSON answer) of one raw request."""
  data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
  request = urllib.request.Request(url + path, data, method=method)
  try:
    with urllib.request.urlopen(request, timeout=300) as response:
      return response.status, json.loads(response.read() or b"null")
  except urllib.error.HTTPError as error:
    return error.code, json.loads(error.read())


def reference_logprobs(model, prompt, completion):
  """transformers' log-softmax at each completion token, from one full forward."""
  logits = torch.as_tensor(hf_logits(model, [list(prompt) + list(completion)])[0])
  logprobs = torch.log_softmax(logits, dim=-1).numpy()
  at = np.arange(len(prompt) - 1, len(prompt) - 1 + len(completion))
  return logprobs[at, completion]


def reference_greedy(model, prompt, steps=MAX_NEW, repetition_penalty=1.0):
  """transformers' greedy continuation, ending at eos like the server's; a repetition
  penalty divides positive (multiplies negative) logits of tokens seen in prompt + output."""
  tokens = []
  for _ in range(steps):
    logits = np.array(hf_logits(model, [list(prompt) + tokens])[0, -1], np.float64)
    seen = sorted(set(prompt) | set(tokens))
    logits[seen] = np.where(
      logits[seen] > 0, logits[seen] / repetition_penalty, logits[seen] * repetition_penalty
    )
    tokens.append(int(logits.argmax()))
    if tokens[-1] == EOS:
      break
  return tokens


@pytest.fixture(scope="module")
def greedy_a(models):
  return [reference_greedy(models["a"][1], p) for p in PROMPTS]


def check_against_reference(completion, model, prompt, tokens=None):
  if tokens is not None:
    assert completion.tokens == tokens
  assert completion.prompt_tokens == len(prompt)
  assert completion.completion_tokens == len(completion.tokens) == len(completion.logprobs)
  expected = reference_logprobs(model, prompt, completion.tokens)
  np.testing.assert_allclose(completion.logprobs, expected, atol=1e-4)
  stopped = bool(completion.tokens) and completion.tokens[-1] == EOS
  assert completion.finish_reason == ("stop" if stopped else "length")


def test_serve_help_documents_every_flag():
  result = subprocess.run(
    [sys.executable, "-m", "launch.serve", "--help"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  flags = ["--model", "--tokenizer", "--host", "--port", "--served_model_name", "--dtype"]
  flags += ["--weight_version", "--max_batch", "--max_wait_s", "--seed", "--compilation_cache_dir"]
  flags += ["--mesh_fsdp", "--mesh_tensor"]
  assert all(f in result.stdout for f in flags), result.stdout + result.stderr
  assert "127.0.0.1" in result.stdout


def test_fixture_pins_sglang_fields_and_answer_shapes(fixture):
  """What the client sends and the server accepts are SGLang's names; SGLang's answers parse."""
  sampling = sglang_sampling_params(SamplingParams(top_k=0, n=3, stop_token_ids=(7,)))
  assert sampling["top_k"] == -1 and sampling["n"] == 3 and sampling["stop_token_ids"] == [7]
  assert set(sampling) <= set(fixture["sampling_params_fields"])
  assert api_fields.SAMPLING_FIELDS <= set(fixture["sampling_params_fields"])
  assert api_fields.GENERATE_FIELDS <= set(fixture["generate_request_fields"])
  assert api_fields.UPDATE_FIELDS <= set(fixture["update_weights_from_disk_fields"])
  client = SGLangEngine("http://unused", seeded=True)
  seeded = client._body([[1, 2]], dataclasses.replace(GREEDY, n=2), 0)
  client.close()
  assert set(seeded) <= set(fixture["generate_request_fields"])
  assert [p["sampling_seed"] for p in seeded["sampling_params"]] == [0, 1]
  assert set(fixture["generate_request"]) <= set(fixture["generate_request_fields"])
  stop, length = [parse_generate_output(o) for o in fixture["generate_answer"]]
  assert stop.tokens == [21927, 151645] and stop.finish_reason == "stop"  # stop token kept
  assert stop.logprobs == [-0.4054651081, -0.0202027073] and stop.text == " Hello"
  assert (length.finish_reason, length.completion_tokens, length.prompt_tokens) == ("length", 4, 3)
  broken = json.loads(json.dumps(fixture["generate_answer"][1]))
  broken["meta_info"]["completion_tokens"] = 5
  with pytest.raises(SGLangError, match="4 log-probs for 5"):
    parse_generate_output(broken)
  assert "sglang" in ENGINES


def test_text_prompt_answer_has_sglangs_shape_and_the_reference_tokens(
  url, models, tokenizer, fixture
):
  text = "def add(a, b):"
  body = {
    "text": text,
    "sampling_params": {"max_new_tokens": MAX_NEW, "temperature": 0},
    "return_logprob": True,
    "return_text_in_logprobs": True,
  }
  status, answer = call(url, "/generate", body)
  assert status == 200 and isinstance(answer, dict)  # one prompt, n = 1: one object
  sglang = fixture["generate_answer"][0]
  assert set(answer) == set(sglang)
  assert set(sglang["meta_info"]) - set(answer["meta_info"]) <= {"total_retractions"} | {
    "input_token_logprobs"
  }
  meta, prompt = answer["meta_info"], tokenizer.encode(text)
  tokens = reference_greedy(models["a"][1], prompt)
  assert answer["output_ids"] == tokens and meta["prompt_tokens"] == len(prompt)
  assert meta["weight_version"] == "default" and meta["finish_reason"]["type"] in ("stop", "length")
  assert [t for _, t, _ in meta["output_token_logprobs"]] == tokens
  assert [s for *_, s in meta["output_token_logprobs"]] == [tokenizer.decode([t]) for t in tokens]
  shown = tokens[:-1] if meta["finish_reason"]["type"] == "stop" else tokens
  assert answer["text"] == tokenizer.decode(shown, skip_special_tokens=True)
  completion = parse_generate_output(answer)
  check_against_reference(completion, models["a"][1], prompt, tokens)


def test_n_samples_are_grouped_per_prompt_reproducible_and_carry_raw_logprobs(url, models):
  """Seeded: each sample its own row and seed (two prompts, one request each); unseeded: one
  request with n = 2, whose answer lists both samples of prompt 0 first."""
  seeded = SGLangEngine(url, seeded=True, prompts_per_request=1)
  sampling = SamplingParams(max_new_tokens=MAX_NEW, temperature=1.0, n=2, seed=11)
  first = seeded.generate(PROMPTS[:2], sampling)
  assert first == seeded.generate(PROMPTS[:2], sampling)
  seeded.close()
  plain_engine = SGLangEngine(url)
  plain = plain_engine.generate(PROMPTS[:2], sampling)
  plain_engine.close()
  for groups in (first, plain):
    assert [len(g) for g in groups] == [2, 2]
    for prompt, group in zip(PROMPTS, groups):
      assert group[0].tokens != group[1].tokens  # distinct samples at temperature 1
      for completion in group:
        check_against_reference(completion, models["a"][1], prompt)


def test_stop_strings_and_repetition_penalty_through_the_client(engine, models, tokenizer):
  prompt = PROMPTS[1]
  penalised = reference_greedy(models["a"][1], prompt, repetition_penalty=1.5)
  [[got]] = engine.generate([prompt], dataclasses.replace(GREEDY, repetition_penalty=1.5))
  assert got.tokens == penalised
  text = tokenizer.decode(penalised, skip_special_tokens=True)
  stop = text[len(text) // 2 : len(text) // 2 + 2]
  assert stop.strip(), text
  [[cut]] = engine.generate(
    [prompt], dataclasses.replace(GREEDY, repetition_penalty=1.5, stop=(stop,))
  )
  assert cut.finish_reason == "stop" and cut.matched_stop == stop
  assert cut.text == text[: text.index(stop)]  # the matched string is cut, as SGLang does


def test_openai_engine_reads_token_ids_and_raw_logprobs_from_completions(url, models, greedy_a):
  """The `openai` engine (vLLM, hosted servers) on /v1/completions: token-id prompts, exact
  ids via return_tokens_as_token_ids, transformers' greedy tokens and log-probs."""
  engine = make_engine("openai", {"server_url": url, "model": "tiny", "concurrency": 2})
  groups = engine.generate(PROMPTS, GREEDY)
  engine.close()
  for prompt, tokens, [completion] in zip(PROMPTS, greedy_a, groups):
    check_against_reference(completion, models["a"][1], prompt, tokens)
  with pytest.raises(NotImplementedError, match="no weight update"):
    engine.update_weights({}, 1)


def test_stop_token_ids_and_max_new_tokens_end_rows_as_sglang_reports(url, greedy_a):
  tokens = greedy_a[0]
  stop_at = next((i for i in range(1, len(tokens)) if tokens[i] not in tokens[:i]), 0)
  stop = tokens[stop_at]
  body = {
    "input_ids": PROMPTS,
    "sampling_params": [
      {"max_new_tokens": MAX_NEW, "temperature": 0, "stop_token_ids": [stop]},
      {"max_new_tokens": 3, "temperature": 0},
      {"max_new_tokens": MAX_NEW, "temperature": 0},
      {"max_new_tokens": MAX_NEW, "temperature": 0},
    ],
    "rid": "batch",
  }
  status, answer = call(url, "/generate", body)
  assert status == 200 and len(answer) == 4
  assert answer[0]["output_ids"] == greedy_a[0][: stop_at + 1]
  assert answer[0]["meta_info"]["finish_reason"] == {"type": "stop", "matched": stop}
  if EOS not in greedy_a[1][:3]:
    assert answer[1]["output_ids"] == greedy_a[1][:3]
    assert answer[1]["meta_info"]["finish_reason"] == {"type": "length", "length": 3}
  assert [a["output_ids"] for a in answer[2:]] == greedy_a[2:]
  assert [a["meta_info"]["id"] for a in answer] == [f"batch_{i}" for i in range(4)]
  assert "output_token_logprobs" not in answer[0]["meta_info"]  # not asked for


def test_openai_teacher_and_completions_clients_are_served(url, models, tokenizer):
  """SynthSmith's OpenAI teacher unchanged, then /v1/completions and /v1/models."""
  config = ml_collections.ConfigDict(
    dict(
      backend="openai",
      base_url=url + "/v1",
      model="tiny",
      timeout_s=300,
      max_retries=0,
      backoff_s=0.1,
      concurrency=2,
    )
  )
  teacher = make_teacher(config)
  messages = [{"role": "user", "content": "Loop."}]  # templated: 15 tokens, bucket 16
  sampling = {"max_tokens": MAX_NEW, "temperature": 0.0, "top_p": 0.95, "seed": 3}
  answer = teacher.complete("solution", messages, sampling)
  prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
  tokens = reference_greedy(models["a"][1], prompt)
  shown = tokens[:-1] if tokens[-1] == EOS else tokens
  assert answer.text == tokenizer.decode(shown, skip_special_tokens=True)
  assert (answer.prompt_tokens, answer.completion_tokens) == (len(prompt), len(tokens))

  body = {"model": "tiny", "prompt": ["x = 1", "y = 2"], "max_tokens": MAX_NEW, "n": 2}
  status, answer = call(url, "/v1/completions", {**body, "temperature": 0, "logprobs": 0})
  assert status == 200 and answer["object"] == "text_completion"
  choices = answer["choices"]
  assert [c["index"] for c in choices] == [0, 1, 2, 3] and choices[0]["text"] == choices[1]["text"]
  assert all(c["finish_reason"] in ("stop", "length") for c in choices)
  assert len(choices[0]["logprobs"]["token_logprobs"]) == len(choices[0]["logprobs"]["tokens"])
  usage = answer["usage"]
  assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
  status, listing = call(url, "/v1/models", method="GET")
  assert status == 200 and listing["data"][0]["max_model_len"] == 512


def test_bad_requests_get_400_with_a_json_error_and_the_server_keeps_serving(
  url, engine, models, tmp_path
):
  make_hf_model("qwen3", tied=True, vocab_size=TINY_VOCAB_SIZE, hidden_size=32).save_pretrained(
    tmp_path / "other"
  )
  chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
  cases = [
    ("/generate", b"{not json", "not valid JSON"),
    ("/generate", {"text": "a", "input_ids": [1]}, "exactly one of"),
    ("/generate", {"input_ids": [1], "prompt": "a"}, "unknown generate field"),
    ("/generate", {"input_ids": [1], "sampling_params": {"min_p": 0.1}}, "not supported"),
    ("/generate", {"input_ids": [1], "sampling_params": {"frequency_penalty": 0.5}}, "not sup"),
    ("/generate", {"input_ids": [1], "sampling_params": {"stop": [3]}}, "list of strings"),
    ("/generate", {"input_ids": [1], "sampling_params": {"top_k": 0}}, "top_k must be -1"),
    ("/generate", {"input_ids": [1], "sampling_params": {"temperature": "hot"}}, "temperature"),
    ("/generate", {"input_ids": [1], "sampling_params": {"max_new_tokens": 0}}, "max_new_tokens"),
    ("/generate", {"input_ids": [TINY_VOCAB_SIZE]}, "token ids must be ints in [0, 4096)"),
    ("/generate", {"input_ids": [1] * 510}, "exceeds the model's context length 512"),
    ("/generate", {"input_ids": [1], "stream": True}, "stream=True is not supported"),
    ("/generate", {"input_ids": [[1], [2]], "sampling_params": [{}]}, "1 entries for 2 prompts"),
    ("/v1/chat/completions", {"messages": []}, "messages must be a non-empty list"),
    ("/v1/chat/completions", {**chat, "tools": [{"type": "function"}]}, "tools"),
    ("/v1/chat/completions", {**chat, "logit_bias": {"1": 2.0}}, "logit_bias"),
    ("/v1/completions", {"prompt": "a", "logprobs": 2}, "logprobs > 0"),
    ("/update_weights_from_disk", {}, "model_path (an HF directory) is required"),
  ]
  for path, body, message in cases:
    status, answer = call(url, path, body)
    assert status == 400 and message in answer["error"]["message"], (path, body, answer)
  for model_path, message in (
    (str(tmp_path / "missing"), "config.json not found"),
    (str(tmp_path / "other"), "different architecture: ['hidden_size']"),
  ):
    status, answer = call(url, "/update_weights_from_disk", {"model_path": model_path})
    assert status == 400 and answer["success"] is False and message in answer["message"]
  status, answer = call(url, "/nowhere", method="GET")
  assert status == 404 and "error" in answer
  with pytest.raises(SGLangError, match="HTTP 400"):  # the client does not retry a 4xx
    engine.generate([[TINY_VOCAB_SIZE]], GREEDY)
  dead = SGLangServer(f"http://127.0.0.1:{free_port()}", timeout_s=1, max_retries=2, backoff_s=0)
  with pytest.raises(SGLangError, match="failed after 3 attempts"):
    dead.request("/health", method="GET")
  assert engine.healthy()
  assert call(url, "/get_model_info", method="GET")[1]["model_path"] == models["a"][0]


def test_concurrent_requests_share_batches_and_get_their_own_rows(url, engine, greedy_a):
  before = call(url, "/get_server_info", method="GET")[1]["batches_run"]
  results, start = [None] * len(PROMPTS), threading.Barrier(len(PROMPTS))

  def ask(i):
    start.wait()
    results[i] = engine.generate([PROMPTS[i]], GREEDY)[0][0].tokens

  threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(PROMPTS))]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert results == greedy_a
  after = call(url, "/get_server_info", method="GET")[1]["batches_run"]
  assert after - before < len(PROMPTS)  # some requests were decoded together


def test_a_burst_of_four_times_the_slots_queues_and_every_row_gets_its_own_answer(url, greedy_a):
  """16 concurrent clients, 4 slots, answers of 1..MAX_NEW tokens: rows join the running
  batch as others leave it, nobody deadlocks, and each greedy answer is its prompt's greedy
  continuation cut at its own limit."""
  info = call(url, "/get_server_info", method="GET")[1]
  assert info["max_running_requests"] == SLOTS
  clients = 4 * SLOTS
  limits = [1 + i % MAX_NEW for i in range(clients)]
  results, start = [None] * clients, threading.Barrier(clients)

  def ask(i):
    start.wait()
    body = {
      "input_ids": PROMPTS[i % len(PROMPTS)],
      "sampling_params": {"max_new_tokens": limits[i], "temperature": 0.0},
    }
    results[i] = call(url, "/generate", body)[1]["output_ids"]

  threads = [threading.Thread(target=ask, args=(i,)) for i in range(clients)]
  for t in threads:
    t.start()
  for t in threads:
    t.join(timeout=120)
  assert not any(t.is_alive() for t in threads)
  for i, tokens in enumerate(results):
    assert tokens == greedy_a[i % len(PROMPTS)][: limits[i]]


def test_update_weights_from_disk_switches_generations_to_the_new_weights(
  url, engine, models, greedy_a
):
  """Export -> /update_weights_from_disk -> version check, without recompiling; old exports
  are deleted (keep_exports=1)."""
  compiled = call(url, "/get_server_info", method="GET")[1]["compiled_shapes"]
  params = {name: model_state(load_hf(path)) for name, (path, _) in models.items()}
  engine.update_weights(params["b"], 1)
  assert engine.weights_version == 1
  info = call(url, "/get_model_info", method="GET")[1]
  assert info["weight_version"] == "1" and info["model_path"].endswith("weights_v000001")
  completions = engine.generate(PROMPTS, GREEDY)
  model_b = models["b"][1]
  for prompt, [completion] in zip(PROMPTS, completions):
    check_against_reference(completion, model_b, prompt, reference_greedy(model_b, prompt))
  assert [c.tokens for [c] in completions] != greedy_a
  body = {"input_ids": PROMPTS[0], "sampling_params": {"max_new_tokens": MAX_NEW}}
  status, answer = call(url, "/generate", body)
  assert status == 200 and answer["meta_info"]["weight_version"] == "1"
  assert call(url, "/get_server_info", method="GET")[1]["compiled_shapes"] == compiled
  engine.update_weights(params["a"], 2)
  assert os.listdir(engine.export_dir) == ["weights_v000002"]
  assert [c.tokens for [c] in engine.generate(PROMPTS, GREEDY)] == greedy_a


SHIPPED_ENGINES = sorted(n for n in ENGINES if ENGINES.get(n).__module__.startswith("xcoder_jax."))


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED_ENGINES)
def test_grpo_takes_a_step_with_every_engine_or_refuses_it_at_config_check(
  name, url, models, tmp_path
):
  """Each engine is built from its own config section; one that cannot take new weights is
  refused before any work, naming the engines that can. Runs last in this module: the sglang
  case leaves the server on the policy's first export (model "a" in float32, unchanged)."""
  config = rl_tiny.get_config()
  config.init.update(source="hf", path=models["a"][0])
  config.warmup.sft_steps = 0
  config.rl.update(prompts_per_step=4, num_generations=2, num_minibatches=1, max_new_tokens=8)
  config.train.update(steps=1, loss_chunk=56, progress_bar=False, async_checkpoint=False)
  config.rollout.engine = name
  section = config.rollout[name]
  for key, value in (("server_url", url), ("sync_dir", str(tmp_path / "sync"))):
    if key in section:
      section[key] = value
  if "export_dtype" in section:
    section.export_dtype = "float32"
  if not ENGINES.get(name).syncs_weights:
    with pytest.raises(ValueError, match=rf"rollout.engine='{name}' cannot serve GRPO: .*can: "):
      grpo.check_config(config)
    return
  workdir = str(tmp_path / "run")
  grpo.train(rl_launch.prepare(config, workdir), workdir)
  [metrics] = read_jsonl(os.path.join(workdir, "metrics.jsonl"))
  assert metrics["step"] == 1 and np.isfinite(metrics["loss"])
  # the engine sampled from the trainer's own weights: its log-probs are the trainer's
  assert metrics["logprob_gap"] < 1e-3, metrics
