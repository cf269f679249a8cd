"""Import Hugging Face checkpoints (any family of models/families.py) into sharded NNX models,
and export them back.

Import reads tensor by tensor, and each device reads only its own shard of each tensor
(`jax.make_array_from_callback` over memory-mapped safetensors), so the checkpoint is never
held in host memory twice. Export gathers one layer of one parameter at a time, assembles the
directory beside its target and moves it in: a new directory by one rename; into an existing
one (--overwrite) only the files an export writes are replaced (and weight files of an
earlier export removed); config.json, which transformers reads first, is taken away first and
put back last, so that no reader ever loads a mix of two exports. The directory itself, its
permissions and any other files stay.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from absl import logging
from flax import nnx
from jax.experimental import multihost_utils
from jax.sharding import Mesh, SingleDeviceSharding
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from xcoder_jax.fileio import atomic_write
from xcoder_jax.hf import weights
from xcoder_jax.hf.config import from_hf_config, read_hf_config, to_hf_config
from xcoder_jax.models.build import model_from_arrays, param_path
from xcoder_jax.models.qwen import Qwen

INDEX_FILE = "model.safetensors.index.json"
DEFAULT_MAX_SHARD_BYTES = 5 * 10**9 - 2**20  # HF's "5GB" limit, with room for headers
TOKENIZER_FILES = (
  "tokenizer.json",
  "tokenizer_config.json",
  "vocab.json",
  "merges.txt",
  "special_tokens_map.json",
  "added_tokens.json",
  "chat_template.jinja",
)
_FLOAT_DTYPES = {"F32", "BF16", "F16"}
_DTYPE_NAMES = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}


def copy_tokenizer_files(source_dir: str, target_dir: str) -> None:
  """Copies the tokenizer files (and generation_config.json) that `source_dir` has."""
  for name in TOKENIZER_FILES + ("generation_config.json",):
    if os.path.isfile(os.path.join(source_dir, name)):
      shutil.copyfile(os.path.join(source_dir, name), os.path.join(target_dir, name))


class HFCheckpointError(ValueError):
  """Missing, unexpected or malformed tensors in a Hugging Face checkpoint."""


def _open(path: str):
  """safe_open, with a damaged file named in the error (safetensors' own message does not)."""
  try:
    return safe_open(path, framework="numpy")
  except SafetensorError as error:
    raise HFCheckpointError(
      f"cannot read {path}: {error}; the file is truncated or not safetensors, copy it again"
    ) from None


def _read_index(path: str) -> dict[str, str]:
  try:
    with open(path) as f:
      return json.load(f)["weight_map"]
  except (json.JSONDecodeError, KeyError, TypeError) as error:
    raise HFCheckpointError(
      f"cannot read {path}: {type(error).__name__} {error}; expected transformers' JSON "
      'index with a "weight_map"; copy it again'
    ) from None


class SafetensorsDir:
  """The tensors of an HF directory (single file, or shards with an index), opened lazily."""

  def __init__(self, hf_dir: str):
    index_path = os.path.join(hf_dir, INDEX_FILE)
    if os.path.isfile(index_path):
      weight_map = _read_index(index_path)
    else:
      files = sorted(glob.glob(os.path.join(hf_dir, "*.safetensors")))
      if not files:
        raise FileNotFoundError(
          f"no *.safetensors files in {hf_dir} (PyTorch .bin checkpoints "
          "are not read; convert them with safetensors first)"
        )
      weight_map = {}
      for path in files:
        with _open(path) as f:
          weight_map.update({name: os.path.basename(path) for name in f.keys()})
    self._handles = {}
    for file in sorted(set(weight_map.values())):
      path = os.path.join(hf_dir, file)
      if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is listed in {INDEX_FILE} but missing")
      self._handles[file] = _open(path)
    self.weight_map = weight_map

  def names(self) -> set[str]:
    return set(self.weight_map)

  def slice(self, name: str):
    return self._handles[self.weight_map[name]].get_slice(name)

  def reader(self, name: str):
    tensor = self.slice(name)
    return lambda index: np.asarray(tensor[index])

  def float_dtype(self) -> str:
    """The dtype the floating-point tensors are stored in; the widest when they mix."""
    stored = {self.slice(name).get_dtype() for name in self.weight_map}
    for code in ("F32", "BF16", "F16"):
      if code in stored:
        return _DTYPE_NAMES[code]
    raise HFCheckpointError(f"no floating-point tensors among {sorted(stored)}")


def _expected_tensors(mappings, num_layers: int) -> dict[str, tuple[int, ...]]:
  expected = {}
  for m in mappings:
    names = [m.hf_name.format(layer=i) for i in range(num_layers)] if m.stacked else [m.hf_name]
    expected.update({name: m.hf_shape() for name in names})
  return expected


def _validate(tensors: SafetensorsDir, expected: dict[str, tuple[int, ...]], tied: bool) -> None:
  present = tensors.names()
  missing = sorted(set(expected) - present)
  if missing:
    raise HFCheckpointError(
      f"{len(missing)} tensors missing from the checkpoint, e.g. "
      f"{missing[:5]}; is config.json from the same model?"
    )
  extra = sorted(
    n
    for n in present - set(expected)
    if not n.endswith(weights.IGNORED_SUFFIXES) and not (tied and n == "lm_head.weight")
  )
  if extra:
    raise HFCheckpointError(
      f"unexpected tensors {extra[:5]} (of {len(extra)}): the "
      "checkpoint has parts this architecture does not (wrong config?)"
    )
  for name, shape in expected.items():
    info = tensors.slice(name)
    if tuple(info.get_shape()) != shape:
      raise HFCheckpointError(
        f"tensor {name} has shape {tuple(info.get_shape())}, expected {shape} from config.json"
      )
    if info.get_dtype() not in _FLOAT_DTYPES:
      raise HFCheckpointError(
        f"tensor {name} has dtype {info.get_dtype()}; expected one of "
        f"{sorted(_FLOAT_DTYPES)} (quantised checkpoints are not supported)"
      )


def load_hf(hf_dir: str, mesh: Mesh | None = None, **config_overrides: Any) -> Qwen:
  """A model with the weights of an HF directory, sharded over `mesh` when given."""
  config = from_hf_config(read_hf_config(hf_dir), **config_overrides)
  tensors = SafetensorsDir(hf_dir)
  mappings = {m.path: m for m in weights.tensor_mappings(config)}
  _validate(tensors, _expected_tensors(mappings.values(), config.num_layers), config.tie_embeddings)
  if config.tie_embeddings and "lm_head.weight" in tensors.names():
    logging.warning("tied embeddings: ignoring lm_head.weight in %s", hf_dir)
  default_sharding = SingleDeviceSharding(jax.local_devices()[0])

  def make_array(path, leaf):
    m = mappings[param_path(path)]

    def callback(index):
      if not m.stacked:
        out = weights.read_as_ours(m.kind, tensors.reader(m.hf_name), m.our_shape, index)
      else:
        layers = range(*index[0].indices(config.num_layers))
        out = np.stack(
          [
            weights.read_as_ours(
              m.kind, tensors.reader(m.hf_name.format(layer=i)), m.our_shape, index[1:]
            )
            for i in layers
          ]
        )
      return out.astype(leaf.dtype)

    return jax.make_array_from_callback(leaf.shape, leaf.sharding or default_sharding, callback)

  return model_from_arrays(config, mesh, make_array)


def _to_host(x: jax.Array) -> np.ndarray:
  if x.is_fully_addressable:
    return np.asarray(jax.device_get(x))
  return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def _hf_tensors(model: Qwen, dtype: str):
  """Yields (hf_name, array) one layer of one parameter at a time."""
  config = model.config
  params = {param_path(p): v for p, v in jax.tree_util.tree_leaves_with_path(nnx.state(model))}
  for m in weights.tensor_mappings(config):
    value = params[m.path]
    layers = range(config.num_layers) if m.stacked else [None]
    for i in layers:
      host = _to_host(value if i is None else value[i])
      name = m.hf_name if i is None else m.hf_name.format(layer=i)
      yield name, weights.ours_to_hf(m.kind, host).astype(dtype)


def check_export_dir(output_dir: str, sources: Sequence[str] = (), overwrite: bool = False) -> str:
  """The absolute export directory, refused (before any work) when it is, holds or lies inside
  one of `sources` (symlinks resolved), is a file, or is a non-empty directory without
  `overwrite`."""
  output_dir = os.path.abspath(output_dir)
  real = os.path.realpath(output_dir)
  for source in sources:
    source_real = os.path.realpath(source)
    if os.path.commonpath([real, source_real]) in (real, source_real):
      relation = (
        "is" if real == source_real else "contains" if source_real.startswith(real) else "is inside"
      )
      raise ValueError(
        f"--output={output_dir} {relation} the source {source}; an export must not touch what "
        "it exports: choose a directory outside it"
      )
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise NotADirectoryError(f"--output={output_dir} is a file; give a directory path")
  if os.path.isdir(output_dir) and os.listdir(output_dir) and not overwrite:
    raise FileExistsError(
      f"{output_dir} exists and is not empty; choose a new directory or pass overwrite=True "
      "(--overwrite replaces the files of an export and keeps the rest)"
    )
  return output_dir


def save_hf(
  model: Qwen,
  output_dir: str,
  dtype: str | None = None,
  tokenizer_dir: str | None = None,
  max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
  overwrite: bool = False,
) -> str:
  """Writes an HF directory (sharded safetensors + index, configs, tokenizer files) with the
  tensors in `dtype` (default: the model config's declared dtype).

  The files are assembled in a temporary directory beside `output_dir` and moved in at the
  end (see the module docstring), so an interrupted export never leaves a half-written model
  where a complete one was expected.
  """
  dtype = np.dtype(_numpy_dtype(dtype or model.config.dtype)).name
  output_dir = check_export_dir(output_dir, overwrite=overwrite)
  writer = jax.process_index() == 0
  staging = None
  if writer:
    os.makedirs(os.path.dirname(output_dir), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".export-", dir=os.path.dirname(output_dir))
  shards: list[dict[str, np.ndarray]] = [{}]
  sizes = [0]
  weight_map: dict[str, int] = {}
  for name, array in _hf_tensors(model, dtype):
    if not writer:
      continue
    if sizes[-1] and sizes[-1] + array.nbytes > max_shard_bytes:
      _write_shard(staging, shards[-1], len(shards))
      shards[-1] = {}  # free the written tensors
      shards.append({})
      sizes.append(0)
    shards[-1][name] = array
    sizes[-1] += array.nbytes
    weight_map[name] = len(shards)
  if not writer:
    return output_dir
  _write_shard(staging, shards[-1], len(shards))
  _finish_shards(staging, len(shards), weight_map, sum(sizes))
  hf_config = to_hf_config(model.config, dtype)
  _write_json(os.path.join(staging, "config.json"), hf_config)
  generation = {
    "bos_token_id": hf_config["bos_token_id"],
    "eos_token_id": hf_config["eos_token_id"],
  }
  _write_json(os.path.join(staging, "generation_config.json"), generation)
  if tokenizer_dir:
    copy_tokenizer_files(tokenizer_dir, staging)
  _move_in(staging, output_dir)
  return output_dir


def _move_in(staging: str, output_dir: str) -> None:
  """Puts the finished export in place; an existing directory keeps its other files."""
  if not os.path.isdir(output_dir):
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp's 0700 would hide the model from others
    os.replace(staging, output_dir)
    return
  new = set(os.listdir(staging))
  config = os.path.join(output_dir, "config.json")
  if os.path.exists(config):
    os.remove(config)  # from here until the end a reader fails loudly instead of mixing
  for name in os.listdir(output_dir):
    if name not in new and (name.endswith(".safetensors") or name == INDEX_FILE):
      os.remove(os.path.join(output_dir, name))  # weights of the old export, not overwritten
  for name in sorted(new - {"config.json"}) + ["config.json"]:
    os.replace(os.path.join(staging, name), os.path.join(output_dir, name))
  os.rmdir(staging)


def _numpy_dtype(name: str):
  import ml_dtypes  # numpy has no bfloat16 of its own

  table = {"float32": np.float32, "bfloat16": ml_dtypes.bfloat16, "float16": np.float16}
  if name not in table:
    raise ValueError(f"export dtype {name!r}; choose one of {sorted(table)}")
  return table[name]


def _write_shard(staging: str, tensors: dict[str, np.ndarray], i: int) -> None:
  save_file(tensors, os.path.join(staging, f"shard-{i:05d}.safetensors"), metadata={"format": "pt"})


def _finish_shards(staging: str, n: int, weight_map: dict[str, int], total: int) -> None:
  """Renames shards once their count is known; a single shard becomes model.safetensors."""
  if n == 1:
    os.replace(
      os.path.join(staging, "shard-00001.safetensors"), os.path.join(staging, "model.safetensors")
    )
    return
  names = {i: f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)}
  for i, name in names.items():
    os.replace(os.path.join(staging, f"shard-{i:05d}.safetensors"), os.path.join(staging, name))
  _write_json(
    os.path.join(staging, INDEX_FILE),
    {
      "metadata": {"total_size": total},
      "weight_map": {k: names[v] for k, v in sorted(weight_map.items())},
    },
  )


def _write_json(path: str, data: Any) -> None:
  """Indented JSON with a final newline, as transformers writes it; fsynced like the rest."""
  with atomic_write(path) as f:
    json.dump(data, f, indent=2)
    f.write("\n")
