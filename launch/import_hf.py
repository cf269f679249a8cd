"""Hugging Face Qwen directory -> Orbax checkpoint that training can start from.

python -m launch.import_hf --hf_dir=HF_DIR --output=CKPT_DIR
"""

from __future__ import annotations

from absl import app, flags, logging

from launch import common, mesh_flags
from xcoder_jax import checkpoint, sharding
from xcoder_jax.hf import load_hf

_HF_DIR = flags.DEFINE_string(
  "hf_dir",
  None,
  "Hugging Face model directory (config.json + "
  "*.safetensors), e.g. a downloaded Qwen2.5-Coder-7B-Instruct.",
  required=True,
)
_OUTPUT = flags.DEFINE_string("output", None, "Checkpoint directory to create.", required=True)
_PARAM_DTYPE = flags.DEFINE_enum(
  "param_dtype",
  "float32",
  ["float32", "bfloat16"],
  "Dtype the parameters are stored and trained in.",
)
_STEP = flags.DEFINE_integer("step", 0, "Step number the imported weights are saved under.")

flags.adopt_module_key_flags(common)
flags.adopt_module_key_flags(mesh_flags)


def main(argv):
  del argv
  common.start_distributed()
  mesh = mesh_flags.mesh_from_flags()
  with sharding.use_mesh(mesh):
    model = load_hf(_HF_DIR.value, mesh, param_dtype=_PARAM_DTYPE.value)
    out = checkpoint.save_model(_OUTPUT.value, model, step=_STEP.value, tokenizer_dir=_HF_DIR.value)
  logging.info(
    "imported %s (%s, %.1fM parameters) into %s",
    _HF_DIR.value,
    model.config.family,
    model.config.num_params() / 1e6,
    out,
  )
  print(f"wrote {out} (step {_STEP.value})")


if __name__ == "__main__":
  app.run(main)
