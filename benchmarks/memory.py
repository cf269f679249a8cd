"""XLA's compiled per-device memory of the shipped 7B/8B SFT configs, next to the plan's
analytic estimate, for each attention kernel and remat policy that compiles on this backend.

The step is the real one (`xcoder_jax.train.step.compile_loss_steps`, via
`xcoder_jax.planning.xla_check`), lowered and compiled for abstract inputs (ShapeDtypeStructs
with shardings) over a mesh of the config's size; on a CPU host the mesh is made of virtual
devices, so nothing is allocated. Slow for 7B models on a small CPU (minutes per compile):
it is a benchmark, not a test. The last line is every result as one JSON object.

  python benchmarks/memory.py                                  # both configs, 128 devices
  python benchmarks/memory.py --configs=configs/sft/tiny.py --devices=8 --kernels=xla
  python benchmarks/memory.py --kernels=chunked --policies=full --hardware="TPU v5 lite" \
    --set=mesh.fsdp=32,mesh.sequence=4,train.grad_accum=4          # a 128-chip v5e mesh
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
from absl import app, flags  # noqa: E402

from benchmarks.common import kernel_skip_reason  # noqa: E402
from xcoder_jax.models.attention import ATTENTION_KERNELS  # noqa: E402
from xcoder_jax.planning import setting as setting_lib  # noqa: E402
from xcoder_jax.planning import xla_check  # noqa: E402
from xcoder_jax.planning.plan import compare, make_plan  # noqa: E402

_CONFIGS = flags.DEFINE_list(
  "configs", ["configs/sft/qwen25_coder_7b.py", "configs/sft/qwen3_8b.py"], "SFT config files."
)
_KERNELS = flags.DEFINE_list(
  "kernels", [], "Attention kernels (default: every registered one this backend compiles)."
)
_POLICIES = flags.DEFINE_list(
  "policies", ["full", "save_qkv_proj", "save_attention"], "Remat policies."
)
_DEVICES = flags.DEFINE_integer("devices", 0, "Mesh size; 0: the config's (SFT: 128).")
_SEQ_LEN = flags.DEFINE_integer("seq_len", 0, "Tokens per row; 0: the config's (32k).")
_SET = flags.DEFINE_list(
  "set", [], "Config overrides, e.g. 'mesh.fsdp=32,mesh.sequence=4,train.grad_accum=4'."
)
_HARDWARE = flags.DEFINE_string("hardware", "H100", "Device whose HBM the plan checks against.")
GIB = 2**30


def _module_name(path: str) -> str:
  return os.path.splitext(os.path.normpath(path))[0].replace(os.sep, ".")


def _kernels(backend: str) -> tuple[list[str], dict[str, str]]:
  """The kernels to compile, and why each registered one left out cannot run here."""
  names = _KERNELS.value or ATTENTION_KERNELS.names()
  skipped = {name: kernel_skip_reason(name, backend) for name in names}
  skipped = {name: why for name, why in skipped.items() if why}
  return [n for n in names if n not in skipped], skipped


def measure(path: str, kernel: str, policy: str, devices: list[jax.Device]) -> dict:
  """Compiled and analytic per-device bytes of one config's train step."""
  config = importlib.import_module(_module_name(path)).get_config()
  config.model.attention_impl, config.model.remat_policy = kernel, policy
  for item in _SET.value:
    key, value = item.split("=", 1)
    *sections, name = key.strip().split(".")
    where = config
    for section in sections:
      where = where[section]
    where[name] = type(where[name])(value)  # KeyError names an unknown key
  size = _DEVICES.value or setting_lib.default_devices(config)
  setting = setting_lib.from_config(config, size, seq_len=_SEQ_LEN.value)
  start = time.perf_counter()
  xla = xla_check.compile_passes(config, setting, devices)
  plan = make_plan(config, setting, _HARDWARE.value, 0.4)
  step = compare(plan, xla, setting)["train_step"]
  return {
    "config": path,
    "kernel": kernel,
    "remat": policy,
    "mesh": dict(setting.mesh),
    "set": list(_SET.value),
    "seq_len": setting.seq_len,
    "compile_s": round(time.perf_counter() - start, 1),
    **{f"{k}_bytes": v for k, v in step.items() if k != "ratio"},
    "ratio": round(step["ratio"], 3),
    "fits": step["total"] <= plan["hbm_bytes_per_device"],
  }


def main(argv):
  del argv
  size = _DEVICES.value or 128
  jax.config.update("jax_num_cpu_devices", size)  # before a backend starts
  # an accelerator host with fewer devices than the mesh compiles on virtual CPU devices
  devices = jax.devices() if jax.device_count() >= size else jax.devices("cpu")
  backend = devices[0].platform
  kernels, skipped = _kernels(backend)
  for name, why in skipped.items():
    print(f"skipping kernel {name}: {why}")
  header = f"{'config':34s}{'kernel':10s}{'remat':17s}{'args':>8s}{'temp':>8s}{'total':>8s}"
  print(f"per-device GiB on {len(devices)} {backend} devices ({_HARDWARE.value} HBM)")
  print(f"{header}{'plan':>8s}{'plan/XLA':>9s}  fits")
  results = []
  for path in _CONFIGS.value:
    for kernel in kernels:
      for policy in _POLICIES.value:
        r = measure(path, kernel, policy, devices)
        results.append(r)
        print(
          f"{path:34s}{kernel:10s}{policy:17s}{r['argument_bytes'] / GIB:8.2f}"
          f"{r['temp_bytes'] / GIB:8.2f}{r['total_bytes'] / GIB:8.2f}"
          f"{r['analytic_bytes'] / GIB:8.2f}{r['ratio']:9.2f}  {'yes' if r['fits'] else 'NO'}",
          flush=True,
        )
  print(
    json.dumps({"benchmark": "memory", "backend": backend, "skipped": skipped, "results": results})
  )


if __name__ == "__main__":
  app.run(main)
