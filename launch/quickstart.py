"""The whole X-Coder recipe end to end on the tiny model: offline, CPU only, minutes.

  python -m launch.quickstart [--run_dir=runs/quickstart]
                              [--phases=synthsmith,sft,rl,leaks,export,eval]

1. synthsmith: SynthSmith on its embedded demo. The teacher's answers are REPLAYED from a
   recording (data_pipeline/demo/teacher_recording.jsonl), so it runs offline; the candidate
   programs, test inputs and votes run for real in the sandboxed judge. Every task gets its
   side of the train/held-out split (a quarter held out in the demo).    -> RUN/synthsmith
2. sft: configs/sft/tiny.py on the bundled demo set + SynthSmith's training SFT shards, FSDP
   over every device (8 virtual CPU devices under `make quickstart`); the loss on the
   held-out tasks' golden answers is measured as it trains.                -> RUN/sft
3. rl: GRPO from the SFT checkpoint on SynthSmith's training RL tasks, rewarded by the judge
   with X-Coder's reward; the first and last quarters' mean rewards are compared with their
   standard errors.                                                         -> RUN/rl
4. leaks: the leak check (launch.check_split) over every training input of both runs against
   the held-out tasks: ids, statements and golden solutions, exact and near-duplicate.
                                                                            -> RUN/leaks.json
5. export: the RL checkpoint as a Hugging Face directory, reloaded in transformers (logits
   compared) and decoded greedily with the KV-cache sampler (== the full forward's argmax).
                                                                            -> RUN/hf
6. eval: k samples per held-out task from the SFT checkpoint and from RUN/hf (GRPO), judged
   with X-Coder's reward rules: avg@k, pass@k and the rates on the way to a pass (answered,
   ran, passed a test), side by side.                     -> RUN/eval_sft.json, eval_grpo.json

DPO is not a quickstart phase: after SFT (instead of or before GRPO) run
`python -m launch.dpo --config=configs/dpo/tiny.py --workdir=DIR` on SynthSmith's preference pairs.

The end: a summary table, RUN/summary.json and plots (sft_loss.png, rl_reward.png,
funnel.png, eval_by_difficulty.png). Every phase reruns alone with the same flags and resumes
rather than redoes: SynthSmith from its work files, SFT and GRPO from their checkpoints (a
phase whose final checkpoint exists is skipped; delete RUN/sft or RUN/rl to redo it), the
export is rewritten atomically, and eval reuses the samples of the same model and settings.
"""

from __future__ import annotations

import json
import logging as std_logging
import os
import time
from collections.abc import Callable

from absl import app, flags, logging

from launch import common
from launch import quickstart_eval as checks
from launch import quickstart_report as report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHASES = ("synthsmith", "sft", "rl", "leaks", "export", "eval")
RUN_FORMAT = 2  # raise when phases or their outputs change: older run directories are refused
SFT_SEQ_LEN = 512  # the demo's prompts and golden answers fit whole: the closing fence is learned
# The tiny model's GRPO rate (X-Coder's 7B: 4e-7). Measured on the demo (docs/quickstart.md):
# at 3e-5..5e-5 24 steps change nothing beyond noise, at 1e-4 the reward drifts down.
RL_LR = 2e-4

_RUN_DIR = flags.DEFINE_string(
  "run_dir", "runs/quickstart", "Run directory (relative to the repository root); reused."
)
_PHASES = flags.DEFINE_list("phases", list(PHASES), f"Phases to run: any of {', '.join(PHASES)}.")
_SFT_STEPS = flags.DEFINE_integer("sft_steps", 160, "SFT steps.", lower_bound=1)
_RL_STEPS = flags.DEFINE_integer(
  "rl_steps", 16, "GRPO steps (at least 4, so that each quarter has one).", lower_bound=1
)
_RL_PROMPTS = flags.DEFINE_integer("rl_prompts", 8, "Tasks per GRPO step.", lower_bound=1)
_RL_GROUP = flags.DEFINE_integer("rl_generations", 4, "Rollouts per task.", lower_bound=2)
_EVAL_K = flags.DEFINE_integer("eval_k", 4, "Samples per held-out task.", lower_bound=1)
_MAX_NEW_TOKENS = flags.DEFINE_integer(
  "max_new_tokens", 192, "Tokens per rollout and per evaluation answer.", lower_bound=1
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
  "leaks": [
    ("synthsmith", "synthsmith/heldout/rl", "SynthSmith's held-out tasks"),
    ("sft", "sft/config.json", "the SFT run's recorded inputs"),
    ("rl", "rl/config.json", "the GRPO run's recorded inputs"),
  ],
  "export": [("rl", "rl/checkpoints/model_config.json", "the GRPO checkpoint")],
  "eval": [
    ("synthsmith", "synthsmith/heldout/rl", "SynthSmith's held-out tasks"),
    ("sft", "sft/checkpoints/model_config.json", "the SFT checkpoint"),
    ("export", "hf/config.json", "the exported GRPO model"),
  ],
}


