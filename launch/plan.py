"""Sizes a run before launching it: memory per device (parameters, AdamW state, gradients,
activations with the config's remat policy, attention kernel and loss chunk; GRPO's log-prob
pass and in-process KV cache) and the predicted step time and total hours at an assumed MFU.

  python -m launch.plan --config=configs/sft/qwen25_coder_7b.py             # 128 x H20
  python -m launch.plan --config=configs/rl/qwen3_8b.py                     # 32 x H200
  python -m launch.plan --config=configs/sft/qwen3_8b.py --devices=64 --hardware=v5p \\
    --config.model.attention_impl=chunked                                  # a v5p-128 pod
  python -m launch.plan --config=configs/sft/tiny.py --devices=8 --compile  # XLA's own figure

--devices defaults to the paper's hardware (SFT 128, RL 32 devices); --mesh_<axis> and
--config.<key>=<value> override the config. --compile also lowers and compiles the real train
step on abstract inputs over a virtual CPU mesh and prints `memory_analysis()` next to the
estimate (XLA_FLAGS is set here before jax starts; scale big models down with --layers,
--seq_len and --global_batch). The last line of the output is the plan as one JSON object.
Bad input exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import json
import os

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from configs.rl import base as rl_base
from configs.sft import base as sft_base
from launch import common, mesh_flags
from xcoder_jax import sharding
from xcoder_jax.planning import memory, xla_check
from xcoder_jax.planning import setting as setting_lib
from xcoder_jax.planning.plan import compare, make_plan

_CONFIG = config_flags.DEFINE_config_file(
  "config", None, "An SFT or RL config file, e.g. configs/sft/qwen25_coder_7b.py.", lock_config=True
)
_DEVICES = flags.DEFINE_integer(
  "devices", 0, "Devices of the run; 0: the config's fixed mesh, else SFT 128 / RL 32."
)
_HARDWARE = flags.DEFINE_string(
  "hardware", "", "Accelerator (xcoder_jax.train.metrics.PEAK_FLOPS); empty: SFT H20, RL H200."
)
_MFU = flags.DEFINE_float("mfu", 0.4, "Model-FLOPs utilisation assumed (or measured: metrics mfu).")
_LAYERS = flags.DEFINE_integer("layers", 0, "Decoder layers instead of the model's (0: as is).")
_SEQ_LEN = flags.DEFINE_integer("seq_len", 0, "Tokens per row instead of the config's (0: as is).")
_GLOBAL_BATCH = flags.DEFINE_integer(
  "global_batch", 0, "Rows per optimizer update instead of the config's (0: as is)."
)
_COMPILE = flags.DEFINE_boolean(
  "compile", False, "Also compile the real step and report XLA's memory analysis."
)
flags.mark_flag_as_required("config")
flags.adopt_module_key_flags(mesh_flags)
flags.declare_key_flag("debug")
UNITS = (("GiB", 2**30), ("MiB", 2**20))


def _config_path() -> str:
  return config_flags.get_config_filename(flags.FLAGS["config"])


def _load_config():
  config = _CONFIG.value
  (rl_base if setting_lib.config_kind(config) == "rl" else sft_base).validate(config)
  for axis in sharding.MESH_AXES:
    for name, key in ((f"mesh_{axis}", axis), (f"dcn_{axis}", f"dcn_{axis}")):
      if flags.FLAGS[name].present:
        config.mesh[key] = flags.FLAGS[name].value
  return config


def _use_virtual_devices(count: int) -> None:
  """Gives the CPU backend `count` devices; XLA reads this when jax first starts a backend."""
  current = os.environ.get("XLA_FLAGS", "")
  if "xla_force_host_platform_device_count" not in current:
    os.environ["XLA_FLAGS"] = f"{current} --xla_force_host_platform_device_count={count}".strip()


def _compile(config, setting):
  """On the default backend when it has the devices, else on virtual CPU devices."""
  devices = jax.devices()
  if len(devices) < setting.devices:
    devices = jax.devices("cpu")
  checked, notes = xla_check.for_backend(setting, devices[0].platform)
  return checked, notes, xla_check.compile_passes(config, checked, devices)


def format_table(path: str, config, setting, plan: dict) -> str:
  m = setting.model
  unit, scale = next(u for u in UNITS if plan["peak_bytes_per_device"] >= u[1] or u[0] == "MiB")

  def _size(n: float) -> str:
    return f"{n / scale:10.2f}"

  def _term_line(name: str, value: int) -> str:
    transient = "   (transient: only the largest counts)" if name in memory.TRANSIENT else ""
    return f"    {name:26s}{_size(value)}{transient}"

  mesh = " ".join(f"{k}={v}" for k, v in plan["mesh"].items())
  lines = [
    f"plan for {path} ({plan['kind']}, {config.model.preset}: {m.num_params() / 1e9:.3g}B params, "
    f"{m.num_layers} layers)",
    f"  {plan['devices']} x {plan['hardware']} ({plan['hbm_bytes_per_device'] / 1e9:.0f} GB, "
    f"{plan['peak_flops_per_device'] / 1e12:.0f} TFLOP/s bf16); mesh {mesh}",
    f"  {setting.rows} rows x {setting.seq_len} tokens per update, grad_accum "
    f"{setting.grad_accum}: {plan['micro_rows_per_device']} row(s) per device per micro-batch; "
    f"{setting.updates_per_step} update(s) per step",
    f"  remat {m.remat_policy}, attention {m.attention_impl}, loss_chunk {setting.loss_chunk}, "
    f"compute {m.dtype}, params {m.param_dtype}",
    "",
    f"memory per device                     {unit}",
    f"  parameters                  {_size(plan['params_bytes_per_device'])}",
    f"  optimizer state (AdamW)     {_size(plan['optimizer_bytes_per_device'])}",
    f"  gradients                   {_size(plan['gradient_bytes_per_device'])}",
    *(
      [f"  reference policy (KL)       {_size(plan['reference_params_bytes_per_device'])}"]
      if plan["reference_params_bytes_per_device"]
      else []
    ),
    f"  activations                 {_size(plan['activation_bytes_per_device'])}",
  ]
  lines += [_term_line(k, v) for k, v in plan["activation_terms"].items()]
  lines.append(f"  total (train step)          {_size(plan['total_bytes_per_device'])}")
  if "logprob_pass" in plan["phase_bytes_per_device"]:
    lines.append(
      f"  GRPO log-prob pass          {_size(plan['phase_bytes_per_device']['logprob_pass'])}"
      "   (forward over train.grad_accum micro-batches)"
    )
  if "kv_cache_bytes_per_device" in plan:
    lines.append(f"  in-process KV cache         {_size(plan['kv_cache_bytes_per_device'])}")
  share = plan["peak_bytes_per_device"] / plan["hbm_bytes_per_device"]
  lines += [
    f"  peak                        {_size(plan['peak_bytes_per_device'])}   "
    f"{share:.0%} of HBM: {'fits' if plan['fits'] else 'DOES NOT FIT'}",
    "",
    f"time at MFU {plan['mfu']:.2f}",
    f"  model FLOPs per step        {plan['step_flops'] / 1e15:10.4g} PFLOP",
    f"  step                        {plan['step_seconds']:10.4g} s",
    f"  {plan['steps']:<6d} steps                {plan['total_hours']:10.4g} h "
    f"({plan['total_hours'] / 24:.3g} days)"
    + ("; rollouts not included" if setting.kind == "rl" else ""),
  ]
  for name, x in plan.get("xla", {}).items():
    lines += [
      "",
      f"XLA memory_analysis, {name} ({', '.join(plan.get('xla_notes', [])) or 'as configured'})",
      f"  arguments {_size(x['argument'])}  temp {_size(x['temp'])}  outputs - aliased "
      f"{_size(x['output'] - x['alias'])}",
      f"  XLA total {_size(x['total'])}  analytic {_size(x['analytic'])}  ratio {x['ratio']:.2f}",
    ]
  lines += [f"warning: {w}" for w in plan["warnings"]]
  return "\n".join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.ERROR)  # the plan reports replicated dimensions itself
  with common.user_errors("plan"):
    config = _load_config()
    devices = _DEVICES.value or setting_lib.default_devices(config)
    if _COMPILE.value:
      _use_virtual_devices(devices)
    setting = setting_lib.from_config(
      config, devices, _LAYERS.value, _SEQ_LEN.value, _GLOBAL_BATCH.value
    )
    hardware = _HARDWARE.value or setting_lib.DEFAULT_HARDWARE[setting.kind]
    notes = []
    if _COMPILE.value:
      setting, notes, xla = _compile(config, setting)
    plan = make_plan(config, setting, hardware, _MFU.value)
  if _COMPILE.value:
    plan.update(xla=compare(plan, xla, setting), xla_notes=notes)
  print(format_table(_config_path(), config, setting, plan))
  print(json.dumps(plan, sort_keys=True))


if __name__ == "__main__":
  common.run(main, "plan")
