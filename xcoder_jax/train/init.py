"""Where a run's first parameters come from: `init.source` names an entry of `INIT_SOURCES`.

Each source gives the model's shapes (a preset, an HF config.json, a checkpoint's
model_config.json), its parameters born sharded on the mesh, and the tokenizer files that
travel with it. Runtime fields (dtype, remat, attention kernel, ...) always come from the
config's `model` section, so the same weights can be trained with other numerics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import ml_collections
from flax import nnx
from jax.sharding import Mesh

from xcoder_jax import checkpoint
from xcoder_jax.hf import load_hf
from xcoder_jax.hf.config import from_hf_config, read_hf_config
from xcoder_jax.models import ModelConfig, get_preset
from xcoder_jax.models.build import create_model
from xcoder_jax.registry import Registry


@dataclasses.dataclass(frozen=True)
class InitSource:
  model_config: Callable[[ml_collections.ConfigDict, dict[str, Any]], ModelConfig]
  params: Callable[[ml_collections.ConfigDict, ModelConfig, Mesh, dict[str, Any]], Any]
  tokenizer_dir: Callable[[ml_collections.ConfigDict], str | None]
  needs_path: bool = True


INIT_SOURCES: Registry[InitSource] = Registry("init source")

INIT_SOURCES.register(
  "random",
  InitSource(
    model_config=lambda config, runtime: get_preset(config.model.preset, **runtime),
    params=lambda config, model_config, mesh, runtime: nnx.to_pure_dict(
      nnx.state(create_model(model_config, mesh, seed=config.init.seed))
    ),
    tokenizer_dir=lambda config: None,
    needs_path=False,
  ),
)
INIT_SOURCES.register(
  "hf",
  InitSource(
    model_config=lambda config, runtime: from_hf_config(
      read_hf_config(config.init.path), **runtime
    ),
    params=lambda config, model_config, mesh, runtime: nnx.to_pure_dict(
      nnx.state(load_hf(config.init.path, mesh, **runtime))
    ),
    tokenizer_dir=lambda config: config.init.path,
  ),
)
INIT_SOURCES.register(
  "checkpoint",
  InitSource(
    model_config=lambda config, runtime: checkpoint.read_model_config(config.init.path).replace(
      **runtime
    ),
    params=lambda config, model_config, mesh, runtime: nnx.to_pure_dict(
      nnx.state(checkpoint.load_model(config.init.path, mesh, **runtime)[0])
    ),
    tokenizer_dir=lambda config: checkpoint.assets_dir(config.init.path),
  ),
)


def runtime_overrides(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """The config's `model` section minus `preset`: fields that do not change shapes."""
  return {k: v for k, v in config.model.items() if k != "preset"}


def source_of(config: ml_collections.ConfigDict) -> InitSource:
  source = INIT_SOURCES.get(INIT_SOURCES.check(config.init.source, "init.source"))
  if source.needs_path and not config.init.path:
    raise ValueError(f"init.source={config.init.source!r} needs --config.init.path=DIR")
  return source


def model_config_from(config: ml_collections.ConfigDict) -> ModelConfig:
  """Shapes from the init source; runtime fields from config.model."""
  return source_of(config).model_config(config, runtime_overrides(config))


def initial_params(config: ml_collections.ConfigDict, model_config: ModelConfig, mesh: Mesh):
  """The first parameters of a run (a nested dict in checkpoint item "model" layout)."""
  return source_of(config).params(config, model_config, mesh, runtime_overrides(config))


def default_tokenizer(config: ml_collections.ConfigDict) -> str | None:
  """The tokenizer files of what training starts from (None for random weights)."""
  return source_of(config).tokenizer_dir(config)
