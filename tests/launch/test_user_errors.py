"""Every launcher answers a user's mistake with one line on stderr naming the problem and its
fix, exit status 2 and no traceback (issue 12, item 14); --debug shows the traceback, and a
genuine bug keeps it. Driven through the real command line, in this process (`cli`), plus one
true subprocess run."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from launch import common

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SFT = "--config=configs/sft/tiny.py"
RL = "--config=configs/rl/tiny.py"


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
  """Broken inputs: config file, shard directories, HF directories."""
  root = tmp_path_factory.mktemp("bad")
  (root / "broken.py").write_text("def get_config(:\n")
  (root / "empty_shards").mkdir()
  (root / "corrupt_shards").mkdir()
  (root / "corrupt_shards" / "sft-00000-of-00001.array_record").write_bytes(b"not a shard")
  (root / "hf_truncated").mkdir()
  (root / "hf_truncated" / "config.json").write_text(
    json.dumps(
      {
        "architectures": ["Qwen3ForCausalLM"],
        "vocab_size": 256,
        "hidden_size": 64,
        "intermediate_size": 160,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "rope_theta": 1e6,
      }
    )
  )
  (root / "hf_truncated" / "model.safetensors").write_bytes(b"\x10\x00\x00")
  (root / "hf_bad_json").mkdir()
  (root / "hf_bad_json" / "config.json").write_text('{"architectures": [')
  (root / "hf_mistral").mkdir()
  (root / "hf_mistral" / "config.json").write_text('{"model_type": "mistral", "vocab_size": 256}')
  _split_inputs(root)
  return root


def _split_inputs(root):
  """SynthSmith-made data on one side of the split: held-out SFT records only, training RL
  tasks only, and an output written before the split existed."""
  from xcoder_jax.data import shards

  sft = [
    {"id": f"h{i}", "query": f"Print {i}.", "response": f"```python\nprint({i})\n```"}
    for i in range(3)
  ]
  heldout = [{**r, "split": "heldout", "metadata": {"source": "synthsmith"}} for r in sft]
  shards.write_shards(heldout, str(root / "heldout_sft"), extra_manifest={"split": "heldout"})
  (root / "heldout_sft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in heldout))
  task = {"prompt": "Add.", "kind": "stdio", "tests": [{"input": "1 2", "output": "3"}]}
  task.update(difficulty=0.5, num_candidates=3, source="synthsmith")
  rl = [{**task, "id": "t0", "split": "train"}]
  shards.write_shards(rl, str(root / "train_only" / "rl"), prefix="rl", sft_schema=False)
  old = [{k: v for k, v in rl[0].items() if k not in ("split", "source")}]
  shards.write_shards(old, str(root / "presplit" / "rl"), prefix="rl", sft_schema=False)


CASES = {
  "train stray argument": (
    "train",
    [SFT, "--workdir={tmp}/w", "steps=3"],
    ["unexpected arguments ['steps=3']", "--name=value"],
  ),
  "train unknown config key": (
    "train",
    [SFT, "--workdir={tmp}/w", "--config.data.nosuch=1"],
    ["unknown config key 'nosuch'", "configs/sft/tiny.py"],
  ),
  "train missing config file": (
    "train",
    ["--config={tmp}/missing.py", "--workdir={tmp}/w"],
    ["missing.py", "No such file"],
  ),
  "train broken config file": (
    "train",
    ["--config={bad}/broken.py", "--workdir={tmp}/w"],
    ["broken.py", "SyntaxError"],
  ),
  "train missing required flag": ("train", [SFT], ["--workdir", "--help"]),
  "train negative batch": (
    "train",
    [SFT, "--workdir={tmp}/w", "--config.data.global_batch_size=-8"],
    ["data.global_batch_size=-8 must be positive"],
  ),
  "train indivisible batch": (
    "train",
    [SFT, "--workdir={tmp}/w", "--config.data.global_batch_size=7"],
    ["7 rows", "8 devices", "multiple of 8"],
  ),
  "train empty shard directory": (
    "train",
    [SFT, "--workdir={tmp}/w", "--config.data.train_files={bad}/empty_shards"],
    ["empty_shards", "holds no files"],
  ),
  "train corrupt shard": (
    "train",
    [
      SFT,
      "--workdir={tmp}/w",
      "--config.data.train_files={bad}/corrupt_shards",
      "--config.data.eval_files=",
    ],
    ["sft-00000-of-00001.array_record", "launch.make_shards"],
  ),
  "train missing checkpoint": (
    "train",
    [
      SFT,
      "--workdir={tmp}/w",
      "--config.init.source=checkpoint",
      "--config.init.path={tmp}/no_ckpt",
    ],
    ["no model_config.json", "no_ckpt"],
  ),
  "rl unknown config key": (
    "rl",
    ["--config=configs/rl/tiny.py", "--workdir={tmp}/w", "--config.rl.nosuch=1"],
    ["unknown config key 'nosuch'"],
  ),
  "rl negative batch": (
    "rl",
    ["--config=configs/rl/tiny.py", "--workdir={tmp}/w", "--config.rl.prompts_per_step=-2"],
    ["rl.prompts_per_step=-2 must be positive"],
  ),
  "rl missing task shards": (
    "rl",
    [RL, "--workdir={tmp}/w", "--config.data.train_files=/no/such/shards"],
    ["shard file '/no/such/shards'"],
  ),
  "rl unknown advantage estimator": (
    "rl",
    [RL, "--workdir={tmp}/w", "--config.rl.advantage=no_such"],
    ["rl.advantage: unknown advantage estimator 'no_such'", "grpo"],
  ),
  "rl engine without weight updates": (
    "rl",
    [RL, "--workdir={tmp}/w", "--config.rollout.engine=openai"],
    ["rollout.engine='openai' cannot serve GRPO", "engines that can: in_process, sglang"],
  ),
  "rl sglang engine without servers": (
    "rl",
    [RL, "--workdir={tmp}/w", "--config.rollout.engine=sglang"],
    ["--config.rollout.sglang.server_url=", "--config.rollout.sglang.sync_dir="],
  ),
  "rl unknown judge backend": (
    "rl",
    [RL, "--workdir={tmp}/w", "--config.judge.backend=cluster"],
    ["judge.backend='cluster'", "local, remote", "judge.urls="],
  ),
  "train missing shard files": (
    "train",
    [SFT, "--workdir={tmp}/w", "--config.data.train_files=/nonexistent/shard-*.array_record"],
    ["/nonexistent"],
  ),
  "dpo unknown config key": (
    "dpo",
    ["--config=configs/dpo/tiny.py", "--workdir={tmp}/w", "--config.dpo.nosuch=1"],
    ["'nosuch'"],
  ),
  "dpo missing pairs file": (
    "dpo",
    [
      "--config=configs/dpo/tiny.py",
      "--workdir={tmp}/w",
      "--config.data.train_files={tmp}/missing.jsonl",
    ],
    ["missing.jsonl"],
  ),
  "plan unknown config key": ("plan", [SFT, "--config.train.nosuch=1"], ["'nosuch'"]),
  "synthsmith unknown config key": (
    "synthsmith",
    ["--config=configs/synthsmith/demo.py", "--output={tmp}/s", "--config.nosuch=1"],
    ["unknown config key 'nosuch'"],
  ),
  "synthsmith unknown solution language": (
    "synthsmith",
    [
      "--config=configs/synthsmith/demo.py",
      "--output={tmp}/s",
      "--config.solutions.languages=python,cobol",
    ],
    ["unknown language 'cobol'; supported: python, cpp, java"],
  ),
  "synthsmith ray runner with host shards": (
    "synthsmith",
    ["--config=configs/synthsmith/demo.py", "--output={tmp}/s", "--runner=ray", "--num_shards=2"],
    ["--runner=ray hands items to the cluster's nodes itself", "drop --num_shards"],
  ),
  "synthsmith ray address where nothing listens": (
    "synthsmith",
    [
      "--config=configs/synthsmith/demo.py",
      "--output={tmp}/s",
      "--runner=ray",
      "--ray_address=127.0.0.1:1",
    ],
    ["no Ray cluster answers at 127.0.0.1:1", "ray start --head"],
  ),
  "synthsmith ray address without a port": (
    "synthsmith",
    [
      "--config=configs/synthsmith/demo.py",
      "--output={tmp}/s",
      "--runner=ray",
      "--ray_address=headnode",
    ],
    ["give HOST:PORT"],
  ),
  "make_shards missing input": (
    "make_shards",
    ["--input={tmp}/none.jsonl", "--output={tmp}/shards"],
    ["none.jsonl"],
  ),
  "make_shards bad flag value": (
    "make_shards",
    ["--input=demo", "--output={tmp}/shards", "--num_shards=0"],
    ["--num_shards"],
  ),
  "import_hf unreadable safetensors": (
    "import_hf",
    ["--hf_dir={bad}/hf_truncated", "--output={tmp}/ckpt"],
    ["hf_truncated/model.safetensors"],
  ),
  "import_hf broken config.json": (
    "import_hf",
    ["--hf_dir={bad}/hf_bad_json", "--output={tmp}/ckpt"],
    ["hf_bad_json/config.json", "not valid JSON"],
  ),
  "import_hf unknown model_type": (
    "import_hf",
    ["--hf_dir={bad}/hf_mistral", "--output={tmp}/ckpt"],
    ["unsupported architecture 'mistral'", "qwen2 (Qwen2ForCausalLM", "llama (LlamaForCausalLM"],
  ),
  "import_hf missing directory": (
    "import_hf",
    ["--hf_dir={tmp}/no_hf", "--output={tmp}/ckpt"],
    ["no_hf/config.json"],
  ),
  "export_hf missing checkpoint": (
    "export_hf",
    ["--checkpoint={tmp}/none", "--output={tmp}/out"],
    ["no model_config.json in", "none"],
  ),
  "serve unreadable model": ("serve", ["--model={bad}/hf_bad_json"], ["hf_bad_json"]),
  "evaluate unknown benchmark": (
    "evaluate",
    ["--benchmark=nope", "--samples={tmp}/s.jsonl", "--output={tmp}/o.json"],
    ["nope", "livecodebench"],
  ),
  "evaluate judge service not answering": (
    "evaluate",
    ["--benchmark=humaneval", "--samples={tmp}/s.jsonl", "--output={tmp}/o.json"]
    + ["--judge_urls=http://127.0.0.1:9"],
    ["no judge service answers at http://127.0.0.1:9", "launch.judge_serve"],
  ),
  "train every record held out": (
    "train",
    [SFT, "--workdir={tmp}/w", "--config.data.train_files={bad}/heldout_sft"],
    ["the records are held out", "data.train_on_heldout=True"],
  ),
  "evaluate synthsmith without held-out tasks": (
    "evaluate",
    ["--benchmark=synthsmith", "--data={bad}/train_only/rl", "--samples=s", "--output={tmp}/o"],
    ["holds no held-out tasks", "heldout_fraction"],
  ),
  "evaluate synthsmith output older than the split": (
    "evaluate",
    ["--benchmark=synthsmith", "--data={bad}/presplit", "--samples=s", "--output={tmp}/o"],
    ["no held-out split", "rerun python -m launch.synthsmith"],
  ),
  "make_shards every record held out": (
    "make_shards",
    ["--input={bad}/heldout_sft.jsonl", "--output={tmp}/shards"],
    ["every record read was removed", "--keep_heldout"],
  ),
  "check_split without a held-out side": (
    "check_split",
    ["--train={bad}/heldout_sft"],
    ["--heldout=SYNTHSMITH_DIR"],
  ),
  "check_split output older than the split": (
    "check_split",
    ["--heldout={bad}/presplit", "--train={bad}/heldout_sft"],
    ["no train/held-out split", "rerun python -m launch.synthsmith"],
  ),
  "demo_assets nothing asked": ("demo_assets", [], ["--recording, --dpo_pairs or both"]),
  "quickstart unknown phase": (
    "quickstart",
    ["--run_dir={tmp}/q", "--phases=sft,nope"],
    ["nope", "--phases"],
  ),
}


@pytest.mark.parametrize("case", CASES)
def test_user_error_is_one_line_with_exit_status_2(cli, bad, tmp_path, case):
  launcher, args, expected = CASES[case]
  result = cli(launcher, *(a.format(tmp=tmp_path, bad=bad) for a in args))
  result.assert_user_error(*expected)
  assert not os.path.exists(tmp_path / "w" / "checkpoints")


def test_a_record_longer_than_seq_len_is_named_with_the_fix(cli, tmp_path):
  """Found while packing, after the run started: still one line and exit 2."""
  args = [f"--workdir={tmp_path}/w", "--config.data.seq_len=8", "--config.train.progress_bar=False"]
  result = cli("train", SFT, *args)
  result.assert_user_error("but seq_len is 8", "raise data.seq_len above")


def test_debug_shows_the_traceback(cli, tmp_path):
  with pytest.raises(common.UserError, match="global_batch_size=-8"):
    cli("train", SFT, f"--workdir={tmp_path}", "--config.data.global_batch_size=-8", "--debug")


def _reshape_bug(argv):
  np.zeros(3).reshape(2, 2)  # numpy's ValueError: a bug, not a user's mistake


def _validation(argv):
  from configs.sft import base

  config = base.get_config()
  config.stepz = 1
  base.validate(config)  # a ValueError this project raises on purpose: a user's mistake


def test_only_mistakes_lose_their_traceback(capsys):
  with pytest.raises(ValueError, match="reshape"):
    common.guarded("x", _reshape_bug)([])
  with pytest.raises(SystemExit) as exit_info:
    common.guarded("x", _validation)([])
  assert exit_info.value.code == 2
  assert capsys.readouterr().err.startswith("x: error: unknown config keys ['stepz']")


def test_the_real_command_line(tmp_path):
  """The same contract from `python -m`: flags of ml_collections parsed before main runs."""
  result = subprocess.run(
    [sys.executable, "-m", "launch.train", SFT, f"--workdir={tmp_path}", "--config.train.stepz=3"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr[-2000:]
  assert "unknown config key 'stepz' (did you mean 'steps'?)" in result.stderr
