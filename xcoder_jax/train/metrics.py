"""Training metrics: JSON lines and TensorBoard event files, written by process 0; MFU."""

from __future__ import annotations

import json
import os
from typing import Any

import jax

from xcoder_jax.fileio import atomic_write, read_jsonl

METRICS_FILE = "metrics.jsonl"
# Dense bf16 peak FLOP/s per device, matched by substring of `device.device_kind`.
PEAK_FLOPS = {
  "H200": 989e12,
  "H100": 989e12,
  "H800": 989e12,
  "H20": 148e12,
  "A100": 312e12,
  "A800": 312e12,
  "L40S": 362e12,
  "B200": 2250e12,
  "TPU v6 lite": 918e12,
  "TPU v5p": 459e12,
  "TPU v5 lite": 197e12,
  "TPU v5": 459e12,
  "TPU v4": 275e12,
}


def device_peak_flops(override: float | None = None) -> float | None:
  """Peak FLOP/s of one device: the override when given, else from the table (None: unknown)."""
  if override:
    return float(override)
  kind = jax.devices()[0].device_kind
  for name, flops in PEAK_FLOPS.items():
    if name in kind:
      return flops
  return None


class MetricsWriter:
  """Appends one JSON object per logged step to WORKDIR/metrics.jsonl and to TensorBoard.

  On resume from step S, lines after S (logged before a crash, about to be redone) are dropped
  so the file holds each step once.
  """

  def __init__(self, workdir: str, resume_step: int = 0):
    self.enabled = jax.process_index() == 0
    self.path = os.path.join(workdir, METRICS_FILE)
    self._tb = None
    if not self.enabled:
      return
    os.makedirs(workdir, exist_ok=True)
    if os.path.exists(self.path):  # a torn last line (killed mid-write) is dropped too
      kept = [r for r in read_jsonl(self.path) if r["step"] <= resume_step]
      with atomic_write(self.path) as f:
        f.writelines(json.dumps(r) + "\n" for r in kept)
    from tensorboardX import SummaryWriter

    self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

  def write(self, step: int, metrics: dict[str, Any]) -> None:
    if not self.enabled:
      return
    record = {"step": int(step), **{k: _plain(v) for k, v in metrics.items()}}
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    for key, value in record.items():
      if key != "step" and isinstance(value, (int, float)):
        self._tb.add_scalar(key, value, step)
    self._tb.flush()

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()


def _plain(value: Any) -> Any:
  if hasattr(value, "item"):
    value = value.item()
  return round(value, 6) if isinstance(value, float) else value
