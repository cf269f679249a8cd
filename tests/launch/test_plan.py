"""launch.plan: analytic memory and time against hand computations, XLA's own figure for the
tiny model, and the command line's JSON contract and exit status."""

import glob
import importlib
import json
import os
import subprocess
import sys

import jax
import pytest

from configs.rl import tiny as rl_tiny
from configs.sft import tiny
from xcoder_jax.planning import plan as plan_lib
from xcoder_jax.planning import setting as setting_lib
from xcoder_jax.planning import xla_check
from xcoder_jax.rl.layout import BatchLayout

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
F32 = 4
# Every runnable SFT and RL config the project ships (what launch.plan sizes).
SHIPPED = sorted(
  os.path.relpath(path, ROOT)
  for kind in ("sft", "rl")
  for path in glob.glob(os.path.join(ROOT, "configs", kind, "*.py"))
  if os.path.basename(path) not in ("base.py", "__init__.py")
)


def _tiny(**mesh):
  config = tiny.get_config()
  config.model.remat_policy = "full"
  config.mesh.update(mesh)
  return config


def _plan(config):
  setting = setting_lib.from_config(config, 8)
  return setting, plan_lib.make_plan(config, setting, "H100", 0.5)


@pytest.mark.parametrize("mesh", [dict(fsdp=8), dict(fsdp=4, tensor=2)])
def test_tiny_plan_matches_hand_computation(mesh):
  setting, plan = _plan(_tiny(**mesh))
  m = setting.model  # 4 layers, hidden 256, head_dim 64, 4096 tied embeddings, qk-norm
  # Norm weights are replicated; every other tensor shards 8 ways (fsdp x tensor).
  replicated = m.num_layers * (2 * m.hidden_size + 2 * m.head_dim) + m.hidden_size
  params = F32 * ((m.num_params() - replicated) // 8 + replicated)
  assert plan["params_bytes_per_device"] == params
  assert plan["optimizer_bytes_per_device"] == 2 * params + 2 * 4  # mu, nu; two int32 counts
  assert plan["gradient_bytes_per_device"] == params  # no accumulation buffer
  rows = 8 // mesh["fsdp"]  # the batch splits over data x fsdp only
  terms = plan["activation_terms"]
  assert terms["layer_inputs"] == m.num_layers * rows * 256 * m.hidden_size * F32
  assert terms["attention_mask"] == rows * 256 * 256
  vocab = m.vocab_size // mesh.get("tensor", 1)
  assert terms["loss_chunk"] == 2 * rows * 128 * vocab * F32  # logits and their cotangent
  assert plan["total_bytes_per_device"] == (
    params + plan["optimizer_bytes_per_device"] + params + plan["activation_bytes_per_device"]
  )
  flops = 3 * 8 * 256 * m.flops_per_token(256)  # forward + backward of 8 rows of 256
  assert plan["step_flops"] == pytest.approx(flops)
  assert plan["step_seconds"] == pytest.approx(flops / (8 * 989e12 * 0.5))
  assert plan["total_hours"] == pytest.approx(plan["step_seconds"] * 60 / 3600)
  assert plan["fits"] and not plan["warnings"]


def test_grpo_plan_counts_its_passes_and_the_in_process_kv_cache():
  config = rl_tiny.get_config()  # 8 tasks x 8 rollouts in 2 mini-batches, 48 + 16 tokens
  config.rl.kl_coef = 0.01
  setting, plan = _plan(config)
  m = setting.model
  assert (setting.rows, setting.seq_len, setting.updates_per_step) == (32, 64, 2)
  # 2 updates (forward + backward) and 2 x 2 forward-only passes (policy and reference)
  flops = (3 * 2 + 4) * 32 * 64 * m.flops_per_token(64)
  assert plan["step_flops"] == pytest.approx(flops)
  assert plan["reference_params_bytes_per_device"] == plan["params_bytes_per_device"]
  # keys and values of 4 layers x 2 KV heads x 64 dims (float32) + int32 segment / position
  # ids per column: 64 decode slots of 64 (prompt bucket) + 16 columns and the 8 prefilled
  # prompts of 64 columns, over 8 devices
  per_column = 2 * m.num_layers * 2 * 64 * F32 + 2 * 4
  assert plan["kv_cache_bytes_per_device"] == (64 * (64 + 16) + 8 * 64) // 8 * per_column
  phases = plan["phase_bytes_per_device"]
  assert set(phases) == {"train_step", "logprob_pass", "rollout"}
  assert plan["peak_bytes_per_device"] == max(phases.values())
  config.rollout.in_process.max_batch = 20  # at most 16 slots (a power of two), the rest queue
  _, capped = _plan(config)
  assert capped["kv_cache_bytes_per_device"] == (16 * (64 + 16) + 8 * 64) // 8 * per_column


@pytest.mark.parametrize("path", [p for p in SHIPPED if p.startswith("configs/rl/")])
def test_planner_and_trainer_read_every_batch_figure_from_one_layout(path):
  """The GRPO trainer shapes its step from `BatchLayout.from_config`; the planner must hold
  that very layout and derive nothing of its own, on every shipped RL config."""
  config = importlib.import_module(path[:-3].replace("/", ".")).get_config()
  layout = BatchLayout.from_config(config).check(1, config.train.loss_chunk)
  setting = setting_lib.from_config(config, setting_lib.default_devices(config))
  assert setting.layout == layout
  assert (setting.rows, setting.seq_len) == (layout.minibatch_rows, layout.seq_len)
  assert setting.micro_rows == layout.micro_rows == layout.minibatch_rows // config.train.grad_accum
  assert setting.updates_per_step == layout.updates_per_step
  assert layout.updates_per_step == config.rl.ppo_epochs * config.rl.num_minibatches
  assert setting.forward_passes == layout.forward_passes
  assert dict(setting.batch_fields) == layout.fields
  assert setting.rollout_in_process == (config.rollout.engine == "in_process")


def test_replicated_micro_batch_is_reported_and_paid_in_time():
  config = _tiny()
  config.train.grad_accum = 4  # 2 rows per micro-batch cannot split over 8 devices
  setting, plan = _plan(config)
  assert plan["micro_rows_per_device"] == 2
  assert "8x repeated" in plan["warnings"][0] and "grad_accum=1" in plan["warnings"][0]
  _, unsplit = _plan(_tiny())
  assert plan["step_seconds"] == pytest.approx(
    8 * unsplit["step_seconds"]
  )  # all 8 rows on every device
  assert plan["gradient_bytes_per_device"] == 2 * plan["params_bytes_per_device"]


def test_xla_memory_analysis_agrees_with_the_estimate():
  config = tiny.get_config()  # remat none, "xla" attention: activations dominate
  setting = setting_lib.from_config(config, 8)
  plan = plan_lib.make_plan(config, setting, "H100", 0.4)
  xla = xla_check.compile_passes(config, setting, jax.devices())
  checked = plan_lib.compare(plan, xla, setting)["train_step"]
  batch = 8 // 8 * 256 * (4 * 5)  # one row of five 4-byte fields per device
  state = plan["params_bytes_per_device"] + plan["optimizer_bytes_per_device"] + 4  # + step
  assert checked["argument"] == state + batch  # the sharded state and batch, exactly
  assert 0.8 < checked["ratio"] < 1.25  # measured 1.09


@pytest.mark.parametrize("path", SHIPPED)
def test_every_shipped_config_is_planned_and_fits(path):
  """As `python -m launch.plan --config=PATH` plans it: the config's devices and hardware."""
  config = importlib.import_module(path[:-3].replace("/", ".")).get_config()
  setting = setting_lib.from_config(config, setting_lib.default_devices(config))
  plan = plan_lib.make_plan(config, setting, setting_lib.DEFAULT_HARDWARE[setting.kind], 0.4)
  assert plan["fits"] and plan["total_hours"] > 0, plan["warnings"]


def test_the_llama_preset_is_among_the_shipped_configs():
  assert "configs/sft/llama31_8b.py" in SHIPPED
  config = importlib.import_module("configs.sft.llama31_8b").get_config()
  model = setting_lib.from_config(config, 128).model
  assert (model.family, model.rope_type, model.num_layers) == ("llama", "llama3", 32)


def _run(*args):
  return subprocess.run(
    [sys.executable, "-m", "launch.plan", *args],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=120,
  )


def test_command_line_ends_with_the_json_plan():
  result = _run("--config=configs/sft/qwen25_coder_7b.py")
  assert result.returncode == 0, result.stderr[-2000:]
  plan = json.loads(result.stdout.strip().splitlines()[-1])
  assert (plan["devices"], plan["hardware"], plan["mesh"]["fsdp"]) == (128, "H20", 128)
  parts = ("params", "optimizer", "gradient", "activation")
  assert plan["total_bytes_per_device"] == sum(plan[f"{p}_bytes_per_device"] for p in parts)
  assert 0 < plan["total_bytes_per_device"] < plan["hbm_bytes_per_device"]
  assert plan["step_seconds"] > 0 and plan["total_hours"] > 0
  assert "memory per device" in result.stdout


@pytest.mark.parametrize(
  "args, message",
  [
    (["--config=configs/sft/missing.py"], "missing.py"),
    (["--config=configs/sft/tiny.py", "--devices=8", "--mesh_tensor=3"], "cannot be split"),
  ],
)
def test_bad_input_exits_2_with_one_line(args, message):
  result = _run(*args)
  assert result.returncode == 2
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and message in lines[0], result.stderr
