"""Rematerialisation policies, chosen by `ModelConfig.remat_policy`: which activations of a
decoder layer the backward pass keeps, and which it recomputes to save memory.

Each entry wraps a layer function; `prevent_cse` must be True when layers run in a Python
loop (XLA would otherwise merge the recomputation back into the forward pass) and may be
False under `jax.lax.scan`, which already keeps them apart.
"""

from __future__ import annotations

from collections.abc import Callable

import jax

from xcoder_jax.registry import Registry

Remat = Callable[[Callable, bool], Callable]  # (layer_fn, prevent_cse) -> layer_fn
REMAT_POLICIES: Registry[Remat] = Registry("remat policy")


def _checkpoint(policy: Callable | None) -> Remat:
  return lambda fn, prevent_cse: jax.checkpoint(fn, policy=policy, prevent_cse=prevent_cse)


REMAT_POLICIES.register("none", lambda fn, prevent_cse: fn)  # keep every activation
REMAT_POLICIES.register("full", _checkpoint(None))  # keep only the layer's input
REMAT_POLICIES.register("dots", _checkpoint(jax.checkpoint_policies.checkpoint_dots))
REMAT_POLICIES.register(
  "dots_no_batch", _checkpoint(jax.checkpoint_policies.dots_with_no_batch_dims_saveable)
)


def remat(fn: Callable, policy: str, prevent_cse: bool) -> Callable:
  return REMAT_POLICIES.get(policy)(fn, prevent_cse)
