"""The shared loop never loses a run's work: a changed setup stops the resume and touches
nothing, two runs never share a work directory, non-finite steps are never saved, and data
that yields nothing is an error. One tiny trained work directory serves every test."""

import json
import os
import shutil
import socket
import subprocess

import jax
import jax.numpy as jnp
import pytest

from configs.sft import tiny
from launch import make_shards
from xcoder_jax.checkpoint import CheckpointMismatchError
from xcoder_jax.data import make_demo_shards, make_sft_iterator
from xcoder_jax.data import rl as rl_data
from xcoder_jax.data.sft import AllRecordsDroppedError
from xcoder_jax.fileio import read_jsonl
from xcoder_jax.train import lock, loop, sft
from xcoder_jax.train.checkpointing import NothingToResumeError


def _config(**data):
  c = tiny.get_config()
  c.train.steps = 3
  c.train.save_every = 1
  c.train.log_every = 1
  c.train.eval_every = 0
  c.train.async_checkpoint = False
  c.train.progress_bar = False
  c.data.seq_len = 128
  c.data.eval_files = ""
  c.data.update(data)
  return c


class _StopsAt(sft.SFTTrainer):
  """SFT whose data ends before loop step STOP (0-based); NAN_AT poisons the parameters
  with NaN before that step, for a real non-finite update."""

  STOP, NAN_AT = 99, 99

  def run_step(self, state, step, train_step):
    if step >= self.STOP:
      return None
    if step == self.NAN_AT:
      state = state._replace(params=jax.tree.map(lambda p: p * jnp.nan, state.params))
    return super().run_step(state, step, train_step)


class _TwoSteps(_StopsAt):
  STOP = 2


class _NanAtStep3(_StopsAt):
  NAN_AT = 2


class _NoData(_StopsAt):
  STOP = 0


