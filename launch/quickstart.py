"""The main job end to end on the tiny model, CPU only.

1. Builds the tiny Qwen3-style model sharded over 8 virtual CPU devices (fsdp=4 x tensor=2),
   saves and restores it as an Orbax checkpoint, exports it to a Hugging Face directory and
   compares logits with transformers.
2. Decodes greedily with the KV-cache sampler and checks the tokens against the full forward.
3. Runs SynthSmith on its embedded demo (the teacher's answers are REPLAYED from a recorded
   file, so it runs offline): features, tasks, candidate solutions, test inputs, sandboxed
   execution in the judge, dual verification, verified SFT and RL shards and a funnel report.
4. Fine-tunes the model with `configs/sft/tiny.py` on the bundled demo SFT set plus the
   SynthSmith shards (Grain pipeline, packing, sharded train step, Orbax checkpoints,
   metrics) and exports the result to HF.

  XLA_FLAGS=--xla_force_host_platform_device_count=8 python -m launch.quickstart --workdir=DIR
"""

from __future__ import annotations

import json
import os
import shutil

import jax
import numpy as np
from absl import app, flags, logging

from configs.sft import tiny as tiny_sft
from configs.synthsmith import demo as synthsmith_demo
from data_pipeline import pipeline as synthsmith
from xcoder_jax import checkpoint, sharding
from xcoder_jax.data import load_tokenizer
from xcoder_jax.hf import save_hf
from xcoder_jax.models import get_preset
from xcoder_jax.models.build import create_model
from xcoder_jax.rollout import Sampler, SamplingParams
from xcoder_jax.train import sft

_WORKDIR = flags.DEFINE_string(
  "workdir", "/tmp/xcoder_quickstart", "Where outputs go (replaced on each run)."
)
_PRESET = flags.DEFINE_string("preset", "tiny", "Model preset to build.")
_SFT_STEPS = flags.DEFINE_integer("sft_steps", 40, "Steps of the demo fine-tuning.")


def _greedy_agrees_with_full_forward(model) -> bool:
  """Greedy rollouts of prompts of different lengths (left-padded in one batch) from the
  KV-cache sampler equal the argmax of a plain forward pass over prompt + completion."""
  sampler = Sampler(model, load_tokenizer("tiny"))
  rng = np.random.RandomState(1)
  prompts = [rng.randint(3, model.config.vocab_size, n).tolist() for n in (5, 8, 13)]
  completions = sampler.generate(prompts, SamplingParams(max_new_tokens=8, temperature=0.0))
  for prompt, completion in zip(prompts, completions):
    sequence = np.asarray([prompt + completion.tokens], np.int32)
    expected = np.asarray(model(sequence)).argmax(-1)[0, len(prompt) - 1 : -1]
    if expected.tolist() != completion.tokens:
      return False
  return True


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
  print(
    f"[1/6] {config.num_params() / 1e6:.1f}M-parameter {_PRESET.value} model on mesh "
    f"{dict(mesh.shape)} ({jax.default_backend()})"
  )
  with sharding.use_mesh(mesh):
    model = create_model(config, mesh, seed=0)
    spec = model.layers.gate_proj[...].sharding.spec
    print(f"      gate_proj sharded as {spec}")
    tokens = np.random.RandomState(0).randint(0, config.vocab_size, (8, 32)).astype(np.int32)
    logits = np.asarray(jax.jit(lambda m, t: m(t))(model, tokens))

    ckpt = checkpoint.save_model(os.path.join(workdir, "checkpoint"), model)
    restored, step = checkpoint.load_model(ckpt, mesh)
    same = np.abs(np.asarray(restored(tokens)) - logits).max()
    print(f"[2/6] Orbax checkpoint {ckpt} (step {step}); restored max |dlogit| = {same:.2e}")

    hf_dir = save_hf(restored, os.path.join(workdir, "hf"), dtype="float32")
  reference = transformers.AutoModelForCausalLM.from_pretrained(hf_dir).eval()
  with torch.no_grad():
    theirs = reference(torch.as_tensor(tokens, dtype=torch.long)).logits.numpy()
  diff = np.abs(theirs - logits).max()
  print(f"[3/6] exported {hf_dir}; transformers max |dlogit| = {diff:.2e}")

  agree = _greedy_agrees_with_full_forward(create_model(config, seed=0))
  print(f"[4/6] KV-cache sampler (greedy, left-padded batch) agrees with the full forward: {agree}")
  if diff > 1e-4 or same > 1e-5 or not agree:
    raise SystemExit("quickstart FAILED: a check above is out of tolerance")

  synth_dir = os.path.join(workdir, "synthsmith")
  report = synthsmith.run(synthsmith_demo.get_config(), synth_dir)
  funnel = " -> ".join(f"{row['stage']} {row['out']}" for row in report["funnel"])
  print(
    f"[5/6] SynthSmith demo (replayed teacher): {funnel}; report {synth_dir}/report.json, "
    f"chart {synth_dir}/funnel.png"
  )

  sft_config = tiny_sft.get_config()
  sft_config.data.train_files = f"demo,{os.path.join(synth_dir, 'sft')}"
  sft_config.train.steps = _SFT_STEPS.value
  sft_config.train.progress_bar = False
  sft_dir = os.path.join(workdir, "sft")
  last = sft.train(sft_config, sft_dir)
  first = json.loads(open(os.path.join(sft_dir, "metrics.jsonl")).readline())
  exported = save_hf(checkpoint.load_model(sft_dir)[0], os.path.join(workdir, "sft_hf"))
  print(
    f"[6/6] SFT on demo + SynthSmith data (FSDP over {jax.device_count()} devices): loss {first['loss']:.3f} at "
    f"step {first['step']} -> {last['loss']:.3f} at step {_SFT_STEPS.value}, eval loss "
    f"{last.get('eval_loss', float('nan')):.3f}; exported {exported}"
  )
  if not last["loss"] < first["loss"]:
    raise SystemExit("quickstart FAILED: the SFT loss did not fall")
  print("quickstart OK")


if __name__ == "__main__":
  app.run(main)
