#!/bin/bash
# SFT on a TPU VM pod slice: the same command runs on every worker.
#
#   TPU=my-v5p-128 ZONE=us-east5-a MODEL=/mnt/shared/Qwen2.5-Coder-7B-Instruct \
#   DATA='/mnt/shared/xcoder-sft/*.array_record' WORKDIR=/mnt/shared/runs/xcoder-sft-7b \
#   bash launch/tpu/sft_tpu_vm.sh
#
# JAX finds the other workers from the TPU metadata, so no address flags are needed. The repo
# must be checked out at ~/xcoder-jax on every worker with `pip install -e .` and jax[tpu]
# installed. MODEL, DATA and WORKDIR must be paths every worker sees (a Filestore/NFS mount,
# or a GCS bucket mounted with gcsfuse): checkpoints, metrics and the resume point live there.
# For a multi-slice job add --config.mesh.dcn_data=NUM_SLICES. Attention runs "chunked" (query
# blocks recomputed in the backward pass): the plain "xla" kernel would hold the whole
# 32k x 32k score matrix per layer. Not yet run on a TPU; a Pallas splash-attention kernel
# would be faster. Remat "full": 64 chips hold 2 rows each, twice the GPU default's per-device
# activations, and keeping the attention output (the config's GPU default) would not fit 95 GB.
set -euo pipefail
: "${TPU:?}" "${ZONE:?}" "${MODEL:?}" "${DATA:?}" "${WORKDIR:?}"
gcloud compute tpus tpu-vm ssh "${TPU}" --zone="${ZONE}" --worker=all --command "
  cd ~/xcoder-jax && python3 -m launch.train \
    --config=configs/sft/qwen25_coder_7b.py \
    --workdir='${WORKDIR}' \
    --config.init.path='${MODEL}' \
    --config.data.train_files='${DATA}' \
    --config.model.attention_impl=chunked \
    --config.model.remat_policy=full \
    --config.mesh.fsdp=-1"
