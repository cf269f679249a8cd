"""The whole X-Coder recipe end to end on the tiny model: offline, CPU only, minutes.

  python -m launch.quickstart [--run_dir=runs/quickstart] [--phases=synthsmith,sft,rl,export,eval]

1. synthsmith: SynthSmith on its embedded demo. The teacher's answers are REPLAYED from a
   recording (data_pipeline/demo/teacher_recording.jsonl), so it runs offline; the candidate
   programs, test inputs and votes run for real in the sandboxed judge.     -> RUN/synthsmith
2. sft: configs/sft/tiny.py on the bundled demo set + SynthSmith's SFT shards, FSDP over every
   device (8 virtual CPU devices under `make quickstart`).                  -> RUN/sft
3. rl: GRPO from the SFT checkpoint on SynthSmith's RL tasks with judge rewards; SynthSmith's
   evaluation split stays unseen (data.exclude_held_out).                   -> RUN/rl
4. export: the RL checkpoint as a Hugging Face directory, reloaded in transformers (logits
   compared) and decoded greedily with the KV-cache sampler (== the full forward's argmax).
                                                                            -> RUN/hf
5. eval: k samples per held-out SynthSmith task from RUN/hf (in-process engine), judged with
   X-Coder's reward rules: avg@k and pass@k, overall and by difficulty.    -> RUN/eval.json

DPO is not a quickstart phase: after SFT (instead of or before GRPO) run
`python -m launch.dpo --config=configs/dpo/tiny.py --workdir=DIR` on SynthSmith's preference pairs.

The end: a summary table, RUN/summary.json and plots (sft_loss.png, rl_reward.png,
funnel.png, eval_by_difficulty.png). Every phase reruns alone with the same flags and resumes
rather than redoes: SynthSmith from its work files, SFT and GRPO from their checkpoints (a
phase whose final checkpoint exists is skipped; delete RUN/sft or RUN/rl to redo it), the
export is rewritten atomically, and eval reuses the samples of the same model and settings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging as std_logging
import os
import time
from collections.abc import Callable

from absl import app, flags, logging

from launch import common
from launch import quickstart_report as report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHASES = ("synthsmith", "sft", "rl", "export", "eval")
LOGIT_TOLERANCE = 1e-4  # float32 export vs transformers, max |dlogit|
TOY_RL = "`python -m launch.rl --config=configs/rl/tiny.py` shows GRPO learning a toy task"

_RUN_DIR = flags.DEFINE_string(
  "run_dir", "runs/quickstart", "Run directory (relative to the repository root); reused."
)
_PHASES = flags.DEFINE_list("phases", list(PHASES), f"Phases to run: any of {', '.join(PHASES)}.")
_SFT_STEPS = flags.DEFINE_integer("sft_steps", 40, "SFT steps.", lower_bound=1)
_RL_STEPS = flags.DEFINE_integer("rl_steps", 4, "GRPO steps.", lower_bound=1)
_RL_PROMPTS = flags.DEFINE_integer("rl_prompts", 4, "Tasks per GRPO step.", lower_bound=1)
_RL_GROUP = flags.DEFINE_integer("rl_generations", 4, "Rollouts per task.", lower_bound=2)
_EVAL_K = flags.DEFINE_integer("eval_k", 4, "Samples per held-out task.", lower_bound=1)
_MAX_NEW_TOKENS = flags.DEFINE_integer(
  "max_new_tokens", 64, "Tokens per rollout and per evaluation answer.", lower_bound=1
)
flags.declare_key_flag("debug")


def run_path(*parts: str) -> str:
  """A path under the run directory."""
  return os.path.join(ROOT, os.path.expanduser(_RUN_DIR.value), *parts)


# What each phase reads from an earlier one: (phase, path under RUN, what it is).
NEEDS = {
  "sft": [("synthsmith", "synthsmith/sft", "SynthSmith's SFT shards")],
  "rl": [
    ("synthsmith", "synthsmith/rl", "SynthSmith's RL tasks"),
    ("sft", "sft/checkpoints/model_config.json", "the SFT checkpoint"),
  ],
  "export": [("rl", "rl/checkpoints/model_config.json", "the GRPO checkpoint")],
  "eval": [
    ("synthsmith", "synthsmith/rl", "SynthSmith's held-out tasks"),
    ("export", "hf/config.json", "the exported model"),
  ],
}


def check_flags() -> list[str]:
  """The phases in recipe order; refuses what would fail later, before anything is written."""
  unknown = [name for name in _PHASES.value if name not in PHASES]
  if unknown or not _PHASES.value:
    raise common.UserError(
      f"--phases: unknown phase(s) {unknown}; give a comma-separated subset of {','.join(PHASES)}"
    )
  if os.path.exists(run_path()) and not os.path.isdir(run_path()):
    raise common.UserError(f"--run_dir={_RUN_DIR.value} is a file; pass a directory path instead")
  phases = [name for name in PHASES if name in _PHASES.value]
  for phase in phases:
    for producer, needed, what in NEEDS.get(phase, []):
      if producer not in phases and not os.path.exists(run_path(needed)):
        raise common.UserError(
          f"phase {phase} needs {what} ({run_path(needed)}); run "
          f"--phases={producer} first, or all phases"
        )
  if "rl" in phases:
    import jax  # after _quiet(): XLA_FLAGS decides the CPU device count

    rows = _RL_PROMPTS.value * _RL_GROUP.value
    if rows % jax.device_count():
      raise common.UserError(
        f"--rl_prompts x --rl_generations = {rows} rollouts per step must split over "
        f"{jax.device_count()} devices; make it a multiple of {jax.device_count()}"
      )
  return phases


def synthsmith_phase() -> dict:
  from configs.synthsmith import demo
  from data_pipeline import pipeline

  report = pipeline.run(demo.get_config(), run_path("synthsmith"))
  if report.get("unfinished"):
    stage = report["unfinished"]["stage"]
    raise SystemExit(f"SynthSmith left items to retry at stage {stage}; rerun the same command")
  return {
    "teacher": "replayed recording (data_pipeline/demo/teacher_recording.jsonl), offline",
    "funnel": [{k: row[k] for k in ("stage", "in", "out")} for row in report["funnel"]],
    "sft_records": report["outputs"]["sft_records"],
    "rl_records": report["outputs"]["rl_records"],
    "held_out_tasks": report["outputs"]["heldout_records"],
  }


def sft_phase() -> dict:
  import jax

  from configs.sft import tiny
  from xcoder_jax.train import sft
  from xcoder_jax.train.checkpointing import has_step

  config = tiny.get_config()
  config.data.train_files = f"demo,{run_path('synthsmith', 'sft')}"
  steps = _SFT_STEPS.value
  config.train.update(steps=steps, log_every=1, eval_every=steps, progress_bar=False)
  workdir = run_path("sft")
  reused = has_step(workdir, steps)
  if not reused:
    sft.train(config, workdir)
  metrics = report.metrics(workdir)
  return {
    "reused": reused,
    "steps": steps,
    "devices": jax.device_count(),
    "loss_first": metrics[0]["loss"],
    "loss_last": metrics[-1]["loss"],
    "eval_loss": next((m["eval_loss"] for m in reversed(metrics) if "eval_loss" in m), None),
  }


def _prompt_budget() -> int:
  """Tokens of the longest RL prompt as GRPO builds it (chat template and generation prompt,
  tiny tokenizer), rounded up to a multiple of 16."""
  from xcoder_jax.data import load_tokenizer
  from xcoder_jax.eval.benchmarks.synthsmith import read_records

  tokenizer = load_tokenizer("tiny")
  longest = max(
    len(
      tokenizer.apply_chat_template(
        [{"role": "user", "content": r["prompt"]}], add_generation_prompt=True, tokenize=True
      )
    )
    for r in read_records(run_path("synthsmith", "rl"))
  )
  return -(-longest // 16) * 16


def rl_phase() -> dict:
  from configs.rl import base, tiny
  from xcoder_jax.rl import grpo
  from xcoder_jax.rl.rewards import FORMAT_PENALTY
  from xcoder_jax.train.checkpointing import has_step

  config = tiny.get_config()
  config.init.update(source="checkpoint", path=run_path("sft"))
  config.data.update(train_files=run_path("synthsmith", "rl"))
  config.warmup.update(sft_steps=0, train_files="")
  prompt_len = _prompt_budget()
  config.rl.update(
    prompts_per_step=_RL_PROMPTS.value,
    num_generations=_RL_GROUP.value,
    max_prompt_len=prompt_len,
    max_new_tokens=_MAX_NEW_TOKENS.value,
    num_minibatches=1,
  )
  steps = _RL_STEPS.value
  config.train.update(
    steps=steps,
    save_every=steps,
    keep=1,
    log_every=1,
    loss_chunk=prompt_len + _MAX_NEW_TOKENS.value,
    progress_bar=False,
  )
  base.validate(config)
  workdir = run_path("rl")
  reused = has_step(workdir, steps)
  if not reused:
    grpo.train(config, workdir)
  metrics = report.metrics(workdir)
  rewards = [m["reward_mean"] for m in metrics]
  passes = [m["pass_rate"] for m in metrics]
  if max(rewards) <= FORMAT_PENALTY:
    note = (
      f"rewards stayed at the format penalty ({FORMAT_PENALTY:g}): the tiny model does not "
      f"write parseable code yet; {TOY_RL}"
    )
  elif max(passes) == 0:
    note = f"some answers parsed but none passed a test yet; {TOY_RL}"
  else:
    note = f"pass rate {passes[0]:.2f} -> {passes[-1]:.2f}"
  return {
    "reused": reused,
    "steps": steps,
    "rollouts_per_step": f"{_RL_PROMPTS.value} tasks x {_RL_GROUP.value} samples",
    "max_prompt_len": prompt_len,
    "reward_first": rewards[0],
    "reward_last": rewards[-1],
    "pass_rate_first": passes[0],
    "pass_rate_last": passes[-1],
    "note": note,
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


def export_phase() -> dict:
  import jax
  import numpy as np
  import torch
  import transformers

  from xcoder_jax import checkpoint, sharding
  from xcoder_jax.data import load_tokenizer
  from xcoder_jax.hf import save_hf

  transformers.logging.set_verbosity_error()
  source, mesh = run_path("rl"), sharding.make_mesh()  # FSDP over every device
  with sharding.use_mesh(mesh):
    model, step = checkpoint.load_model(source, mesh)
    hf_dir = save_hf(
      model, run_path("hf"), "float32", checkpoint.assets_dir(source), overwrite=True
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


def _fingerprint(hf_dir: str, settings: dict) -> str:
  """Names the samples of one model and one set of sampling settings."""
  digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
  for name in sorted(os.listdir(hf_dir)):
    if name.endswith(".safetensors"):
      with open(os.path.join(hf_dir, name), "rb") as f:
        digest.update(f.read())
  return digest.hexdigest()[:16]


def _samples(problems, sampling, samples_file: str) -> dict[str, list[str]]:
  """k samples per problem, resuming from the complete problems already in ``samples_file``."""
  from xcoder_jax import fileio
  from xcoder_jax.data import load_tokenizer
  from xcoder_jax.eval import append_samples, read_samples
  from xcoder_jax.eval.generation import generate
  from xcoder_jax.hf import load_hf
  from xcoder_jax.rollout.in_process import InProcessEngine

  k = _EVAL_K.value
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
  # One device: a handful of held-out tasks x k rows would not split over the 8-device mesh.
  tokenizer = load_tokenizer(run_path("hf"))
  engine = InProcessEngine(load_hf(run_path("hf")), tokenizer)
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


def eval_phase() -> dict:
  from xcoder_jax import fileio, judge
  from xcoder_jax.eval import LoadOptions, evaluate, load_benchmark
  from xcoder_jax.eval.generation import EVAL_SAMPLING

  benchmark = load_benchmark("synthsmith", run_path("synthsmith"), LoadOptions())
  sampling = dataclasses.replace(EVAL_SAMPLING, max_new_tokens=_MAX_NEW_TOKENS.value)
  settings = {
    key: getattr(sampling, key) for key in ("temperature", "top_p", "top_k", "max_new_tokens")
  }
  settings["k"] = _EVAL_K.value
  os.makedirs(run_path("eval_samples"), exist_ok=True)
  samples_file = run_path("eval_samples", f"{_fingerprint(run_path('hf'), settings)}.jsonl")
  responses = _samples(benchmark.problems, sampling, samples_file)
  report = evaluate(
    benchmark,
    responses,
    _EVAL_K.value,
    judge.Judge(),
    progress=False,
    model=run_path("hf"),
    engine="in_process",
    samples=samples_file,
    sampling=settings,
  )
  fileio.write_json_atomic(run_path("eval.json"), report)
  return {
    "benchmark": "synthsmith held-out split",
    "num_problems": report["num_problems"],
    "k": _EVAL_K.value,
    "avg_at_k": report["avg_at_k"],
    "pass_at_k": report["pass_at_k"],
    "by_difficulty": report["breakdowns"].get("difficulty", {}),
    "judge_errors": report["judge_errors"],
    "report": run_path("eval.json"),
  }


PHASE_FUNCTIONS: dict[str, Callable[[], dict]] = {
  "synthsmith": synthsmith_phase,
  "sft": sft_phase,
  "rl": rl_phase,
  "export": export_phase,
  "eval": eval_phase,
}


def _quiet() -> None:
  """One line per phase: no progress bars, no INFO logs from Orbax, Grain or transformers."""
  os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is imported (by the phases)
  os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  os.environ.setdefault("JAX_PLATFORMS", "cpu")
  if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    flags_ = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{flags_} --xla_force_host_platform_device_count=8".strip()
  logging.set_verbosity(logging.WARNING)
  # Orbax warns at every read-only restore that read-only checkpoints are not written to.
  std_logging.getLogger("absl").addFilter(
    lambda record: record.levelno >= std_logging.ERROR or "/orbax/" not in record.pathname
  )


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  _quiet()
  phases = check_flags()  # a common.UserError: one line, exit status 2, nothing written
  from xcoder_jax.fileio import write_json_atomic

  os.makedirs(run_path(), exist_ok=True)
  summary_path = run_path("summary.json")
  summary = {"phases": {}}
  if os.path.exists(summary_path):
    with open(summary_path) as f:
      summary = json.load(f)
  summary["run_dir"] = run_path()
  for number, phase in enumerate(phases, 1):
    print(f"[{number}/{len(phases)}] {phase}: ", end="", flush=True)
    start = time.perf_counter()
    section = PHASE_FUNCTIONS[phase]()
    previous = summary["phases"].get(phase, {})
    seconds = time.perf_counter() - start
    section["seconds"] = previous.get("seconds", seconds) if section.get("reused") else seconds
    summary["phases"][phase] = section
    write_json_atomic(summary_path, summary, indent=1)
    reused = " (reused the finished checkpoint)" if section.get("reused") else ""
    print(f"{report.describe(phase, section)} [{seconds:.1f} s{reused}]", flush=True)
  summary["plots"] = report.write_plots(run_path(), summary)
  summary["total_seconds"] = sum(s["seconds"] for s in summary["phases"].values())
  write_json_atomic(summary_path, summary, indent=1)
  print(report.table(summary, PHASES))
  export = summary["phases"].get("export")
  if export and not export["ok"]:
    raise SystemExit("quickstart FAILED: the export check is out of tolerance")


if __name__ == "__main__":
  common.run(main, "quickstart")
