"""Per-device memory of one train step, from shapes alone (nothing is allocated).

Parameters and optimizer state are exact: the real model's abstract parameters and the real
optimizer's abstract state, each leaf divided by its sharding on an abstract mesh with the
rules of `xcoder_jax.sharding`. Activations follow the code of `xcoder_jax.models.qwen`,
counted per token of one micro-batch on one device:

- every policy but "none" keeps each layer's input for the backward pass and rebuilds one
  layer's intermediates at a time from it;
- the named policies ("save_qkv_proj", "save_attention", "save_all_but_mlp") also keep the
  values they name; XLA's compiled step keeps about twice that (docs/benchmarks.md), so
  these terms are a lower bound;
- "dots" / "dots_no_batch" also keep the matmul outputs jax.checkpoint_policies saves
  (projections; "dots" adds the attention score and value matmuls of the "xla" kernel);
- the "xla" and "dot_product" kernels hold [heads, length, keys] scores in float32 (plus
  the probabilities) per layer; "chunked" one block of `attention_chunk` queries at a time;
  "cudnn" (flash attention) none, only its softmax statistics;
- the boolean [length, keys] mask exists once per row for the whole step, except with the
  Pallas kernels ("flash", "splash"), which mask each tile from segment ids and positions;
- the chunked loss holds one chunk's float32 logits (with their cotangent, and the
  probabilities when the entropy is computed), never the whole sequence's;
- transients that never coexist (a loss chunk, a rebuilt layer) count as the larger one;
- weights are gathered over fsdp one layer at a time in the compute dtype, and their float32
  gradients come back full-size before the reduce-scatter; likewise the output projection.

`launch.plan --compile` checks the total against XLA's `memory_analysis()` of the real step
(docs/plan.md has the measured agreement).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np
import optax
from flax import nnx
from jax.sharding import AbstractMesh

from xcoder_jax import sharding
from xcoder_jax.models import ModelConfig
from xcoder_jax.models.attention import FUSED_KERNEL_BACKENDS
from xcoder_jax.models.build import abstract_model
from xcoder_jax.models.qwen import layer_param_shapes
from xcoder_jax.planning.setting import Setting
from xcoder_jax.rollout import continuous
from xcoder_jax.rollout.continuous import bucket
from xcoder_jax.rollout.sampler import MIN_SLOTS
from xcoder_jax.train import step as step_lib

F32 = 4


def abstract_mesh(setting: Setting) -> AbstractMesh:
  return AbstractMesh(tuple(setting.mesh[a] for a in sharding.MESH_AXES), sharding.MESH_AXES)


def _shard_bytes(leaves, shardings) -> int:
  return sum(
    math.prod(sh.shard_shape(x.shape)) * x.dtype.itemsize
    for x, sh in zip(jax.tree.leaves(leaves), jax.tree.leaves(shardings), strict=True)
  )


def state_bytes(setting: Setting, optimizer: optax.GradientTransformation) -> tuple[int, int]:
  """(parameter bytes, optimizer-state bytes) per device, sharded as the trainer shards them."""
  mesh = abstract_mesh(setting)
  _, state = abstract_model(setting.model, mesh)
  params = nnx.to_pure_dict(state)
  params_sh = jax.tree.map(lambda x: x.sharding, params)
  state_sh = step_lib.state_shardings(params_sh, optimizer, params, mesh)
  opt_state = jax.eval_shape(optimizer.init, params)
  return _shard_bytes(params, params_sh), _shard_bytes(opt_state, state_sh.opt_state)


@dataclasses.dataclass(frozen=True)
class Local:
  """One device's share of a micro-batch and of the sharded model dimensions."""

  rows: int  # micro-batch rows on this device
  length: int  # tokens of each row on this device
  keys: int  # keys each query attends over (the whole row)
  heads: int
  kv_heads: int
  mlp: int
  vocab: int
  batch_shards: int  # devices the micro-batch's rows are split over (1: replicated)
  length_shards: int
  tensor_shards: int  # devices the heads / MLP are split over

  @property
  def tokens(self) -> int:
    return self.rows * self.length


