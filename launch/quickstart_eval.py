"""The quickstart's checks: the leak check, the export check and the evaluation of the SFT
and GRPO checkpoints side by side on SynthSmith's held-out split."""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
from collections.abc import Callable

LOGIT_TOLERANCE = 1e-4  # float32 export vs transformers, max |dlogit|
MODELS = {"sft": "sft", "grpo": "rl"}  # evaluated model -> its work directory under RUN


def leaks_phase(run_dir: str) -> dict:
  """``launch.check_split`` over this run: every training input of the SFT and GRPO runs
  against SynthSmith's held-out tasks."""
  from launch import check_split

  runs = [os.path.join(run_dir, name) for name in ("sft", "rl")]
  inputs = [row for workdir in runs for row in check_split.recorded_inputs(workdir)]
  report = check_split.check([os.path.join(run_dir, "synthsmith")], inputs)
  from xcoder_jax.fileio import write_json_atomic

  write_json_atomic(os.path.join(run_dir, "leaks.json"), report, indent=1)
  kinds = report["inputs"][0]["leaks"]
  totals = {kind: sum(row["leaks"][kind] for row in report["inputs"]) for kind in kinds}
  return {
    "clean": report["clean"],
    "heldout_tasks": report["heldout_tasks"],
    "records_checked": sum(row["records"] for row in report["inputs"]),
    "leaking_records": report["leaking_records"],
    "leaks": totals,
    "report": os.path.join(run_dir, "leaks.json"),
    "command": f"python -m launch.check_split --run={run_dir}",
  }


def _greedy_matches_forward(model, tokenizer) -> bool:
  """Greedy rollouts of prompts of different lengths (left-padded in one batch) from the
  KV-cache sampler equal the argmax of one plain forward pass over prompt + completion (rows
  right-padded: attention is causal, so padding after a row leaves its logits alone)."""
  import numpy as np

  from xcoder_jax.rollout import Sampler, SamplingParams

  rng = np.random.RandomState(1)
  prompts = [rng.randint(3, model.config.vocab_size, n).tolist() for n in (5, 8, 13)]
  greedy = SamplingParams(max_new_tokens=8, temperature=0.0)
  completions = [c.tokens for c in Sampler(model, tokenizer).generate(prompts, greedy)]
  rows = [prompt + tokens for prompt, tokens in zip(prompts, completions)]
  batch = np.zeros((len(rows), max(map(len, rows))), np.int32)
  for i, row in enumerate(rows):
    batch[i, : len(row)] = row
  predicted = np.asarray(model(batch)).argmax(-1)
  return all(
    predicted[i, len(prompt) - 1 : len(prompt) - 1 + len(tokens)].tolist() == tokens
    for i, (prompt, tokens) in enumerate(zip(prompts, completions))
  )


def export_phase(run_dir: str) -> dict:
  """The GRPO checkpoint as a Hugging Face directory, reloaded in transformers (logits
  compared) and decoded greedily with the KV-cache sampler."""
  import jax
  import numpy as np
  import torch
  import transformers

  from xcoder_jax import checkpoint, sharding
  from xcoder_jax.data import load_tokenizer
  from xcoder_jax.hf import save_hf

  transformers.logging.set_verbosity_error()
  source, mesh = os.path.join(run_dir, "rl"), sharding.make_mesh()  # FSDP over every device
  with sharding.use_mesh(mesh):
    model, step = checkpoint.load_model(source, mesh)
    hf_dir = save_hf(
      model, os.path.join(run_dir, "hf"), "float32", checkpoint.assets_dir(source), overwrite=True
    )
    tokens = np.random.RandomState(0).randint(0, model.config.vocab_size, (8, 32)).astype(np.int32)
    ours = np.asarray(jax.jit(lambda m, t: m(t))(model, tokens))
  reference = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
  with torch.no_grad():
    theirs = reference.eval()(torch.as_tensor(tokens, dtype=torch.long)).logits.numpy()
  diff = float(np.abs(theirs - ours).max())
  single_device = checkpoint.load_model(source)[0]
  agrees = _greedy_matches_forward(single_device, load_tokenizer(hf_dir))
  return {
    "hf_dir": hf_dir,
    "rl_step": step,
    "max_abs_dlogit": diff,
    "tolerance": LOGIT_TOLERANCE,
    "greedy_sampler_matches_forward": agrees,
    "ok": diff < LOGIT_TOLERANCE and agrees,
  }


def _fingerprint(files: list[str], settings: dict) -> str:
  """Names the samples of one model (its weight files) and one set of sampling settings."""
  digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
  for path in sorted(files):
    digest.update(path.encode())
    with open(path, "rb") as f:
      digest.update(f.read())
  return digest.hexdigest()[:16]


