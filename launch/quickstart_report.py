"""The quickstart's report: one line per phase in words, the summary table and the plots."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable, Sequence

from xcoder_jax.fileio import read_jsonl


def metrics(workdir: str) -> list[dict]:
  """A training run's logged steps (none before it has run)."""
  path = os.path.join(workdir, "metrics.jsonl")
  return read_jsonl(path) if os.path.exists(path) else []


def _steps(n: int) -> str:
  return f"{n} step" if n == 1 else f"{n} steps"


def _percent(x: float) -> str:
  return f"{100 * x:.1f}%"


def quarters(values: list[float]) -> dict:
  """The first and the last quarter of a per-step series: means and standard errors (steps
  as the units: rollouts of one step share its prompts), and whether the rise exceeds two
  standard errors of the difference."""
  import numpy as np

  n = max(1, len(values) // 4)
  first, last = np.asarray(values[:n], float), np.asarray(values[-n:], float)

  def se(x):
    return float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")

  rise, rise_se = float(last.mean() - first.mean()), float(np.hypot(se(first), se(last)))
  return {
    "steps_per_quarter": n,
    "first_mean": float(first.mean()),
    "first_se": se(first),
    "last_mean": float(last.mean()),
    "last_se": se(last),
    "rise": rise,
    "rise_se": rise_se,
    "rises_beyond_two_se": bool(rise > 2 * rise_se),
  }


def rl_note(quarters: dict, parsed: list[float], passed: list[float]) -> str:
  """What GRPO's reward change is made of, in words."""
  if not quarters["rises_beyond_two_se"]:
    return "the reward did not rise beyond its noise"
  if passed[1] > passed[0]:
    return "the reward rose with the share of tests passed"
  return (
    "the reward rose because the model learned to finish parseable programs (X-Coder's -2 "
    "format penalty), while the share of tests passed fell: the tiny model learns the "
    "answer format, not the tasks (docs/quickstart.md)"
  )


def _rates(m: dict, k: int) -> str:
  r = m["rates"]
  return (
    f"avg@{k} {_percent(m['avg_at_k'])}, pass@{k} {_percent(m['pass_at_k'][str(k)])}; answered "
    f"{_percent(r['answered'])}, ran {_percent(r['runs'])}, passed a test "
    f"{_percent(r['passes_a_test'])}, tests passed {_percent(r['test_pass_fraction'])}"
  )


def describe(phase: str, s: dict) -> str:
  """One phase's result in words (the progress line and the summary table)."""
  if phase == "synthsmith":
    kept = ", ".join(f"{row['stage']} {row['out']}" for row in s["funnel"])
    return (
      f"kept per stage: {kept}; {s['rl_records']} training tasks, {s['held_out_tasks']} held "
      f"out for eval (teacher: {s['teacher']})"
    )
  if phase == "sft":
    held = s["heldout_loss"]
    held_text = "none"
    if held:
      low = min(held, key=lambda point: point[1])
      held_text = (
        f"{held[0][1]:.3f} (step {held[0][0]}) -> lowest {low[1]:.3f} (step {low[0]}) -> "
        f"{held[-1][1]:.3f}"
      )
    return (
      f"loss {s['loss_first']:.3f} -> {s['loss_last']:.3f} over {_steps(s['steps'])} on "
      f"{s['devices']} devices; held-out tasks' loss {held_text}"
    )
  if phase == "rl":
    q = s["reward_quarters"]
    verdict = "a rise beyond 2 SE" if q["rises_beyond_two_se"] else "NOT beyond 2 SE"
    return (
      f"mean reward first quarter {q['first_mean']:.2f} +- {q['first_se']:.2f} -> last quarter "
      f"{q['last_mean']:.2f} +- {q['last_se']:.2f} ({verdict}: {q['rise']:+.2f} +- "
      f"{q['rise_se']:.2f}); rollouts with parseable code {_percent(s['parsed_rate'][0])} -> "
      f"{_percent(s['parsed_rate'][1])}, tests passed {_percent(s['pass_rate'][0])} -> "
      f"{_percent(s['pass_rate'][1])} (quarter means) over {_steps(s['steps'])} of "
      f"{s['rollouts_per_step']}: {s['note']}; reward {s['reward']}"
    )
  if phase == "leaks":
    verdict = "clean" if s["clean"] else f"LEAK in {s['leaking_records']} records"
    found = ", ".join(f"{k} {v}" for k, v in s["leaks"].items())
    return (
      f"{verdict}: {s['records_checked']} training records checked against "
      f"{s['heldout_tasks']} held-out tasks ({found})"
    )
  if phase == "export":
    verdict = "OK" if s["ok"] else "FAILED"
    return (
      f"{verdict}: {s['hf_dir']} (RL step {s['rl_step']}) reloaded in transformers, max "
      f"|dlogit| {s['max_abs_dlogit']:.1e} (< {s['tolerance']:g}); greedy KV-cache sampler == "
      f"full-forward argmax: {s['greedy_sampler_matches_forward']}"
    )
  models = "; ".join(f"{name}: {_rates(m, s['k'])}" for name, m in s["models"].items())
  return f"{s['num_problems']} held-out problems, k={s['k']}: {models}"


def _plot(run_dir: str, name: str, draw: Callable) -> str:
  """Draws one figure into RUN/name (atomically); returns its path."""
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  from xcoder_jax.fileio import atomic_write

  fig, ax = plt.subplots(figsize=(6, 3.6))
  draw(ax)
  ax.legend()
  fig.tight_layout()
  path = os.path.join(run_dir, name)
  with atomic_write(path, "wb") as f:
    fig.savefig(f, format="png", dpi=100)
  plt.close(fig)
  return path


def _curves(workdir: str, labels: dict[str, str], title: str) -> Callable:
  history = metrics(workdir)

  def draw(ax):
    for key, label in labels.items():
      points = [(m["step"], m[key]) for m in history if key in m]
      ax.plot(*zip(*points), marker="o", markersize=3, label=label)
    ax.set(xlabel="step", title=title)

  return draw


def write_plots(run_dir: str, summary: dict) -> list[str]:
  """The plots whose data exists: SFT loss, GRPO reward, SynthSmith funnel, eval bars."""
  from xcoder_jax.fileio import atomic_write

  written = []
  if os.path.exists(os.path.join(run_dir, "synthsmith", "funnel.png")):
    with (
      open(os.path.join(run_dir, "synthsmith", "funnel.png"), "rb") as source,
      atomic_write(os.path.join(run_dir, "funnel.png"), "wb") as f,
    ):
      shutil.copyfileobj(source, f)
    written.append(os.path.join(run_dir, "funnel.png"))
  if metrics(os.path.join(run_dir, "sft")):
    labels = {"loss": "train loss", "eval_loss": "held-out tasks' loss"}
    written.append(
      _plot(
        run_dir,
        "sft_loss.png",
        _curves(os.path.join(run_dir, "sft"), labels, "SFT of the tiny model"),
      )
    )
  history = metrics(os.path.join(run_dir, "rl"))
  if history:
    written.append(_plot(run_dir, "rl_reward.png", _reward_curve(history, summary)))
  evaluation = summary["phases"].get("eval")
  if evaluation:
    written.append(_plot(run_dir, "eval_by_difficulty.png", _eval_bars(evaluation)))
  return written


def _reward_curve(history: list[dict], summary: dict) -> Callable:
  """GRPO's reward per step, with the first and last quarters' means +- 2 SE."""

  def draw(ax):
    steps = [m["step"] for m in history]
    ax.plot(steps, [m["reward_mean"] for m in history], marker="o", markersize=3, label="reward")
    ax.plot(steps, [m["pass_rate"] for m in history], marker="o", markersize=3, label="pass rate")
    q = summary["phases"].get("rl", {}).get("reward_quarters")
    if q:
      n = q["steps_per_quarter"]
      for (mean, se), span in (
        ((q["first_mean"], q["first_se"]), steps[:n]),
        ((q["last_mean"], q["last_se"]), steps[-n:]),
      ):
        ax.hlines(mean, span[0], span[-1], colors="black")
        ax.fill_between(span, mean - 2 * se, mean + 2 * se, color="gray", alpha=0.3)
    ax.set(xlabel="step", title="GRPO on SynthSmith's training tasks (quarter means +- 2 SE)")

  return draw


def _eval_bars(evaluation: dict) -> Callable:
  """avg@k per model on the held-out split, overall and by difficulty."""
  k, models = evaluation["k"], evaluation["models"]
  groups = ["overall", *next(iter(models.values()))["by_difficulty"]]

  def draw(ax):
    width = 0.8 / len(models)
    for i, (name, m) in enumerate(models.items()):
      values = [m["avg_at_k"]] + [m["by_difficulty"][g]["avg_at_k"] for g in groups[1:]]
      drawn = ax.bar([x + (i - 0.5) * width for x in range(len(groups))], values, width, label=name)
      ax.bar_label(drawn, fmt="%.2f", fontsize=7)
    sizes = [evaluation["num_problems"]] + [
      next(iter(models.values()))["by_difficulty"][g]["num_problems"] for g in groups[1:]
    ]
    ax.set_xticks(range(len(groups)), [f"{g} ({n})" for g, n in zip(groups, sizes)])
    ax.set(ylim=(0, 1), ylabel=f"avg@{k}", title="held-out split: SFT vs GRPO")

  return draw


def table(summary: dict, phases: Sequence[str]) -> str:
  """One row per phase, with the wall time of the run that did its work (a reused phase
  keeps the time it took), wrapped to 100 columns."""
  rows = [("phase", "seconds", "result")]
  for phase in phases:
    section = summary["phases"].get(phase)
    if section:
      reused = "(reused) " if section.get("reused") else ""
      rows.append((phase, f"{section['seconds']:.1f}", reused + describe(phase, section)))
  rows.append(("total", f"{summary['total_seconds']:.1f}", ""))
  widths = [max(len(row[i]) for row in rows) for i in (0, 1)]
  indent = " " * (sum(widths) + 4)
  lines = [f"quickstart summary ({summary['run_dir']})"]
  for name, seconds, result in rows:
    head = f"{name.ljust(widths[0])}  {seconds.rjust(widths[1])}  "
    wrapped = textwrap.wrap(result, 100 - len(indent), break_on_hyphens=False) or [""]
    lines += [head + wrapped[0], *(indent + more for more in wrapped[1:])]
  lines.append(
    f"plots in {summary['run_dir']}: " + ", ".join(map(os.path.basename, summary["plots"]))
  )
  return "\n".join(line.rstrip() for line in lines)