def local_shapes(setting: Setting, rows: int | None = None) -> Local:
  """Per-device shapes of a [rows, seq_len] batch (default: one micro-batch)."""
  mesh, m = abstract_mesh(setting), setting.model
  rows = setting.micro_rows if rows is None else rows
  batch = sharding.shard_count("activation_batch", mesh, rows)
  length = sharding.shard_count("activation_length", mesh, setting.seq_len)
  heads = sharding.shard_count("activation_heads", mesh, m.num_heads)
  return Local(
    rows=rows // batch,
    length=setting.seq_len // length,
    keys=setting.seq_len,
    heads=m.num_heads // heads,
    kv_heads=m.num_kv_heads // sharding.shard_count("activation_kv_heads", mesh, m.num_kv_heads),
    mlp=m.intermediate_size // sharding.shard_count("activation_mlp", mesh, m.intermediate_size),
    vocab=m.vocab_size // sharding.shard_count("activation_vocab", mesh, m.vocab_size),
    batch_shards=batch,
    length_shards=length,
    tensor_shards=heads,
  )


def layer_residual_bytes(m: ModelConfig, local: Local, policy: str) -> int:
  """Bytes per token that the backward pass of one decoder layer keeps under `policy`."""
  a = np.dtype(m.dtype).itemsize
  e, d = m.hidden_size, m.head_dim
  h, k, mlp, keys = local.heads, local.kv_heads, local.mlp, local.keys
  scores = m.attention_impl in ("xla", "dot_product")
  projections = a * ((h + 2 * k) * d + 2 * e + 2 * mlp)  # q, k, v, o, gate, up, down outputs
  named = {  # the values the named policies of xcoder_jax.models.remat keep (device memory)
    "full": 0,
    "save_nothing": 0,
    "offload_qkv": 0,  # q, k and v go to host memory
    "save_qkv_proj": a * (h + 2 * k) * d,
    "save_attention": a * (2 * h + 2 * k) * d,
    "save_all_but_mlp": a * ((2 * h + 2 * k) * d + e),
  }
  if policy in named:
    return named[policy]
  if policy == "dots_no_batch":
    return projections
  if policy == "dots":
    return projections + (F32 * h * keys + a * h * d if scores else 0)
  # "none": the norms' float32 inputs and outputs, q/k norms, rotated q and k, v, the
  # attention internals and output, the MLP's gate, up, silu and product.
  total = 2 * (F32 + a) * e + a * (h + 2 * k) * d + a * h * d + 6 * a * mlp
  if m.qk_norm:
    total += (F32 + a) * (h + k) * d
  if scores:  # mask broadcast, masked scores and exp in float32, probabilities
    total += (1 + 2 * F32 + a) * h * keys
  elif m.attention_impl in FUSED_KERNEL_BACKENDS:
    total += F32 * h  # the softmax statistics of flash attention
  return total


# Terms that never coexist: the loss's chunk logits live before the layers' backward pass
# starts (or, forward only, after the last layer), one layer's intermediates while it runs;
# the larger of the two counts.
TRANSIENT = ("loss_chunk", "layer_recompute", "layer_forward")


def activation_bytes(terms: dict[str, int]) -> int:
  return sum(v for k, v in terms.items() if k not in TRANSIENT) + max(
    terms.get(k, 0) for k in TRANSIENT
  )


_TILE_MASKED = ("flash", "splash")  # kernels that never build a [length, keys] mask


def _common_terms(setting: Setting, local: Local, entropy: bool) -> dict[str, int]:
  """Terms of every pass: the step's batch rows (GRPO keeps all mini-batches of the step on
  the devices), the mask, and one loss chunk of float32 logits (with its cotangent when
  training, and the probabilities when the entropy is computed)."""
  chunk = min(setting.loss_chunk, setting.seq_len) // local.length_shards
  # the step's input rows are split over the batch axes even when a micro-batch's are not
  rows = setting.minibatches * setting.rows // local_shapes(setting, setting.rows).batch_shards
  field_bytes = sum(x.itemsize for x in setting.batch_fields.values())
  return {
    "batch": rows * local.length * field_bytes,
    "attention_mask": 0
    if setting.model.attention_impl in _TILE_MASKED
    else local.tokens * local.keys,
    "loss_chunk": (1 + entropy) * local.rows * chunk * local.vocab * F32,
  }


def _gathered_weights(m: ModelConfig, local: Local, dtypes: tuple[str, ...]) -> int:
  layer = sum(math.prod(shape) for shape, _ in layer_param_shapes(m).values())
  size = (layer + m.hidden_size * m.vocab_size) // local.tensor_shards
  return size * sum(np.dtype(d).itemsize for d in dtypes)


