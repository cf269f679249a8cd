#!/usr/bin/env bash
# A local SGLang server on a GPU host: the rollout server of the `sglang` engine
# (xcoder_jax/rollout/sglang_client.py). SGLang needs CUDA; install it with
# `pip install -e '.[sglang]'` on the GPU host (it cannot run on TPU or CPU hosts, where
# `python -m launch.serve --model=HF_DIR` serves the same API from the JAX sampler).
#
# Usage: launch/sglang_server.sh HF_DIR [PORT] [TP]
#   HF_DIR  Hugging Face model directory (e.g. the SFT model from launch.export_hf)
#   PORT    default 30000; TP: tensor-parallel GPUs per server, default 1
# Environment: HOST (default 127.0.0.1; 0.0.0.0 to serve other hosts), WEIGHT_VERSION (default
#   0, the engine's initial_version), MEM_FRACTION (KV-cache share of GPU memory, default 0.8),
#   SGLANG_ARGS (more flags, e.g. "--dp-size 8" for one data-parallel replica per GPU group,
#   "--enable-deterministic-inference" to honour the engine's seeded=True).
#
# It runs:
#   SGLANG_RETURN_ORIGINAL_LOGPROB=1 python -m sglang.launch_server --model-path HF_DIR \
#     --host HOST --port PORT --tp-size TP --weight-version 0 --mem-fraction-static 0.8
# SGLANG_RETURN_ORIGINAL_LOGPROB=1 makes meta_info.output_token_logprobs the raw (untempered)
# log-probabilities GRPO's ratio needs. The trainer then points the engine at it:
#   --config.rollout.engine=sglang --config.rollout.sglang.server_url=http://HOST:PORT
#   --config.rollout.sglang.sync_dir=<storage the server reads>.
set -euo pipefail

MODEL=${1:?usage: launch/sglang_server.sh HF_DIR [PORT] [TP]}
PORT=${2:-30000}
TP=${3:-1}
if [[ ! -f "$MODEL/config.json" ]]; then
  echo "error: $MODEL has no config.json; pass a Hugging Face model directory" >&2
  exit 2
fi

export SGLANG_RETURN_ORIGINAL_LOGPROB=1
# shellcheck disable=SC2086  # SGLANG_ARGS is a list of extra flags
exec python -m sglang.launch_server \
  --model-path "$MODEL" \
  --host "${HOST:-127.0.0.1}" \
  --port "$PORT" \
  --tp-size "$TP" \
  --weight-version "${WEIGHT_VERSION:-0}" \
  --mem-fraction-static "${MEM_FRACTION:-0.8}" \
  ${SGLANG_ARGS:-}
