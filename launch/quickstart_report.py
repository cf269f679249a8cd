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


def describe(phase: str, s: dict) -> str:
  """One phase's result in words (the progress line and the summary table)."""
  if phase == "synthsmith":
    kept = ", ".join(f"{row['stage']} {row['out']}" for row in s["funnel"])
    return (
      f"kept per stage: {kept}; {s['sft_records']} SFT / {s['rl_records']} RL tasks, "
      f"{s['held_out_tasks']} held out for eval (teacher: {s['teacher']})"
    )
  if phase == "sft":
    eval_loss = "" if s["eval_loss"] is None else f", eval loss {s['eval_loss']:.3f}"
    return (
      f"loss {s['loss_first']:.3f} -> {s['loss_last']:.3f} over {_steps(s['steps'])} on "
      f"{s['devices']} devices{eval_loss}"
    )
  if phase == "rl":
    return (
      f"reward {s['reward_first']:.2f} -> {s['reward_last']:.2f}, pass rate "
      f"{s['pass_rate_first']:.2f} -> {s['pass_rate_last']:.2f} over {_steps(s['steps'])} of "
      f"{s['rollouts_per_step']}; {s['note']}"
    )
  if phase == "export":
    verdict = "OK" if s["ok"] else "FAILED"
    return (
      f"{verdict}: {s['hf_dir']} (RL step {s['rl_step']}) reloaded in transformers, max "
      f"|dlogit| {s['max_abs_dlogit']:.1e} (< {s['tolerance']:g}); greedy KV-cache sampler == "
      f"full-forward argmax: {s['greedy_sampler_matches_forward']}"
    )
  passes = ", ".join(f"pass@{k} {_percent(v)}" for k, v in s["pass_at_k"].items())
  groups = "; ".join(
    f"{name} ({g['num_problems']}): avg@{s['k']} {_percent(g['avg_at_k'])}"
    for name, g in s["by_difficulty"].items()
  )
  return (
    f"{s['benchmark']}, {s['num_problems']} problem(s), k={s['k']}: avg@{s['k']} "
    f"{_percent(s['avg_at_k'])}, {passes}; by difficulty: {groups}"
  )


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
    labels = {"loss": "train loss", "eval_loss": "eval loss"}
    written.append(
      _plot(
        run_dir,
        "sft_loss.png",
        _curves(os.path.join(run_dir, "sft"), labels, "SFT of the tiny model"),
      )
    )
  if metrics(os.path.join(run_dir, "rl")):
    labels = {"reward_mean": "mean reward", "pass_rate": "pass rate"}
    written.append(
      _plot(
        run_dir,
        "rl_reward.png",
        _curves(os.path.join(run_dir, "rl"), labels, "GRPO on SynthSmith tasks"),
      )
    )
  evaluation = summary["phases"].get("eval")
  if evaluation:
    k, groups = evaluation["k"], {"overall": evaluation, **evaluation["by_difficulty"]}

    def bars(ax):
      series = {
        f"avg@{k}": [group["avg_at_k"] for group in groups.values()],
        f"pass@{k}": [group["pass_at_k"][str(k)] for group in groups.values()],
      }
      for shift, (label, values) in zip((-0.2, 0.2), series.items()):
        drawn = ax.bar([x + shift for x in range(len(groups))], values, 0.4, label=label)
        ax.bar_label(drawn, fmt="%.2f", fontsize=7)
      ax.set_xticks(range(len(groups)), [f"{n} ({g['num_problems']})" for n, g in groups.items()])
      ax.set(ylim=(0, 1), ylabel="fraction solved", title="eval on SynthSmith's held-out split")

    written.append(_plot(run_dir, "eval_by_difficulty.png", bars))
  return written


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
