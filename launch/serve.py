"""Serve an HF model with the JAX sampler behind SGLang's HTTP API (native + OpenAI-compatible).

python -m launch.serve --model=HF_DIR [--port=30000] [--host=127.0.0.1]

Endpoints: /generate, /update_weights_from_disk, /flush_cache, /health, /health_generate,
/get_model_info, /get_server_info, /v1/chat/completions, /v1/completions, /v1/models (see
xcoder_jax/rollout/server.py). Point the `sglang` rollout engine, or any OpenAI client, at
http://HOST:PORT. One process; on a TPU host the model is sharded over its local devices by
the --mesh_* flags.
"""

from __future__ import annotations

import logging

from absl import flags

from launch import common, mesh_flags

_MODEL = flags.DEFINE_string(
  "model", None, "Hugging Face model directory (config.json + *.safetensors).", required=True
)
_TOKENIZER = flags.DEFINE_string(
  "tokenizer", None, "Tokenizer directory (tokenizer.json, chat template); default: --model."
)
_HOST = flags.DEFINE_string("host", "127.0.0.1", "Address to listen on (0.0.0.0: all).")
_PORT = flags.DEFINE_integer("port", 30000, "Port to listen on (SGLang's default is 30000).")
_SERVED_NAME = flags.DEFINE_string(
  "served_model_name", None, "Model name in /v1/models and answers; default: --model."
)
_DTYPE = flags.DEFINE_enum(
  "dtype",
  None,
  ["float32", "bfloat16", "float16"],
  "Compute dtype; default: the checkpoint's torch_dtype.",
)
_WEIGHT_VERSION = flags.DEFINE_string(
  "weight_version", "default", "Weight version reported until an update sets another."
)
_MAX_BATCH = flags.DEFINE_integer(
  "max_batch",
  64,
  "Decode slots: most rows (prompts x n) decoding at once; more requests queue for a slot.",
)
_MAX_WAIT_S = flags.DEFINE_float(
  "max_wait_s", 0.02, "How long the first waiting request waits for others to share its batch."
)
_SEED = flags.DEFINE_integer(
  "seed", 0, "Seeds the sampling seeds drawn for requests that give no sampling_seed."
)
_COMPILE_CACHE = flags.DEFINE_string(
  "compilation_cache_dir",
  None,
  "JAX persistent compilation cache: restarts reuse compiled generation loops.",
)

flags.adopt_module_key_flags(mesh_flags)
flags.declare_key_flag("debug")


def main(argv):
  del argv
  import jax
  from aiohttp import web

  from xcoder_jax import sharding
  from xcoder_jax.rollout.app import make_app
  from xcoder_jax.rollout.server import PolicyServer

  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
  if _COMPILE_CACHE.value:
    jax.config.update("jax_compilation_cache_dir", _COMPILE_CACHE.value)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  with common.user_errors("serve"):
    mesh = mesh_flags.mesh_from_flags()
    with sharding.use_mesh(mesh):
      server = PolicyServer(
        _MODEL.value,
        tokenizer_path=_TOKENIZER.value,
        mesh=mesh,
        dtype=_DTYPE.value,
        served_model_name=_SERVED_NAME.value,
        weight_version=_WEIGHT_VERSION.value,
        max_batch=_MAX_BATCH.value,
        max_wait_s=_MAX_WAIT_S.value,
        seed=_SEED.value,
      )
  with common.listening(_HOST.value, _PORT.value):
    web.run_app(
      make_app(server),
      host=_HOST.value,
      port=_PORT.value,
      access_log=None,
      print=lambda _: logging.info(
        "serving %s on http://%s:%d", _MODEL.value, _HOST.value, _PORT.value
      ),
    )


if __name__ == "__main__":
  common.run(main, "serve")
