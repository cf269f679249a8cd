"""XLA's own memory figure for the real train step, to check the analytic one against.

The step is `xcoder_jax.train.step.compile_loss_steps` with the config's registered loss
(SFT cross-entropy or GRPO), lowered and compiled for abstract inputs (ShapeDtypeStructs
carrying their shardings) over a device mesh: no parameter is ever allocated. On a CPU host
the mesh is made of virtual devices (XLA_FLAGS=--xla_force_host_platform_device_count=N,
set before jax starts), and `compiled.memory_analysis()` is one device's program.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import ml_collections
import numpy as np
from flax import nnx

from xcoder_jax import sharding
from xcoder_jax.models.attention import FUSED_KERNEL_BACKENDS
from xcoder_jax.models.build import abstract_model
from xcoder_jax.planning.setting import Setting
from xcoder_jax.rl import grpo
from xcoder_jax.train import step as step_lib
from xcoder_jax.train.loss import sft_loss
from xcoder_jax.train.optimizer import make_optimizer


def for_backend(setting: Setting, backend: str) -> tuple[Setting, list[str]]:
  """The setting this backend can compile, and what was changed to get it: the fused kernels
  (cuDNN, Pallas flash, splash) compile only on their own accelerator, so elsewhere they are
  checked as the "chunked" kernel, which likewise never holds a [length, keys] score matrix
  (it holds one block's, so it bounds theirs from above)."""
  impl = setting.model.attention_impl
  if FUSED_KERNEL_BACKENDS.get(impl, backend) == backend:
    return setting, []
  chunk = min(setting.model.attention_chunk, setting.seq_len)
  model = setting.model.replace(attention_impl="chunked", attention_chunk=chunk)
  note = f"attention_impl {impl} compiled as chunked ({chunk}-query blocks) on {backend}"
  return dataclasses.replace(setting, model=model), [note]


def _analysis(compiled) -> dict[str, int]:
  analysis = compiled.memory_analysis()
  out = {
    key: int(getattr(analysis, f"{key}_size_in_bytes"))
    for key in ("argument", "output", "alias", "temp")
  }
  out["total"] = out["argument"] + out["output"] - out["alias"] + out["temp"]
  return out


def compile_passes(
  config: ml_collections.ConfigDict, setting: Setting, devices: Sequence[jax.Device]
) -> dict[str, dict[str, int]]:
  """XLA's per-device memory analysis (bytes) of the train step of `setting`, and for GRPO of
  its forward-only log-prob pass over a mini-batch, on the first `setting.devices` devices."""
  if len(devices) < setting.devices:
    raise ValueError(
      f"the mesh needs {setting.devices} devices but only {len(devices)} exist; on a CPU set "
      f"XLA_FLAGS=--xla_force_host_platform_device_count={setting.devices} before jax starts"
    )
  mesh = sharding.make_mesh(
    sharding.MeshConfig(ici=dict(setting.mesh)), list(devices)[: setting.devices]
  )
  optimizer, schedule = make_optimizer(config.optimizer, setting.steps)
  loss_config = ml_collections.ConfigDict(config.to_dict())
  loss_config.train.loss_chunk = setting.loss_chunk
  loss_fn = grpo.grpo_loss(loss_config) if setting.kind == "rl" else sft_loss(setting.loss_chunk)
  out = {}
  with sharding.use_mesh(mesh):
    graphdef, abstract = abstract_model(setting.model, mesh)
    params = nnx.to_pure_dict(abstract)
    params_sh = jax.tree.map(lambda x: x.sharding, params)
    state_sh = step_lib.state_shardings(params_sh, optimizer, params, mesh)
    ndims = dict.fromkeys(setting.batch_fields, 2)
    batch_sh = step_lib.batch_shardings(mesh, ndims)
    batch = {
      k: jax.ShapeDtypeStruct((setting.rows, setting.seq_len), dtype, sharding=batch_sh[k])
      for k, dtype in setting.batch_fields.items()
    }
    train, _ = step_lib.compile_loss_steps(
      graphdef, optimizer, schedule, state_sh, mesh, setting.grad_accum, loss_fn, ndims
    )
    state = step_lib.abstract_train_state(state_sh, optimizer, params)
    out["train_step"] = _analysis(train.lower(state, batch).compile())
    if setting.kind == "rl":
      chunk = setting.loss_chunk

      logprobs = grpo.behaviour_logprobs(graphdef, chunk, setting.grad_accum)
      fields = {
        k: jax.ShapeDtypeStruct(
          (setting.rows, setting.seq_len), np.float32, sharding=batch_sh["loss_mask"]
        )
        if k == "rollout_logprobs"
        else batch[k]
        for k in grpo.GAP_FIELDS
      }
      forward = jax.jit(
        logprobs, in_shardings=(params_sh, {k: v.sharding for k, v in fields.items()})
      )
      abstract_params = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), params
      )
      out["logprob_pass"] = _analysis(forward.lower(abstract_params, fields).compile())
  return out