def attention_block_bytes(m: ModelConfig, local: Local) -> int:
  """The "chunked" kernel's one block of queries, rebuilt in the backward pass: scores and
  their exponentials in float32, and the probabilities."""
  if m.attention_impl != "chunked":
    return 0
  a = np.dtype(m.dtype).itemsize
  # a device's queries (fewer than the row's under context parallelism) may fit in one block
  block = min(m.attention_chunk, local.length)
  return local.rows * local.heads * block * local.keys * (2 * F32 + a)


def activation_terms(setting: Setting) -> dict[str, int]:
  """Named per-device activation terms of one train step (bytes); `activation_bytes` adds
  them up."""
  m, local = setting.model, local_shapes(setting)
  a = np.dtype(m.dtype).itemsize
  n = local.tokens
  terms = _common_terms(setting, local, setting.entropy)
  terms["loss_chunk"] *= 2  # the logits' cotangent in the backward pass
  full_layer = n * layer_residual_bytes(m, local, "none")
  kept = n * layer_residual_bytes(m, local, m.remat_policy)
  terms.update(
    layer_inputs=0 if m.remat_policy == "none" else m.num_layers * n * m.hidden_size * a,
    layer_residuals=m.num_layers * kept,
    # the attention block's scores live after the MLP's rebuilt intermediates are freed
    layer_recompute=max(
      0 if m.remat_policy == "none" else full_layer - kept, attention_block_bytes(m, local)
    ),
    hidden=n * m.hidden_size * (a + F32),  # the final hidden states and their cotangent
    gathered_weights=_gathered_weights(m, local, (m.dtype, m.param_dtype)),
    context_parallel_kv=context_parallel_kv_bytes(m, local),
  )
  return terms


def context_parallel_kv_bytes(m: ModelConfig, local: Local) -> int:
  """With the sequence split (xcoder_jax/models/context_parallel.py): one layer's keys and
  values gathered over the whole row, and their cotangents before the reduce-scatter."""
  if local.length_shards == 1:
    return 0
  a = np.dtype(m.dtype).itemsize
  return 4 * local.rows * local.keys * local.kv_heads * m.head_dim * a


def logprob_pass_terms(setting: Setting) -> dict[str, int]:
  """GRPO's forward-only log-prob pass, run over train.grad_accum micro-batches in turn: a
  layer's input and output for every row of one micro-batch, and the largest intermediates
  of one layer (q/k/v, the attention output and scores of the "xla" kernel, the MLP's gate,
  up and product), or one loss chunk's logits; plus the log-probs of the whole mini-batch."""
  m, local = setting.model, local_shapes(setting, setting.rows // setting.grad_accum)
  a = np.dtype(m.dtype).itemsize
  h, k = local.heads, local.kv_heads
  per_token = a * ((2 * h + 2 * k) * m.head_dim + 3 * local.mlp)
  if m.attention_impl in ("xla", "dot_product"):
    per_token += (2 * F32 + a) * h * local.keys
  terms = _common_terms(setting, local, entropy=False)
  terms.update(
    hidden=2 * local.tokens * m.hidden_size * a,
    layer_forward=local.tokens * per_token,
    logprobs=setting.minibatches
    * setting.rows
    // local_shapes(setting, setting.rows).batch_shards
    * local.length
    * F32,
    gathered_weights=_gathered_weights(m, local, (m.dtype,)),
  )
  return terms


def kv_cache_bytes(setting: Setting) -> int:
  """The in-process sampler's caches (xcoder_jax.rollout.continuous): the decode slots (every
  rollout of a step, or `rollout.in_process.max_batch` of them, as a power of two), each
  holding prompt width + max_new_tokens columns, plus the prefilled prompts (one per prompt
  of the step, prompt width only) they are inserted from; keys and values of every layer,
  rows sharded like the cache_batch rule, KV heads like activation_kv_heads."""
  if not setting.rollout_in_process:
    return 0
  m, mesh, layout = setting.model, abstract_mesh(setting), setting.layout
  shards = sharding.shard_count("cache_batch", mesh)
  limits = continuous.slot_limits(setting.rollout_max_slots, MIN_SLOTS, shards)
  slots = continuous.first_slots(layout.rollouts, limits)
  prompts = bucket(layout.prompts_per_step, shards)
  width = bucket(layout.max_prompt_len, continuous.MIN_PROMPT_BUCKET)
  kv_heads = m.num_kv_heads // sharding.shard_count("activation_kv_heads", mesh, m.num_kv_heads)
  per_token = 2 * m.num_layers * kv_heads * m.head_dim * np.dtype(m.dtype).itemsize + 2 * 4
  columns = slots * (width + layout.max_new_tokens) + prompts * width
  return columns // shards * per_token
