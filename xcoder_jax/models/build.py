"""Creating models whose parameters are born sharded on a mesh (never whole on one device)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
from flax import nnx
from jax.sharding import Mesh

from xcoder_jax import sharding
from xcoder_jax.models.config import ModelConfig
from xcoder_jax.models.qwen import Qwen


def param_path(key_path) -> tuple[str, ...]:
  """The dict keys of a pytree key path: ("layers", "q_proj") for a parameter, and the same
  suffix for its optimizer moments, whatever Variable or namedtuple wrappers lie between."""
  return tuple(k.key for k in key_path if isinstance(k, jax.tree_util.DictKey))


def abstract_model(config: ModelConfig, mesh: Mesh | None = None):
  """(graphdef, abstract state) where each leaf is a ShapeDtypeStruct carrying its sharding."""
  graphdef, state = nnx.split(nnx.eval_shape(lambda: Qwen(config, rngs=nnx.Rngs(0))))
  if mesh is None:
    return graphdef, state
  shardings = sharding.state_shardings(state, mesh)
  state = jax.tree.map(
    lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh), state, shardings
  )
  return graphdef, state


def model_from_params(config: ModelConfig, params: Any, mesh: Mesh | None = None) -> Qwen:
  """The model holding `params`, a nested dict of arrays in the layout of checkpoint item
  "model" (`nnx.to_pure_dict` of a model's state); `mesh` gives the abstract leaves their
  shardings (the arrays keep their own)."""
  graphdef, abstract = abstract_model(config, mesh)
  nnx.replace_by_pure_dict(abstract, params)
  return nnx.merge(graphdef, abstract)


def create_model(config: ModelConfig, mesh: Mesh | None = None, seed: int = 0) -> Qwen:
  """Randomly initialised model; with a mesh each device materialises only its own shards."""
  if mesh is None:
    return Qwen(config, rngs=nnx.Rngs(seed))
  graphdef, abstract = abstract_model(config, mesh)
  out_shardings = jax.tree.map(lambda s: s.sharding, abstract)

  def init():
    return nnx.split(Qwen(config, rngs=nnx.Rngs(seed)))[1]

  return nnx.merge(graphdef, jax.jit(init, out_shardings=out_shardings)())


def model_from_arrays(
  config: ModelConfig,
  mesh: Mesh | None,
  make_array: Callable[[Any, jax.ShapeDtypeStruct], jax.Array],
) -> Qwen:
  """Builds a model whose every parameter comes from `make_array(key_path, abstract_leaf)`."""
  graphdef, abstract = abstract_model(config, mesh)

  return nnx.merge(graphdef, jax.tree_util.tree_map_with_path(make_array, abstract))
