"""The jitted SFT train and eval steps, compiled once with explicit shardings and donation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from xcoder_jax import sharding
from xcoder_jax.data.batch import BATCH_FIELDS
from xcoder_jax.models.build import param_path
from xcoder_jax.train.loss import LossFn, sft_loss


class TrainState(NamedTuple):
  step: jax.Array
  params: Any  # nested dict of arrays, the layout of checkpoint item "model"
  opt_state: Any


def batch_axes(ndim: int) -> tuple[str, ...]:
  """Logical axes of a batch array: rows, then (for per-token arrays) the sequence."""
  return ("activation_batch", "activation_length", *([None] * max(ndim - 2, 0)))[:ndim]


def batch_sharding(mesh: Mesh, ndim: int = 2) -> NamedSharding:
  return NamedSharding(mesh, sharding.logical_to_spec(batch_axes(ndim), mesh=mesh))


def batch_shardings(mesh: Mesh, batch_ndims: Mapping[str, int]) -> dict[str, NamedSharding]:
  return {k: batch_sharding(mesh, ndim) for k, ndim in batch_ndims.items()}


def state_shardings(
  params_shardings: Any, optimizer: optax.GradientTransformation, abstract_params: Any, mesh: Mesh
) -> TrainState:
  """Shardings of the whole train state: optimizer moments shard like their parameters
  (matched by parameter path and shape), counters and scalars are replicated."""
  replicated = NamedSharding(mesh, PartitionSpec())
  by_path = {
    param_path(path): (leaf.shape, sh)
    for (path, leaf), sh in zip(
      jax.tree_util.tree_leaves_with_path(abstract_params), jax.tree.leaves(params_shardings)
    )
  }

  def one(path, leaf):
    keys = param_path(path)
    for i in range(len(keys)):
      match = by_path.get(keys[i:])
      if match and match[0] == leaf.shape:
        return match[1]
    return replicated

  abstract_opt = jax.eval_shape(optimizer.init, abstract_params)
  opt_shardings = jax.tree_util.tree_map_with_path(one, abstract_opt)
  return TrainState(replicated, params_shardings, opt_shardings)


def split_micro_batches(batch, micro_batches: int):
  """[rows, ...] leaves -> [micro_batches, rows / micro_batches, ...]. Micro-batch i takes
  rows i, i + A, i + 2A, ...: with the batch sharded by rows each device keeps its own rows,
  where contiguous blocks would move data every step."""
  return jax.tree.map(lambda x: x.reshape(-1, micro_batches, *x.shape[1:]).swapaxes(0, 1), batch)


def join_micro_batches(micro):
  """The inverse of `split_micro_batches`: rows back in their batch order."""
  return jax.tree.map(lambda x: x.swapaxes(0, 1).reshape(-1, *x.shape[2:]), micro)


def make_train_step(
  graphdef: nnx.GraphDef,
  optimizer: optax.GradientTransformation,
  schedule: optax.Schedule,
  grad_accum: int,
  loss_fn: LossFn,
):
  """step(state, batch) -> (state, metrics) for any loss in the `LossOutput` form: numerators,
  denominators and metric sums are added over all micro-batches before one division, so the
  loss is normalised over the global batch exactly as `loss_fn` defines it."""

  def objective(params, micro):
    out = loss_fn(nnx.merge(graphdef, params), micro)
    return out.numerator, out

  grad_fn = jax.value_and_grad(objective, has_aux=True)

  def step(state: TrainState, batch: dict[str, jax.Array]):
    if grad_accum == 1:
      (_, out), grads = grad_fn(state.params, batch)
    else:
      micro = split_micro_batches(batch, grad_accum)

      def accumulate(carry, mb):
        mb = {k: sharding.constrain(v, batch_axes(v.ndim)) for k, v in mb.items()}
        (_, out), g = grad_fn(state.params, mb)
        return jax.tree.map(jnp.add, carry, (out, g)), None

      zeros = jax.tree.map(
        jnp.zeros_like,
        jax.eval_shape(grad_fn, state.params, jax.tree.map(lambda x: x[0], micro)),
      )
      (out, grads), _ = jax.lax.scan(accumulate, (zeros[0][1], zeros[1]), micro)
    denominator = jnp.maximum(out.denominator, 1e-9)
    grads = jax.tree.map(lambda g: g / denominator, grads)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {
      "loss": out.numerator / denominator,
      "grad_norm": optax.tree.norm(grads),
      "lr": schedule(state.step),
      **out.sums,
      **{k: total / jnp.maximum(weight, 1e-9) for k, (total, weight) in out.means.items()},
    }
    return TrainState(state.step + 1, params, opt_state), metrics

  return step


def make_eval_step(graphdef: nnx.GraphDef, loss_fn: LossFn):
  """eval(params, batch) -> LossOutput of one batch (callers add up several batches)."""

  def step(params, batch):
    return loss_fn(nnx.merge(graphdef, params), batch)

  return step


def compile_loss_steps(
  graphdef,
  optimizer,
  schedule,
  state_sh: TrainState,
  mesh: Mesh,
  grad_accum: int,
  loss_fn: LossFn,
  batch_ndims: Mapping[str, int],
):
  """(train_step, eval_step) for `loss_fn`, jitted with explicit in/out shardings over the
  batch arrays named in `batch_ndims` (name -> rank); the train state is donated."""
  batch_sh = batch_shardings(mesh, batch_ndims)
  replicated = NamedSharding(mesh, PartitionSpec())
  train = jax.jit(
    make_train_step(graphdef, optimizer, schedule, grad_accum, loss_fn),
    in_shardings=(state_sh, batch_sh),
    out_shardings=(state_sh, replicated),
    donate_argnums=0,
  )
  evaluate = jax.jit(
    make_eval_step(graphdef, loss_fn),
    in_shardings=(state_sh.params, batch_sh),
    out_shardings=replicated,
  )
  return train, evaluate


def compile_steps(
  graphdef,
  optimizer,
  schedule,
  state_sh: TrainState,
  mesh: Mesh,
  grad_accum: int,
  loss_chunk: int,
):
  """The SFT steps: `compile_loss_steps` with the response-token cross-entropy; eval_step
  returns (loss sum, token count)."""
  ndims = dict.fromkeys(BATCH_FIELDS, 2)
  train, evaluate = compile_loss_steps(
    graphdef, optimizer, schedule, state_sh, mesh, grad_accum, sft_loss(loss_chunk), ndims
  )
  return train, lambda params, batch: evaluate(params, batch)[:2]


def abstract_train_state(
  state_sh: TrainState, optimizer: optax.GradientTransformation, abstract_params: Any
) -> TrainState:
  """ShapeDtypeStructs with shardings for every leaf: the restore target of a checkpoint."""
  shapes = TrainState(
    jax.ShapeDtypeStruct((), jnp.int32),
    abstract_params,
    jax.eval_shape(optimizer.init, abstract_params),
  )
  return jax.tree.map(
    lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), shapes, state_sh
  )


def init_train_state(
  params: Any, optimizer: optax.GradientTransformation, state_sh: TrainState
) -> TrainState:
  opt_state = jax.jit(optimizer.init, out_shardings=state_sh.opt_state)(params)
  return TrainState(jax.device_put(jnp.zeros((), jnp.int32), state_sh.step), params, opt_state)


def create_train_state(
  model: nnx.Module, optimizer: optax.GradientTransformation, mesh: Mesh
) -> tuple[nnx.GraphDef, TrainState, TrainState]:
  """(graphdef, state, state shardings) from a model whose parameters are already on `mesh`."""
  graphdef, model_state = nnx.split(model)
  params = nnx.to_pure_dict(model_state)
  abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), params)
  state_sh = state_shardings(jax.tree.map(lambda x: x.sharding, params), optimizer, abstract, mesh)
  return graphdef, init_train_state(params, optimizer, state_sh), state_sh
