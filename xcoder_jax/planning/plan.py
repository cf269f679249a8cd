"""A run's plan: memory per device for each phase of a step, whether it fits, and the
predicted step time and total hours at an assumed model-FLOPs utilisation (MFU).

Time counts model FLOPs (`ModelConfig.flops_per_token`, the trainer's MFU numerator) over
the devices that do distinct work: a micro-batch whose rows do not split over the batch
axes is computed whole by every device, and that repetition is paid in time. GRPO's step
adds its forward-only log-prob passes; rollouts are not included.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import ml_collections

from xcoder_jax.models.attention import FUSED_KERNEL_BACKENDS
from xcoder_jax.planning import hardware, memory
from xcoder_jax.planning.setting import Setting
from xcoder_jax.train.optimizer import make_optimizer

OVERFLOW_HINTS = {
  "train_step": "; raise train.grad_accum, the mesh's tensor or sequence axes, or remat",
  "logprob_pass": "; raise train.grad_accum (the pass runs over its micro-batches)",
  "rollout": "; use SGLang rollout servers or fewer rollouts per step",
}


def _batch_axes(setting: Setting) -> int:
  return setting.mesh["data"] * setting.mesh["fsdp"]


def _replication_warning(what: str, rows: int, local: memory.Local, setting: Setting) -> str:
  shards = _batch_axes(setting)
  fix = (
    f"; train.grad_accum={setting.rows // shards} gives one row per device"
    if what == "micro-batch" and setting.rows % shards == 0
    else ""
  )
  return (
    f"the {what} of {rows} rows does not split over the {shards} devices of the data x fsdp "
    f"axes: each device computes {local.rows} rows, {shards // local.batch_shards}x repeated" + fix
  )


def warnings(setting: Setting, hardware_name: str) -> list[str]:
  out = []
  micro = memory.local_shapes(setting)
  if micro.batch_shards < _batch_axes(setting):
    out.append(_replication_warning("micro-batch", setting.micro_rows, micro, setting))
  if setting.forward_passes:
    whole = memory.local_shapes(setting, setting.rows)
    if whole.batch_shards < _batch_axes(setting):
      out.append(_replication_warning("log-prob pass", setting.rows, whole, setting))
  if micro.tensor_shards < setting.mesh["tensor"]:
    out.append(f"{setting.model.num_heads} heads do not split over tensor={setting.mesh['tensor']}")
  impl = setting.model.attention_impl
  needed = FUSED_KERNEL_BACKENDS.get(impl)
  if needed is not None and (needed == "tpu") != hardware_name.startswith("TPU"):
    other = "splash or chunked" if hardware_name.startswith("TPU") else "flash or cudnn"
    out.append(f"attention_impl={impl} runs on {needed.upper()}s only; here use {other}")
  return out


def step_flops(setting: Setting) -> float:
  """Model FLOPs of one loop step over all devices."""
  per_row = setting.seq_len * setting.model.flops_per_token(setting.seq_len)
  passes = 3 * setting.updates_per_step + setting.forward_passes
  return passes * setting.rows * per_row


def step_seconds(setting: Setting, peak: float, mfu: float) -> float:
  """Each pass runs on the devices that split its rows, tokens and heads."""
  per_row = setting.seq_len * setting.model.flops_per_token(setting.seq_len)

  def parallel(rows: int) -> int:
    local = memory.local_shapes(setting, rows)
    return local.batch_shards * local.length_shards * local.tensor_shards

  train = 3 * setting.updates_per_step * setting.rows * per_row / parallel(setting.micro_rows)
  forward = setting.forward_passes * setting.rows * per_row / parallel(setting.rows)
  return (train + forward) / (peak * mfu)


def make_plan(
  config: ml_collections.ConfigDict, setting: Setting, hardware_name: str, mfu: float
) -> dict[str, Any]:
  """Every number of the plan (bytes are per device) and the named terms behind them."""
  if not 0 < mfu <= 1:
    raise ValueError(f"--mfu must be in (0, 1], got {mfu}")
  name = hardware.resolve(hardware_name)
  optimizer, _ = make_optimizer(config.optimizer, setting.steps)
  params, opt = memory.state_bytes(setting, optimizer)
  grads = params * (2 if setting.grad_accum > 1 else 1)  # + the accumulator
  # GRPO with a KL term keeps the frozen starting policy next to the trained one
  reference = params if setting.reference else 0
  resident = params + opt + reference
  terms = memory.activation_terms(setting)
  activations = memory.activation_bytes(terms)
  total = resident + grads + activations
  phases = {"train_step": total}
  plan: dict[str, Any] = {
    "kind": setting.kind,
    "devices": setting.devices,
    "hardware": name,
    "mesh": dict(setting.mesh),
    "mfu": mfu,
    "peak_flops_per_device": hardware.peak_flops(name),
    "rows_per_update": setting.rows,
    "seq_len": setting.seq_len,
    "grad_accum": setting.grad_accum,
    "micro_rows_per_device": memory.local_shapes(setting).rows,
    "updates_per_step": setting.updates_per_step,
    "params_bytes_per_device": params,
    "optimizer_bytes_per_device": opt,
    "gradient_bytes_per_device": grads,
    "reference_params_bytes_per_device": reference,
    "activation_bytes_per_device": activations,
    "total_bytes_per_device": total,
    "activation_terms": terms,
  }
  if setting.forward_passes:
    logprob_terms = memory.logprob_pass_terms(setting)
    phases["logprob_pass"] = resident + memory.activation_bytes(logprob_terms)
    plan["logprob_pass_terms"] = logprob_terms
  if setting.rollout_in_process:
    plan["kv_cache_bytes_per_device"] = memory.kv_cache_bytes(setting)
    phases["rollout"] = resident + plan["kv_cache_bytes_per_device"]
  seconds = step_seconds(setting, plan["peak_flops_per_device"], mfu)
  plan.update(
    phase_bytes_per_device=phases,
    peak_bytes_per_device=max(phases.values()),
    hbm_bytes_per_device=hardware.hbm_bytes(name),
    step_flops=step_flops(setting),
    step_seconds=seconds,
    total_hours=seconds * setting.steps / 3600,
    steps=setting.steps,
    warnings=warnings(setting, name),
  )
  plan["fits"] = plan["peak_bytes_per_device"] <= plan["hbm_bytes_per_device"]
  for phase, size in phases.items():
    if size > plan["hbm_bytes_per_device"]:
      plan["warnings"].append(
        f"the {phase.replace('_', ' ')} needs {size / 2**30:.1f} GiB per device, more than the "
        f"{plan['hbm_bytes_per_device'] / 2**30:.1f} GiB of one {name}" + OVERFLOW_HINTS[phase]
      )
  if setting.kind == "rl":
    plan["rollout_time_included"] = False
  return plan


def compare(plan_numbers: dict[str, Any], xla: dict[str, dict[str, int]], setting: Setting):
  """XLA's totals next to the analytic ones for the same programs (the train step sees one
  mini-batch and no other phase), with their ratio analytic / XLA."""
  one = setting
  if setting.layout is not None:
    one = dataclasses.replace(
      setting, layout=dataclasses.replace(setting.layout, num_minibatches=1)
    )
  state = plan_numbers["params_bytes_per_device"] + plan_numbers["optimizer_bytes_per_device"]
  analytic = {
    "train_step": state
    + plan_numbers["gradient_bytes_per_device"]
    + memory.activation_bytes(memory.activation_terms(one))
  }
  if "logprob_pass" in xla:  # the pass's arguments are the parameters, not the moments
    analytic["logprob_pass"] = plan_numbers["params_bytes_per_device"] + memory.activation_bytes(
      memory.logprob_pass_terms(one)
    )
  return {
    name: {**xla[name], "analytic": analytic[name], "ratio": analytic[name] / xla[name]["total"]}
    for name in xla
  }
