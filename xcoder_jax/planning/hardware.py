"""Accelerators a run can be planned for: peak FLOP/s from the trainer's MFU table
(`xcoder_jax.train.metrics.PEAK_FLOPS`) and the memory of one device, from vendor data sheets.
"""

from __future__ import annotations

from xcoder_jax.train.metrics import PEAK_FLOPS

GB = 10**9
# HBM per device as the vendors state it; the keys are those of PEAK_FLOPS ("TPU v5" is v5p,
# "TPU v5 lite" v5e, "TPU v6 lite" v6e, A100/A800 the 80 GB parts). A v5p-128 slice is 64 chips.
HBM_BYTES = {
  "H200": 141 * GB,
  "H100": 80 * GB,
  "H800": 80 * GB,
  "H20": 96 * GB,
  "A100": 80 * GB,
  "A800": 80 * GB,
  "L40S": 48 * GB,
  "B200": 192 * GB,
  "TPU v6 lite": 32 * GB,
  "TPU v5p": 95 * GB,
  "TPU v5 lite": 16 * GB,
  "TPU v5": 95 * GB,
  "TPU v4": 32 * GB,
}


def resolve(name: str) -> str:
  """The table key `name` means: exact (any case), else the one key containing it ("v5p")."""
  keys = {key.lower(): key for key in PEAK_FLOPS}
  if name.lower() in keys:
    return keys[name.lower()]
  matches = [key for key in PEAK_FLOPS if name.lower() in key.lower()]
  if len(matches) == 1:
    return matches[0]
  raise ValueError(f"unknown --hardware={name!r}; choose one of {', '.join(PEAK_FLOPS)}")


def peak_flops(name: str) -> float:
  return PEAK_FLOPS[resolve(name)]


def hbm_bytes(name: str) -> int:
  return HBM_BYTES[resolve(name)]
