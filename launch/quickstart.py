"""What exists so far, end to end on the tiny model, CPU only.

Builds the tiny Qwen3-style model sharded over 8 virtual CPU devices (fsdp=4 x tensor=2),
saves it as an Orbax checkpoint, exports that to a Hugging Face directory, reloads it with
transformers and compares logits; then decodes greedily with the KV cache and checks the
tokens against the full forward. Later issues extend this into the whole X-Coder pipeline.

  XLA_FLAGS=--xla_force_host_platform_device_count=8 python -m launch.quickstart --workdir=DIR
"""

from __future__ import annotations

import os
import shutil

import jax
import numpy as np
from absl import app, flags, logging

from xcoder_jax import checkpoint, sharding
from xcoder_jax.hf import save_hf
from xcoder_jax.models import KVCache, get_preset
from xcoder_jax.models.build import create_model

_WORKDIR = flags.DEFINE_string("workdir", "/tmp/xcoder_quickstart", "Where outputs go "
                               "(replaced on each run).")
_PRESET = flags.DEFINE_string("preset", "tiny", "Model preset to build.")


def _greedy(model, prompt: np.ndarray, steps: int) -> np.ndarray:
  cache = KVCache.create(model.config, batch=prompt.shape[0], length=prompt.shape[1] + steps)
  decode = jax.jit(lambda m, t, p, c: m.decode(t, p, c))
  positions = np.broadcast_to(np.arange(prompt.shape[1], dtype=np.int32), prompt.shape)
  logits, cache = decode(model, prompt, positions, cache)
  out = [prompt]
  for i in range(steps):
    token = np.asarray(logits[:, -1].argmax(-1), np.int32)[:, None]
    out.append(token)
    position = np.full_like(token, prompt.shape[1] + i)
    logits, cache = decode(model, token, position, cache)
  return np.concatenate(out, axis=1)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # keep the console to the four steps below
  import torch
  import transformers

  workdir = _WORKDIR.value
  shutil.rmtree(workdir, ignore_errors=True)
  config = get_preset(_PRESET.value, dtype="float32")
  devices = jax.devices()
  ici = {"fsdp": 4, "tensor": 2} if len(devices) == 8 else {"fsdp": -1}
  mesh = sharding.make_mesh(sharding.MeshConfig(ici=ici))
  print(f"[1/4] {config.num_params() / 1e6:.1f}M-parameter {_PRESET.value} model on mesh "
        f"{dict(mesh.shape)} ({jax.default_backend()})")
  with sharding.use_mesh(mesh):
    model = create_model(config, mesh, seed=0)
    spec = model.layers.gate_proj[...].sharding.spec
    print(f"      gate_proj sharded as {spec}")
    tokens = np.random.RandomState(0).randint(0, config.vocab_size, (8, 32)).astype(np.int32)
    logits = np.asarray(jax.jit(lambda m, t: m(t))(model, tokens))

    ckpt = checkpoint.save_model(os.path.join(workdir, "checkpoint"), model)
    restored, step = checkpoint.load_model(ckpt, mesh)
    same = np.abs(np.asarray(restored(tokens)) - logits).max()
    print(f"[2/4] Orbax checkpoint {ckpt} (step {step}); restored max |dlogit| = {same:.2e}")

    hf_dir = save_hf(restored, os.path.join(workdir, "hf"), dtype="float32")
  reference = transformers.AutoModelForCausalLM.from_pretrained(hf_dir).eval()
  with torch.no_grad():
    theirs = reference(torch.as_tensor(tokens, dtype=torch.long)).logits.numpy()
  diff = np.abs(theirs - logits).max()
  print(f"[3/4] exported {hf_dir}; transformers max |dlogit| = {diff:.2e}")

  single = create_model(config, seed=0)
  generated = _greedy(single, tokens[:2, :8], steps=8)
  full = np.asarray(single(generated)).argmax(-1)[:, 7:-1]
  agree = bool((full == generated[:, 8:]).all())
  print(f"[4/4] KV-cache greedy decoding agrees with the full forward: {agree}")
  if diff > 1e-4 or same > 1e-5 or not agree:
    raise SystemExit("quickstart FAILED: a check above is out of tolerance")
  print("quickstart OK")


if __name__ == "__main__":
  app.run(main)