def _model(run_dir: str, model: str) -> tuple[list[str], Callable]:
  """(weight files, engine builder) of one evaluated model: GRPO's exported HF directory (the
  artifact users take away), or SFT's newest checkpoint. The engine runs in process on one
  device (a dozen held-out tasks x k rows would not split over the 8-device mesh)."""
  from xcoder_jax import checkpoint
  from xcoder_jax.data import load_tokenizer
  from xcoder_jax.hf import load_hf
  from xcoder_jax.rollout.engine import EngineContext, make_engine

  def builder(tokenizer, load_model) -> Callable:
    context = EngineContext(tokenizer=tokenizer, load_model=load_model)
    return lambda: (make_engine("in_process", {}, context), tokenizer)

  if model == "grpo":
    hf_dir = os.path.join(run_dir, "hf")
    build = builder(load_tokenizer(hf_dir), lambda: load_hf(hf_dir))
    return glob.glob(os.path.join(hf_dir, "*.safetensors")), build
  workdir = os.path.join(run_dir, MODELS[model])
  root = checkpoint.checkpoint_root(workdir)
  newest = os.path.join(root, str(max(int(n) for n in os.listdir(root) if n.isdigit())))
  tokenizer = load_tokenizer(checkpoint.assets_dir(workdir))
  build = builder(tokenizer, lambda: checkpoint.load_model(workdir)[0])
  return [os.path.join(d, f) for d, _, names in os.walk(newest) for f in names], build


def _samples(problems, sampling, k: int, samples_file: str, engine_of: Callable) -> dict:
  """k samples per problem, resuming from the complete problems already in ``samples_file``."""
  from xcoder_jax import fileio
  from xcoder_jax.eval import append_samples, read_samples
  from xcoder_jax.eval.generation import generate

  on_disk = {}
  if os.path.exists(samples_file):
    fileio.cut_torn_line(samples_file)
    on_disk = read_samples(samples_file)
  done = {q: [s[i] for i in range(k)] for q, s in on_disk.items() if all(i in s for i in range(k))}
  todo = [problem for problem in problems if problem.question_id not in done]
  if not todo:
    return done
  records = [
    {"question_id": q, "sample_index": i, "response": text}
    for q, texts in done.items()
    for i, text in enumerate(texts)
  ]
  fileio.write_jsonl_atomic(samples_file, records)  # partial problems are generated again
  engine, tokenizer = engine_of()
  new = generate(
    todo,
    engine,
    tokenizer,
    k,
    sampling,
    on_problem=lambda qid, texts: append_samples(samples_file, qid, texts),
    progress=False,
  )
  return {**done, **new}


def eval_phase(run_dir: str, k: int, max_new_tokens: int) -> dict:
  """Both checkpoints on the held-out split: avg@k, pass@k and the intermediate rates."""
  from xcoder_jax import fileio, judge
  from xcoder_jax.eval import LoadOptions, evaluate, load_benchmark
  from xcoder_jax.eval.generation import EVAL_SAMPLING

  benchmark = load_benchmark("synthsmith", os.path.join(run_dir, "synthsmith"), LoadOptions())
  sampling = dataclasses.replace(EVAL_SAMPLING, max_new_tokens=max_new_tokens)
  settings = {key: getattr(sampling, key) for key in ("temperature", "top_p", "top_k")}
  settings.update(max_new_tokens=max_new_tokens, k=k)
  os.makedirs(os.path.join(run_dir, "eval_samples"), exist_ok=True)
  judge_pool, models = judge.Judge(), {}
  for model in MODELS:
    weights, engine_of = _model(run_dir, model)
    samples_file = os.path.join(run_dir, "eval_samples", f"{_fingerprint(weights, settings)}.jsonl")
    responses = _samples(benchmark.problems, sampling, k, samples_file, engine_of)
    report = evaluate(
      benchmark, responses, k, judge_pool, progress=False, model=model, samples=samples_file
    )
    report["sampling"] = settings
    fileio.write_json_atomic(os.path.join(run_dir, f"eval_{model}.json"), report)
    models[model] = {
      "avg_at_k": report["avg_at_k"],
      "pass_at_k": report["pass_at_k"],
      "rates": report["rates"],
      "by_difficulty": report["breakdowns"].get("difficulty", {}),
      "judge_errors": report["judge_errors"],
      "report": os.path.join(run_dir, f"eval_{model}.json"),
    }
  return {
    "benchmark": "synthsmith",
    "split": "heldout (decontaminated: no training record holds these tasks, see leaks)",
    "num_problems": len(benchmark.problems),
    "k": k,
    "sampling": settings,
    "models": models,
  }
