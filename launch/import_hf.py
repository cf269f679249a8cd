"""Hugging Face Qwen directory -> Orbax checkpoint that training can start from.

python -m launch.import_hf --hf_dir=HF_DIR --output=CKPT_DIR

--output must be a new (or empty) directory: an existing checkpoint is never modified. The
checkpoint records the dtype the HF tensors were stored in (hf_import.json), which
`launch.export_hf` uses by default, so that HF -> import -> export -> HF is exact.
"""

from __future__ import annotations

import os

from absl import flags, logging

from launch import common, mesh_flags
from xcoder_jax import checkpoint, sharding
from xcoder_jax.hf import load_hf
from xcoder_jax.hf.io import SafetensorsDir

_HF_DIR = flags.DEFINE_string(
  "hf_dir",
  None,
  "Hugging Face model directory (config.json + "
  "*.safetensors), e.g. a downloaded Qwen2.5-Coder-7B-Instruct.",
  required=True,
)
_OUTPUT = flags.DEFINE_string(
  "output", None, "Checkpoint directory to create (new or empty).", required=True
)
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
  with common.user_errors("import_hf"):
    checkpoint.check_new_directory(os.path.abspath(_OUTPUT.value))  # before any reading
    mesh = mesh_flags.mesh_from_flags()
    with sharding.use_mesh(mesh):
      model = load_hf(_HF_DIR.value, mesh, param_dtype=_PARAM_DTYPE.value)
    stored_dtype = SafetensorsDir(_HF_DIR.value).float_dtype()
  with sharding.use_mesh(mesh):
    out = checkpoint.save_model(
      _OUTPUT.value,
      model,
      step=_STEP.value,
      tokenizer_dir=_HF_DIR.value,
      import_record={"hf_dir": os.path.abspath(_HF_DIR.value), "weights_dtype": stored_dtype},
    )
  logging.info(
    "imported %s (%s, %.1fM parameters, stored as %s) into %s",
    _HF_DIR.value,
    model.config.family,
    model.config.num_params() / 1e6,
    stored_dtype,
    out,
  )
  print(f"wrote {out} (step {_STEP.value})")


if __name__ == "__main__":
  common.run(main, "import_hf")
