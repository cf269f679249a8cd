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
from xcoder_jax.rl.grpo import TRAIN_FIELDS
from xcoder_jax.rl.rollout_batch import ROW_FIELDS
from xcoder_jax.train import init

# The paper's hardware for each kind of run (../shared/RECIPE.md): SFT on 128 x H20, GRPO on
# 32 x H200. A config whose mesh sizes are all fixed plans for exactly that many devices.
DEFAULT_DEVICES = {"sft": 128, "rl": 32}
DEFAULT_HARDWARE = {"sft": "H20", "rl": "H200"}


@dataclasses.dataclass(frozen=True)
class Rollout:
  """In-process rollouts: one sampler batch of every rollout of a step on the training mesh."""

  rows: int  # prompts_per_step x num_generations
  prompt_len: int
  max_new_tokens: int


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
  # GRPO: a loop step holds `minibatches` mini-batches of `rows` rows on the devices, runs a
  # forward-only log-prob pass over each (two with a reference policy for the KL term), then
  # `epochs` passes of one optimizer update per mini-batch. SFT: one batch, one update.
  minibatches: int
  epochs: int
  reference: bool
  entropy: bool  # the loss also computes each position's entropy (GRPO's bonus)
  batch_fields: Mapping[str, np.dtype]
  rollout: Rollout | None = None

  @property
  def devices(self) -> int:
    return math.prod(self.mesh.values())

  @property
  def micro_rows(self) -> int:
    return self.rows // self.grad_accum

  @property
  def updates_per_step(self) -> int:
    return self.minibatches * self.epochs

  @property
  def forward_passes(self) -> int:
    """Forward-only passes over `rows` rows per loop step (GRPO's log-probs)."""
    return 0 if self.kind == "sft" else self.minibatches * (1 + self.reference)


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
      minibatches=1,
      epochs=1,
      reference=False,
      entropy=False,
      batch_fields=dict(BATCH_FIELDS),
    )
  else:
    rl = config.rl
    fields = TRAIN_FIELDS + ("old_logprobs",) + (("ref_logprobs",) if rl.kl_coef else ())
    rollout = None
    if config.rollout.engine == "in_process":
      rollout = Rollout(
        rl.prompts_per_step * rl.num_generations, rl.max_prompt_len, rl.max_new_tokens
      )
    setting = Setting(
      **common,
      rows=rows or rl.prompts_per_step * rl.num_generations // rl.num_minibatches,
      seq_len=seq_len or rl.max_prompt_len + rl.max_new_tokens,
      minibatches=rl.num_minibatches,
      epochs=rl.ppo_epochs,
      reference=bool(rl.kl_coef),
      entropy=True,
      batch_fields={k: np.dtype(ROW_FIELDS.get(k, np.float32)) for k in fields},
      rollout=rollout,
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
