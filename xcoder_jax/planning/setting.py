"""What a planned run does per step, read from an SFT or RL config: the model's shapes, the
mesh resolved for a device count, the rows and sequence length one optimizer update sees,
and the extra passes an RL step makes. Everything else in `xcoder_jax.planning` is a pure
function of a `Setting`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import ml_collections
import numpy as np

from xcoder_jax import sharding
from xcoder_jax.data.batch import BATCH_FIELDS
from xcoder_jax.models import ModelConfig, get_preset
from xcoder_jax.rl.layout import BatchLayout
from xcoder_jax.train import init

# The paper's hardware for each kind of run (../shared/RECIPE.md): SFT on 128 x H20, GRPO on
# 32 x H200. A config whose mesh sizes are all fixed plans for exactly that many devices.
DEFAULT_DEVICES = {"sft": 128, "rl": 32}
DEFAULT_HARDWARE = {"sft": "H20", "rl": "H200"}


@dataclasses.dataclass(frozen=True)
class Setting:
  kind: str  # "sft" or "rl"
  model: ModelConfig
  mesh: Mapping[str, int]  # devices per mesh axis (ici x dcn)
  rows: int  # rows per optimizer update, over all devices
  seq_len: int
  grad_accum: int
  loss_chunk: int
  steps: int  # loop steps (train.steps)
  entropy: bool  # the loss also computes each position's entropy (GRPO's bonus)
  batch_fields: Mapping[str, np.dtype]
  # GRPO's step (mini-batches, epochs, log-prob passes); None for SFT: one batch, one update
  layout: BatchLayout | None = None
  # rollouts in process: the sampler's slots on the training mesh, at most this many (None:
  # every rollout of a step at once)
  rollout_in_process: bool = False
  rollout_max_slots: int | None = None

  @property
  def devices(self) -> int:
    return math.prod(self.mesh.values())

  @property
  def micro_rows(self) -> int:
    return self.rows // self.grad_accum

  @property
  def minibatches(self) -> int:
    return self.layout.num_minibatches if self.layout else 1

  @property
  def reference(self) -> bool:
    return bool(self.layout and self.layout.reference)

  @property
  def updates_per_step(self) -> int:
    return self.layout.updates_per_step if self.layout else 1

  @property
  def forward_passes(self) -> int:
    """Forward-only passes over `rows` rows per loop step (GRPO's log-probs)."""
    return self.layout.forward_passes if self.layout else 0


def config_kind(config: ml_collections.ConfigDict) -> str:
  return "rl" if "rl" in config else "sft"


def model_config(config: ml_collections.ConfigDict, layers: int = 0) -> ModelConfig:
  """Shapes from init.path when it names an HF dir or checkpoint, else from model.preset (the
  7B/8B configs name the preset their init.path holds); runtime fields from config.model."""
  if config.init.source != "random" and config.init.path:
    model = init.model_config_from(config)
  else:
    model = get_preset(config.model.preset, **init.runtime_overrides(config))
  return model.replace(num_layers=layers) if layers else model


def resolve_mesh(settings: Mapping[str, int], devices: int) -> dict[str, int]:
  """Per-axis device counts of `settings` (config.mesh: ici sizes, -1 fills, dcn_<axis>
  multiplies) on `devices` devices; ValueError when they cannot split them."""
  dcn = {a: int(settings.get(f"dcn_{a}", 1)) for a in sharding.MESH_AXES}
  slices = math.prod(dcn.values())
  if devices % slices:
    raise ValueError(f"{devices} devices cannot be split into {slices} dcn groups {dcn}")
  ici = {a: int(settings[a]) for a in sharding.MESH_AXES if a in settings}
  sizes = sharding._resolve_sizes(ici, devices // slices, "mesh")
  return {a: size * dcn[a] for a, size in zip(sharding.MESH_AXES, sizes)}


def default_devices(config: ml_collections.ConfigDict) -> int:
  """A mesh with every size fixed says its device count; otherwise the paper's for the kind."""
  sizes = [int(v) for v in config.mesh.values()]
  if all(size > 0 for size in sizes):
    return math.prod(sizes)
  return DEFAULT_DEVICES[config_kind(config)]


def from_config(
  config: ml_collections.ConfigDict,
  devices: int,
  layers: int = 0,
  seq_len: int = 0,
  rows: int = 0,
) -> Setting:
  """The setting of `config` on `devices` devices; `layers`, `seq_len` and `rows` (rows per
  optimizer update) scale it down when non-zero."""
  if devices < 1:
    raise ValueError(f"--devices must be positive, got {devices}")
  kind = config_kind(config)
  mesh = resolve_mesh(config.mesh, devices)
  train = config.train
  common = dict(
    kind=kind,
    model=model_config(config, layers),
    mesh=mesh,
    grad_accum=train.grad_accum,
    loss_chunk=train.loss_chunk,
    steps=train.steps,
  )
  if kind == "sft":
    setting = Setting(
      **common,
      rows=rows or config.data.global_batch_size,
      seq_len=seq_len or config.data.seq_len,
      entropy=False,
      batch_fields=dict(BATCH_FIELDS),
    )
  else:
    layout = BatchLayout.from_config(config).check(loss_chunk=train.loss_chunk)
    setting = Setting(
      **common,
      rows=rows or layout.minibatch_rows,
      seq_len=seq_len or layout.seq_len,
      entropy=True,
      batch_fields=layout.fields,
      layout=layout,
      rollout_in_process=config.rollout.engine == "in_process",
      rollout_max_slots=config.rollout.in_process.get("max_batch") or None,
    )
  _check(setting)
  return setting


def _check(setting: Setting) -> None:
  for name in ("rows", "seq_len", "grad_accum", "loss_chunk", "steps"):
    if getattr(setting, name) < 1:
      raise ValueError(f"{name} must be positive, got {getattr(setting, name)}")
  if setting.rows % setting.grad_accum:
    raise ValueError(
      f"{setting.rows} rows per update do not split into train.grad_accum={setting.grad_accum} "
      "micro-batches; choose a grad_accum that divides them"
    )
  chunk = min(setting.loss_chunk, setting.seq_len)
  if setting.seq_len % chunk:
    raise ValueError(
      f"sequence length {setting.seq_len} is not a multiple of train.loss_chunk={chunk}"
    )
