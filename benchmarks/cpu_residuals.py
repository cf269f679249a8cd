"""What XLA:CPU's memory analysis charges for one saved remat residual, bfloat16 next to float32.

`benchmarks/memory.py` reads memory from XLA:CPU, since no accelerator is lent here; for the
named remat policies it reports about twice the plan's residual bytes. This isolates why: a
scan over N layers of `tanh(x @ w) @ w.T` under `jax.checkpoint`, saving the matmul output
by name (`save_only_these_names("q")`) or nothing, compiled for 8 and 16 layers; the
difference per added layer is what one layer keeps for the backward pass. In float32 the
saved output costs exactly its size. In bfloat16, XLA:CPU (which has no bfloat16 matmul and
widens it to float32) keeps it at float32 width, twice its size, and widens the saved layer
input too; accelerators run bfloat16 matmuls natively. So on CPU, bfloat16 memory figures
for saved residuals are upper bounds for a GPU or TPU.

    .venv/bin/python benchmarks/cpu_residuals.py

Prints a table and ONE JSON line.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax.ad_checkpoint import checkpoint_name  # noqa: E402

_TOKENS, _WIDTH = 4096, 1024
MIB = 2**20


def _temp_mib(dtype, policy, layers: int) -> float:
  def layer(x, w):
    q = checkpoint_name(jnp.matmul(x, w), "q")
    return jnp.tanh(q) @ w.T, None

  def loss(x, ws):
    x, _ = jax.lax.scan(jax.checkpoint(layer, policy=policy), x, ws)
    return x.astype(jnp.float32).sum()

  x = jax.ShapeDtypeStruct((_TOKENS, _WIDTH), dtype)
  ws = jax.ShapeDtypeStruct((layers, _WIDTH, _WIDTH), dtype)
  compiled = jax.jit(jax.grad(loss, argnums=1)).lower(x, ws).compile()
  return compiled.memory_analysis().temp_size_in_bytes / MIB


def per_layer_mib(dtype, policy) -> float:
  return (_temp_mib(dtype, policy, 16) - _temp_mib(dtype, policy, 8)) / 8


def main() -> None:
  policies = {
    "save q": jax.checkpoint_policies.save_only_these_names("q"),
    "nothing": jax.checkpoint_policies.nothing_saveable,
  }
  results = {}
  print(f"backend {jax.default_backend()}; MiB kept per layer ([{_TOKENS}, {_WIDTH}] per array)")
  print(f"{'':<42}{'float32':>10}{'bfloat16':>10}")
  for dtype in (jnp.float32, jnp.bfloat16):
    name = jnp.dtype(dtype).name
    kept = {label: per_layer_mib(dtype, policy) for label, policy in policies.items()}
    results[name] = {
      "array_mib": _TOKENS * _WIDTH * jnp.dtype(dtype).itemsize / MIB,
      "saved_output_mib": kept["save q"] - kept["nothing"],
      "layer_input_mib": kept["nothing"],
    }
  for key, label in (
    ("array_mib", "one [tokens, width] array"),
    ("saved_output_mib", "saved matmul output (save q - nothing)"),
    ("layer_input_mib", "kept with nothing saved (layer input)"),
  ):
    print(f"{label:<42}{results['float32'][key]:>10.1f}{results['bfloat16'][key]:>10.1f}")
  ratio = results["bfloat16"]["saved_output_mib"] / results["bfloat16"]["array_mib"]
  print(
    json.dumps(
      {
        "benchmark": "cpu_residuals",
        "backend": jax.default_backend(),
        **results,
        "bf16_saved_over_size": round(ratio, 2),
      }
    )
  )


if __name__ == "__main__":
  main()