def _train(workdir, trainer=sft.SFTTrainer, config=None):
  config = sft.resolve_data_files(config or _config(), str(workdir))
  return loop.run(config, str(workdir), trainer)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A packed run whose data ended after 2 steps: checkpoints at steps 1 and 2."""
  workdir = tmp_path_factory.mktemp("hardening") / "run"
  _train(workdir, _TwoSteps)
  return workdir


def _snapshot(workdir):
  return {
    os.path.relpath(os.path.join(root, name), workdir): os.stat(
      os.path.join(root, name)
    ).st_mtime_ns
    for root, _, files in os.walk(workdir)
    for name in files
  }


def _steps(workdir):
  return sorted(int(n) for n in os.listdir(workdir / "checkpoints") if n.isdigit())


def test_a_changed_data_pipeline_stops_the_resume_and_touches_nothing(trained):
  before = _snapshot(trained)
  with pytest.raises(CheckpointMismatchError, match=r"data\.packing: True -> False"):
    _train(trained, config=_config(packing=False))
  assert _snapshot(trained) == before  # no quarantine, no rewritten metrics, no lock left


def test_another_model_is_refused_before_its_config_is_written(trained):
  before = _snapshot(trained)
  config = _config()
  config.model.preset = "qwen2.5-coder-0.5b"
  with pytest.raises(CheckpointMismatchError, match="hidden_size: 256 there, 896 now"):
    _train(trained, config=config)
  assert _snapshot(trained) == before


def test_quarantined_checkpoints_are_never_silently_restarted(tmp_path):
  workdir = tmp_path / "run"
  (workdir / "corrupt_checkpoints" / "2-1700000000").mkdir(parents=True)
  with pytest.raises(NothingToResumeError, match="corrupt_checkpoints.*new --workdir"):
    _train(workdir)
  assert not (workdir / "metrics.jsonl").exists() and _steps(workdir) == []


def test_the_work_directory_lock_names_its_holder_and_detects_stale_ones(tmp_path):
  path = lock.acquire(str(tmp_path))
  with pytest.raises(lock.WorkdirLockedError, match=f"pid {os.getpid()} on host"):
    lock.acquire(str(tmp_path))
  lock.release(path)
  assert not os.path.exists(path)
  gone = subprocess.Popen(["true"])  # its pid is free once it has exited
  gone.wait()
  with open(path, "w") as f:  # a run killed on this host
    json.dump({"host": socket.gethostname(), "pid": gone.pid, "started": "earlier"}, f)
  assert lock.acquire(str(tmp_path)) == path  # stale: taken over
  assert json.loads(open(path).read())["pid"] == os.getpid()
  with open(path, "w") as f:  # on another host: cannot be checked, so it holds
    json.dump({"host": "elsewhere", "pid": 1, "started": "earlier"}, f)
  with pytest.raises(lock.WorkdirLockedError, match="host elsewhere"):
    lock.acquire(str(tmp_path))


def test_a_locked_work_directory_is_refused(trained):
  holder = {"host": socket.gethostname(), "pid": os.getpid(), "started": "now"}
  (trained / lock.LOCK_FILE).write_text(json.dumps(holder))
  try:
    with pytest.raises(lock.WorkdirLockedError, match="in use by another run"):
      _train(trained)
    assert json.loads((trained / lock.LOCK_FILE).read_text()) == holder
  finally:
    (trained / lock.LOCK_FILE).unlink()


def test_a_non_finite_step_stops_the_run_and_is_never_saved(trained, tmp_path):
  workdir = tmp_path / "run"
  shutil.copytree(trained, workdir)
  with open(workdir / "metrics.jsonl", "a") as f:
    f.write('{"step": 3, "lo')  # a torn last line (killed mid-write) must not block resume
  with pytest.raises(loop.NonFiniteError, match="step 3: loss = nan"):
    _train(workdir, _NanAtStep3)
  assert _steps(workdir) == [1, 2]  # the last finite checkpoint stays the newest
  assert [r["step"] for r in read_jsonl(str(workdir / "metrics.jsonl"), repair=False)] == [1, 2]


def test_data_without_a_single_batch_is_an_error_not_an_empty_run(tmp_path):
  workdir = tmp_path / "run"
  with pytest.raises(loop.NoDataError, match="no batch for step 1.*data.seq_len=128"):
    _train(workdir, _NoData)
  assert _steps(workdir) == []  # no checkpoint of the untrained model


def test_a_stream_that_drops_every_record_names_the_setting(tmp_path):
  make_demo_shards(str(tmp_path / "demo"), num_shards=1)
  config = _config(train_files=str(tmp_path / "demo"), seq_len=16, long_prompt="drop", num_epochs=0)
  with pytest.raises(AllRecordsDroppedError, match=r"data.long_prompt='drop'.*Raise data.seq_len"):
    next(make_sft_iterator(config.data, "train", 0, 1))  # endless: would spin forever


def test_rl_tasks_all_held_out_are_an_error_unless_training_on_them_is_asked(tmp_path):
  rows = [
    {"id": f"t{i}", "prompt": "p", "tests": [{"input": "", "output": ""}], "split": "heldout"}
    for i in range(3)
  ]
  (tmp_path / "rl.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
  make_shards.convert(str(tmp_path / "rl.jsonl"), str(tmp_path / "shards"), num_shards=1, kind="rl")
  with pytest.raises(ValueError, match="all 3 records are held out.*train_on_heldout=True"):
    next(rl_data.make_prompt_iterator(str(tmp_path / "shards"), 1, 0, 0, 0, 1))
  allowed = rl_data.make_prompt_iterator(
    str(tmp_path / "shards"), 1, 0, 0, 0, 1, allow_heldout=True
  )
  assert next(allowed)[0]["split"] == "heldout"
  evaluated = rl_data.make_prompt_iterator(str(tmp_path / "shards"), 3, 0, 1, 0, 1, role="eval")
  assert sorted(r["id"] for r in next(evaluated)) == ["t0", "t1", "t2"]
