"""The decoder itself: sharded execution, packing, KV-cache decoding, kernels and options."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xcoder_jax import sharding
from xcoder_jax.models import KVCache, ModelConfig, get_preset
from xcoder_jax.models.build import create_model

CONFIG = get_preset("tiny", vocab_size=512, num_layers=2)
QWEN2 = CONFIG.replace(family="qwen2", tie_embeddings=False)


def _tokens(batch=8, length=24, seed=0, vocab=512):
  return np.random.RandomState(seed).randint(0, vocab, (batch, length)).astype(np.int32)


@pytest.mark.parametrize(
  "ici",
  [
    {"fsdp": 4, "tensor": 2},
    {"data": 2, "fsdp": 2, "tensor": 2},
    {"fsdp": 2, "sequence": 2, "tensor": 2},
  ],
)
def test_sharded_forward_matches_single_device(ici):
  single = create_model(CONFIG, seed=1)
  mesh = sharding.make_mesh(sharding.MeshConfig(ici=ici))
  sharded = create_model(CONFIG, mesh, seed=1)
  tokens = _tokens()
  with sharding.use_mesh(mesh):
    out = jax.jit(lambda m, t: m(t))(sharded, tokens)
  np.testing.assert_allclose(np.asarray(out), np.asarray(single(tokens)), atol=2e-5)
  # Parameters are really distributed: each device holds a fraction of the big matrices
  # (over fsdp, and over sequence too when context parallelism splits it).
  embed = ("fsdp", "sequence") if mesh.shape["sequence"] > 1 else "fsdp"
  for param, spec in [
    (sharded.layers.gate_proj, (None, embed, "tensor")),
    (sharded.embed, ("tensor", embed)),
  ]:
    array = param[...]
    assert array.sharding.spec == sharding.PartitionSpec(*spec)
    shard = array.addressable_shards[0].data
    assert shard.size * mesh.shape["fsdp"] * mesh.shape["sequence"] * mesh.shape["tensor"] == (
      array.size
    )
    assert len({s.device for s in array.addressable_shards}) == 8


def test_params_are_created_sharded_without_a_full_copy():
  mesh = sharding.make_mesh(sharding.MeshConfig(ici={"fsdp": 8}))
  model = create_model(CONFIG, mesh)
  for _, leaf in jax.tree_util.tree_leaves_with_path(nnx.state(model)):
    assert leaf.sharding.mesh.devices.size == 8
  per_device = sum(
    s.data.nbytes
    for leaf in jax.tree.leaves(nnx.state(model))
    for s in leaf.addressable_shards
    if s.device == jax.devices()[0]
  )
  total = sum(leaf.nbytes for leaf in jax.tree.leaves(nnx.state(model)))
  assert per_device < total / 4


@pytest.mark.parametrize("config", [CONFIG, QWEN2], ids=["qwen3", "qwen2"])
def test_packed_sequences_equal_separate_runs(config):
  model = create_model(config, seed=2)
  a, b = _tokens(1, 10, seed=3)[0], _tokens(1, 7, seed=4)[0]
  packed = np.concatenate([a, b, np.zeros(3, np.int32)])[None]
  segments = np.array([[1] * 10 + [2] * 7 + [0] * 3])
  positions = np.array([list(range(10)) + list(range(7)) + [0] * 3])
  out = np.asarray(model(packed, positions, segments))[0]
  np.testing.assert_allclose(out[:10], np.asarray(model(a[None]))[0], atol=1e-5)
  np.testing.assert_allclose(out[10:17], np.asarray(model(b[None]))[0], atol=1e-5)


@pytest.mark.parametrize("scan", [True, False])
def test_kv_cache_decoding_matches_full_forward(scan):
  config = QWEN2.replace(scan_layers=scan)
  model = create_model(config, seed=5)
  tokens = _tokens(2, 12, seed=6)
  full = np.asarray(model(tokens))
  cache = KVCache.create(config, batch=2, length=16)
  decode = jax.jit(lambda m, t, p, c: m.decode(t, p, c))
  positions = np.broadcast_to(np.arange(12, dtype=np.int32), (2, 12))
  logits, cache = decode(model, tokens[:, :5], positions[:, :5], cache)
  steps = [np.asarray(logits)]
  for i in range(5, 12):
    logits, cache = decode(model, tokens[:, i : i + 1], positions[:, i : i + 1], cache)
    steps.append(np.asarray(logits))
  np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=2e-5)
  assert int(cache.index) == 12


def test_kv_cache_with_left_padded_prompts():
  model = create_model(CONFIG, seed=7)
  short = _tokens(1, 4, seed=8)[0]
  padded = np.concatenate([np.zeros(3, np.int32), short])[None]
  segments = np.array([[0, 0, 0, 1, 1, 1, 1]])
  positions = np.array([[0, 0, 0, 0, 1, 2, 3]])
  cache = KVCache.create(CONFIG, batch=1, length=8)
  logits, cache = model.decode(padded, positions, cache, segments)
  np.testing.assert_allclose(
    np.asarray(logits)[0, 3:], np.asarray(model(short[None]))[0], atol=1e-5
  )


def test_dot_product_kernel_matches_xla():
  tokens = _tokens(2, 16)
  segments = np.ones_like(tokens)
  segments[:, 10:] = 2
  ref = create_model(CONFIG, seed=9)
  fused = create_model(CONFIG.replace(attention_impl="dot_product"), seed=9)
  np.testing.assert_allclose(
    np.asarray(fused(tokens, segment_ids=segments)),
    np.asarray(ref(tokens, segment_ids=segments)),
    atol=1e-5,
  )


def test_chunked_attention_matches_and_needs_less_memory():
  from xcoder_jax.models.attention import Segments, attend

  tokens = _tokens(2, 32)
  segments = np.ones_like(tokens)
  segments[:, 20:] = 2
  ref = create_model(CONFIG, seed=9)
  chunked = create_model(CONFIG.replace(attention_impl="chunked", attention_chunk=8), seed=9)
  np.testing.assert_allclose(
    np.asarray(chunked(tokens, segment_ids=segments)),
    np.asarray(ref(tokens, segment_ids=segments)),
    atol=1e-5,
  )
  q = jax.random.normal(jax.random.key(0), (1, 1024, 4, 32))
  k = jax.random.normal(jax.random.key(1), (1, 1024, 2, 32))
  ids, pos = jnp.ones((1, 1024), jnp.int32), jnp.arange(1024)[None]
  segments = Segments(ids, ids, pos, pos)
  config = CONFIG.replace(attention_chunk=128)
  grads, temp = {}, {}
  for impl in ("xla", "chunked"):
    fn = jax.jit(
      jax.grad(
        lambda q, k, c=config.replace(attention_impl=impl): jnp.sum(
          attend(q, k, k, segments, c) ** 2
        ),
        (0, 1),
      )
    )
    temp[impl] = fn.lower(q, k).compile().memory_analysis().temp_size_in_bytes
    grads[impl] = fn(q, k)
  for a, b in zip(grads["xla"], grads["chunked"]):
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-5)
  assert temp["chunked"] * 3 < temp["xla"], temp


def test_cudnn_kernel_off_gpu_says_so():
  model = create_model(CONFIG.replace(attention_impl="cudnn"))
  with pytest.raises(ValueError, match="needs an NVIDIA GPU"):
    model(_tokens(1, 4))


@pytest.mark.slow
def test_scan_remat_and_loop_agree_in_value_and_gradient():
  tokens = _tokens(2, 16)

  def loss_and_grad(config):
    model = create_model(config, seed=10)
    graphdef, params = nnx.split(model)
    loss = lambda p: jnp.mean(nnx.merge(graphdef, p)(tokens) ** 2)
    return jax.value_and_grad(loss)(params)

  ref_loss, ref_grad = loss_and_grad(CONFIG)
  for options in [
    dict(scan_layers=False),
    dict(remat_policy="full"),
    dict(remat_policy="dots", scan_layers=False),
  ]:
    loss, grad = loss_and_grad(CONFIG.replace(**options))
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(grad), jax.tree.leaves(ref_grad)):
      np.testing.assert_allclose(a, b, atol=1e-6)


def test_bfloat16_compute_stays_close_to_float32():
  tokens = _tokens(2, 16)
  fp32 = np.asarray(create_model(CONFIG, seed=11)(tokens))
  bf16 = create_model(CONFIG.replace(dtype="bfloat16"), seed=11)
  out = bf16(tokens)
  assert out.dtype == jnp.float32 and bf16.layers.q_proj[...].dtype == jnp.float32
  assert np.abs(np.asarray(out) - fp32).max() < 0.05 * np.abs(fp32).max()


def test_param_count_matches_parameters():
  for config in [CONFIG, QWEN2]:
    model = create_model(config)
    assert sum(x.size for x in jax.tree.leaves(nnx.state(model))) == config.num_params()


def test_presets_have_published_shapes():
  assert abs(get_preset("qwen2.5-coder-7b").num_params() / 1e9 - 7.62) < 0.05
  assert abs(get_preset("qwen3-8b").num_params() / 1e9 - 8.19) < 0.05
  assert abs(get_preset("qwen2.5-coder-0.5b").num_params() / 1e9 - 0.494) < 0.01
  assert abs(get_preset("qwen3-0.6b").num_params() / 1e9 - 0.596) < 0.01
  assert abs(get_preset("llama3.1-8b").num_params() / 1e9 - 8.03) < 0.01


@pytest.mark.parametrize(
  "changes,message",
  [
    (dict(num_kv_heads=3), "multiple of num_kv_heads"),
    (dict(head_dim=33), "even"),
    (dict(remat_policy="sometimes"), "remat_policy"),
    (dict(family="mistral"), "unknown family 'mistral'; supported: qwen2 .*llama"),
    (dict(rope_type="longrope"), "rope_type='longrope'"),
    (dict(rope_type="llama3", rope_factor=8.0), "needs rope_original_max_position"),
  ],
)
def test_invalid_configs_name_the_problem(changes, message):
  with pytest.raises(ValueError, match=message):
    CONFIG.replace(**changes)


def test_config_json_round_trip_and_unknown_keys():
  assert ModelConfig.from_json(CONFIG.to_json()) == CONFIG
  # model_config.json of a checkpoint written before families and rope_type
  old = {k: v for k, v in json.loads(QWEN2.to_json()).items() if not k.startswith(("rope_", "fam"))}
  old.update(rope_theta=QWEN2.rope_theta, qkv_bias=True, qk_norm=False, yarn_factor=4.0)
  old["yarn_original_max_position"] = 32768
  yarn = dict(rope_type="yarn", rope_factor=4.0, rope_original_max_position=32768)
  assert ModelConfig.from_json(json.dumps(old)) == QWEN2.replace(**yarn)
  with pytest.raises(ValueError, match="unknown model config keys"):
    ModelConfig.from_json('{"hidden": 3}')
