"""Orbax checkpoint (or a training run's work directory) -> Hugging Face directory.

python -m launch.export_hf --checkpoint=CKPT_DIR --output=HF_DIR
"""

from __future__ import annotations

from absl import app, flags

from launch import common, mesh_flags
from xcoder_jax import checkpoint, sharding
from xcoder_jax.hf import save_hf
from xcoder_jax.hf.io import DEFAULT_MAX_SHARD_BYTES

_CHECKPOINT = flags.DEFINE_string(
  "checkpoint",
  None,
  "Checkpoint directory, or the work directory of a training run (its latest step is used).",
  required=True,
)
_OUTPUT = flags.DEFINE_string(
  "output",
  None,
  "Hugging Face directory to write; must not exist or be empty unless --overwrite.",
  required=True,
)
_STEP = flags.DEFINE_integer("step", None, "Step to export (default: the latest).")
_DTYPE = flags.DEFINE_enum(
  "dtype", "bfloat16", ["bfloat16", "float32", "float16"], "Dtype of the exported tensors."
)
_MAX_SHARD_BYTES = flags.DEFINE_integer(
  "max_shard_bytes",
  DEFAULT_MAX_SHARD_BYTES,
  "Largest safetensors file; bigger models are sharded with an index.",
)
_TOKENIZER_DIR = flags.DEFINE_string(
  "tokenizer_dir",
  None,
  "Directory whose tokenizer files are copied (default: the checkpoint's assets/).",
)
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing non-empty --output.")

flags.adopt_module_key_flags(common)
flags.adopt_module_key_flags(mesh_flags)


def main(argv):
  del argv
  common.start_distributed()
  mesh = mesh_flags.mesh_from_flags()
  with sharding.use_mesh(mesh):
    model, step = checkpoint.load_model(_CHECKPOINT.value, mesh, step=_STEP.value)
    tokenizer_dir = _TOKENIZER_DIR.value or checkpoint.assets_dir(_CHECKPOINT.value)
    out = save_hf(
      model,
      _OUTPUT.value,
      dtype=_DTYPE.value,
      tokenizer_dir=tokenizer_dir,
      max_shard_bytes=_MAX_SHARD_BYTES.value,
      overwrite=_OVERWRITE.value,
    )
  print(f"wrote {out} from step {step}")


if __name__ == "__main__":
  app.run(main)