def read_summary() -> dict:
  """The run directory's summary (phases already done); a run made by a quickstart of another
  format (other phases, data or settings) is refused rather than mixed with this one."""
  path = run_path("summary.json")
  if not os.path.exists(path):
    return {"format": RUN_FORMAT, "phases": {}}
  with open(path) as f:
    summary = json.load(f)
  if summary.get("format") != RUN_FORMAT:
    raise common.UserError(
      f"--run_dir={_RUN_DIR.value} holds a run of another quickstart version (format "
      f"{summary.get('format', 1)}, this one writes {RUN_FORMAT}); delete it or pass a new "
      "--run_dir"
    )
  return summary


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
    if _RL_STEPS.value < 4:
      raise common.UserError(
        f"--rl_steps={_RL_STEPS.value}: give at least 4 steps, so that the first and last "
        "quarters of GRPO each have one"
      )
    if rows % jax.device_count():
      raise common.UserError(
        f"--rl_prompts x --rl_generations = {rows} rollouts per step must split over "
        f"{jax.device_count()} devices; make it a multiple of {jax.device_count()}"
      )
  return phases


def synthsmith_phase() -> dict:
  from configs.synthsmith import demo
  from data_pipeline import pipeline

  config = demo.get_config()
  config.redo_changed = True  # a run dir of an older demo: its stages are redone (seconds)
  report = pipeline.run(config, run_path("synthsmith"))
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
  config.data.update(
    train_files=f"demo,{run_path('synthsmith', 'sft')}",
    eval_files=run_path("synthsmith", "heldout", "sft"),  # golden answers of unseen tasks
    seq_len=SFT_SEQ_LEN,
  )
  steps = _SFT_STEPS.value
  config.train.update(
    steps=steps,
    log_every=1,
    eval_every=max(1, steps // 16),  # the held-out curve: its fall and where it stalls
    save_every=steps,
    keep=1,
    progress_bar=False,
  )
  workdir = run_path("sft")
  reused = has_step(workdir, steps)
  if not reused:
    sft.train(config, workdir)
  metrics = report.metrics(workdir)
  evals = [(m["step"], m["eval_loss"]) for m in metrics if "eval_loss" in m]
  return {
    "reused": reused,
    "steps": steps,
    "devices": jax.device_count(),
    "seq_len": SFT_SEQ_LEN,
    "loss_first": metrics[0]["loss"],
    "loss_last": metrics[-1]["loss"],
    "heldout_loss": evals,  # [step, loss on the held-out tasks' golden answers]
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


def _quarter_means(metrics: list[dict], key: str) -> list[float]:
  quarter = report.quarters([m[key] for m in metrics])
  return [quarter["first_mean"], quarter["last_mean"]]


def _setting(config, dotted: str):
  section, name = dotted.split(".")
  return config[section][name]


def rl_phase() -> dict:
  from configs.rl import base, qwen25_coder_7b, tiny
  from xcoder_jax.rl import grpo
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
  config.optimizer.lr = RL_LR
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
  quarters = report.quarters([m["reward_mean"] for m in metrics])
  parsed, passed = _quarter_means(metrics, "parsed_rate"), _quarter_means(metrics, "pass_rate")
  real = qwen25_coder_7b.get_config()  # X-Coder's Qwen2.5 GRPO settings
  changed = ("model.preset", "optimizer.lr", "rl.prompts_per_step", "rl.num_generations")
  changed += ("rl.max_new_tokens",)
  return {
    "reused": reused,
    "steps": steps,
    "rollouts_per_step": f"{_RL_PROMPTS.value} tasks x {_RL_GROUP.value} samples",
    "max_prompt_len": prompt_len,
    "reward": "xcoder (X-Coder's: 5 x pass fraction of <= 10 tests, -2 no code)",
    "reward_quarters": quarters,
    # first and last quarter means of the share of rollouts with parseable code and of the
    # share of tests passed: what the reward's rise is made of
    "parsed_rate": parsed,
    "pass_rate": passed,
    "note": report.rl_note(quarters, parsed, passed),
    # [this demo's value, X-Coder's]; the reward and everything else are X-Coder's
    "demo_changes": {key: [_setting(config, key), _setting(real, key)] for key in changed},
  }


PHASE_FUNCTIONS: dict[str, Callable[[], dict]] = {
  "synthsmith": synthsmith_phase,
  "sft": sft_phase,
  "rl": rl_phase,
  "leaks": lambda: checks.leaks_phase(run_path()),
  "export": lambda: checks.export_phase(run_path()),
  "eval": lambda: checks.eval_phase(run_path(), _EVAL_K.value, _MAX_NEW_TOKENS.value),
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
  # A common.UserError from either: one line, exit status 2, nothing written.
  summary = read_summary()  # refuses a run directory of another quickstart format
  phases = check_flags()
  from xcoder_jax.fileio import write_json_atomic

  os.makedirs(run_path(), exist_ok=True)
  summary_path = run_path("summary.json")
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
  leaks = summary["phases"].get("leaks")
  if leaks and not leaks["clean"]:
    raise SystemExit(
      f"quickstart FAILED: training inputs hold held-out tasks; see {leaks['report']}"
    )


if __name__ == "__main__":
  common.run(main, "quickstart")
