"""Rematerialisation policies, chosen by `ModelConfig.remat_policy`: which activations of a
decoder layer the backward pass keeps, and which it recomputes to save memory.

`xcoder_jax.models.qwen.decoder_block` tags its intermediate values with
`jax.ad_checkpoint.checkpoint_name` (the names in `LAYER_NAMES`), so a policy can say exactly
what it keeps instead of relying on which matmuls XLA happens to see:

- "none": keep every activation (fastest, most memory);
- "full" / "save_nothing": keep only the layer's input, recompute the rest;
- "save_qkv_proj": keep the queries, keys and values fed to attention;
- "save_attention": also keep the attention output, so the backward pass never reruns the
  attention forward (the costly part at long context);
- "save_all_but_mlp": also keep the output projection; only the MLP is recomputed;
- "offload_qkv": like "save_qkv_proj", but the saved values live in pinned host memory,
  trading device memory for host transfers (XLA:CPU compiles and runs it too);
- "dots" / "dots_no_batch": JAX's matmul-based policies.

Each entry wraps a layer function; `prevent_cse` must be True when layers run in a Python
loop (XLA would otherwise merge the recomputation back into the forward pass) and may be
False under `jax.lax.scan`, which already keeps them apart.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
from jax.ad_checkpoint import checkpoint_name

from xcoder_jax.registry import Registry

Remat = Callable[[Callable, bool], Callable]  # (layer_fn, prevent_cse) -> layer_fn
REMAT_POLICIES: Registry[Remat] = Registry("remat policy")

QKV = ("query_proj", "key_proj", "value_proj")  # after norms and RoPE: attention's inputs
ATTENTION = (*QKV, "attention")  # + the attention kernel's output, before o_proj
ALL_BUT_MLP = (*ATTENTION, "out_proj")  # + o_proj's output
MLP = ("mlp_gate", "mlp_up", "mlp_out")
LAYER_NAMES = (*ALL_BUT_MLP, *MLP)  # every name decoder_block tags


def tag(x: jax.Array, name: str) -> jax.Array:
  """Names `x` for the policies above; an identity outside `jax.checkpoint`."""
  return checkpoint_name(x, name)


def _checkpoint(policy: Callable | None) -> Remat:
  return lambda fn, prevent_cse: jax.checkpoint(fn, policy=policy, prevent_cse=prevent_cse)


def _saving(names: tuple[str, ...]) -> Remat:
  return _checkpoint(jax.checkpoint_policies.save_only_these_names(*names))


REMAT_POLICIES.register("none", lambda fn, prevent_cse: fn)  # keep every activation
REMAT_POLICIES.register("full", _checkpoint(None))  # keep only the layer's input
REMAT_POLICIES.register("save_nothing", _checkpoint(jax.checkpoint_policies.nothing_saveable))
REMAT_POLICIES.register("save_qkv_proj", _saving(QKV))
REMAT_POLICIES.register("save_attention", _saving(ATTENTION))
REMAT_POLICIES.register("save_all_but_mlp", _saving(ALL_BUT_MLP))
REMAT_POLICIES.register(
  "offload_qkv",
  _checkpoint(
    jax.checkpoint_policies.save_and_offload_only_these_names(
      names_which_can_be_saved=[],
      names_which_can_be_offloaded=list(QKV),
      offload_src="device",
      offload_dst="pinned_host",
    )
  ),
)
REMAT_POLICIES.register("dots", _checkpoint(jax.checkpoint_policies.checkpoint_dots))
REMAT_POLICIES.register(
  "dots_no_batch", _checkpoint(jax.checkpoint_policies.dots_with_no_batch_dims_saveable)
)


def remat(fn: Callable, policy: str, prevent_cse: bool) -> Callable:
  return REMAT_POLICIES.get(policy)(fn, prevent_cse)
