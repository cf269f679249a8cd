"""Orbax checkpoint (or a training run's work directory) -> Hugging Face directory.

python -m launch.export_hf --checkpoint=CKPT_DIR --output=HF_DIR

The tensors keep the dtype they came in with unless --dtype says otherwise: a checkpoint of
`launch.import_hf` exports in the dtype its HF tensors were stored in (so HF -> import ->
export -> HF is exact); a training run's float32 master weights export in the dtype its model
config declares (model.dtype), as the log says. --output may not be, hold or lie inside the
checkpoint; with --overwrite only the files of an export are replaced, atomically.
"""

from __future__ import annotations

from absl import flags, logging

from launch import common, mesh_flags
from xcoder_jax import checkpoint, sharding
from xcoder_jax.hf import save_hf
from xcoder_jax.hf.io import DEFAULT_MAX_SHARD_BYTES, check_export_dir

_CHECKPOINT = flags.DEFINE_string(
  "checkpoint",
  None,
  "Checkpoint directory, or the work directory of a training run (its latest step is used).",
  required=True,
)
_OUTPUT = flags.DEFINE_string(
  "output",
  None,
  "Hugging Face directory to write, outside the checkpoint; must not exist or be empty unless "
  "--overwrite.",
  required=True,
)
_STEP = flags.DEFINE_integer("step", None, "Step to export (default: the latest).")
_DTYPE = flags.DEFINE_enum(
  "dtype",
  None,
  ["bfloat16", "float32", "float16"],
  "Dtype of the exported tensors. Default: as they came in: an imported checkpoint's step in "
  "the dtype its HF tensors had (exact round trip), a training run in the dtype its model "
  "config declares (model.dtype; its float32 master weights are rounded to it).",
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
_OVERWRITE = flags.DEFINE_bool(
  "overwrite",
  False,
  "Export into a non-empty --output: its model files are replaced atomically, other files, "
  "the directory and its permissions are kept.",
)

flags.adopt_module_key_flags(common)
flags.adopt_module_key_flags(mesh_flags)


def export_dtype(path: str, step: int, config) -> str:
  """--dtype, or the dtype the weights of `step` came in with (see the module docstring)."""
  if _DTYPE.value:
    return _DTYPE.value
  record = checkpoint.read_import_record(path)
  if record and record.get("step") == step:
    logging.info("exporting in %s, the dtype of the imported HF tensors", record["weights_dtype"])
    return record["weights_dtype"]
  message = f"exporting step {step} in {config.dtype}, the dtype its model config declares"
  if config.param_dtype == config.dtype:
    logging.info(message)
  else:
    logging.warning(
      f"{message}: its {config.param_dtype} weights are rounded; "
      f"--dtype={config.param_dtype} keeps every bit"
    )
  return config.dtype


def main(argv):
  del argv
  common.start_distributed()
  with common.user_errors("export_hf"):
    check_export_dir(_OUTPUT.value, [_CHECKPOINT.value], _OVERWRITE.value)  # before any reading
    mesh = mesh_flags.mesh_from_flags()
    with sharding.use_mesh(mesh):
      model, step = checkpoint.load_model(_CHECKPOINT.value, mesh, step=_STEP.value)
  with sharding.use_mesh(mesh):
    tokenizer_dir = _TOKENIZER_DIR.value or checkpoint.assets_dir(_CHECKPOINT.value)
    out = save_hf(
      model,
      _OUTPUT.value,
      dtype=export_dtype(_CHECKPOINT.value, step, model.config),
      tokenizer_dir=tokenizer_dir,
      max_shard_bytes=_MAX_SHARD_BYTES.value,
      overwrite=_OVERWRITE.value,
    )
  print(f"wrote {out} from step {step}")


if __name__ == "__main__":
  common.run(main, "export_hf")
