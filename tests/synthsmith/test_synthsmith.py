"""SynthSmith end to end on the bundled demo: shards the SFT reader accepts, a funnel report,
resume after SIGKILL, and record -> replay giving byte-identical shards."""

import collections
import glob
import json
import os
import subprocess

import pytest
from array_record.python.array_record_module import ArrayRecordReader

from configs.data import data_config
from configs.synthsmith import demo
from data_pipeline import pipeline
from data_pipeline import teacher as teacher_lib
from xcoder_jax import data
from xcoder_jax.data import schema

import synthsmith_runs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def shard_bytes(run_dir):
  files = sorted(
    glob.glob(os.path.join(run_dir, "sft", "*.array_record"))
    + glob.glob(os.path.join(run_dir, "rl", "*.array_record"))
  )
  assert files
  return {os.path.relpath(f, run_dir): open(f, "rb").read() for f in files}


def read_records(directory):
  records = []
  for path in sorted(glob.glob(os.path.join(directory, "*.array_record"))):
    reader = ArrayRecordReader(path)
    records += [json.loads(r) for r in reader.read_all()]
    reader.close()
  return records


def test_demo_outputs_load_as_sft_and_rl(demo_run):
  out, report = demo_run
  stages = [row["stage"] for row in report["funnel"]]
  assert stages[:3] == ["seeds", "feature_extraction", "feature_tree"]
  assert {"solutions", "test_inputs", "verification", "dedup_decontam"} <= set(stages)
  rows = {row["stage"]: row for row in report["funnel"]}
  assert rows["dedup_decontam"]["drops"] == {"contaminated": 1, "near_duplicate": 1}
  assert rows["solutions"]["drops"]  # malformed candidates are counted, not fatal
  assert rows["feature_extraction"]["drops"] == {"no_json": 1}
  assert report["outputs"]["sft_records"] >= 6
  assert json.load(open(os.path.join(out, "report.json")))["funnel"] == report["funnel"]
  assert open(os.path.join(out, "funnel.png"), "rb").read(8) == b"\x89PNG\r\n\x1a\n"

  sft = read_records(os.path.join(out, "sft"))
  assert len(sft) == report["outputs"]["sft_records"]
  for i, record in enumerate(sft):
    schema.validate_record(record, f"sft #{i}")
  config = data_config()
  config.train_files = os.path.join(out, "sft")
  config.seq_len, config.global_batch_size, config.long_prompt = 2048, 2, "drop"
  batch = next(iter(data.make_sft_iterator(config, "train", 0, 1)))
  assert batch["loss_mask"].sum() > 0

  rl = read_records(os.path.join(out, "rl"))
  # One SFT record per task and language with a golden (C++ and Go for three demo tasks)
  assert {r["id"] for r in rl} == {r["id"].split(":")[0] for r in sft}
  languages = collections.Counter(r["metadata"]["language"] for r in sft)
  assert languages["cpp"] >= 1 and languages["go"] >= 1, languages
  for record in sft:
    language = record["metadata"]["language"]
    assert record["id"].endswith(f":{language}") == (language != "python")
    assert f"```{language}" in record["query"] and f"```{language}" in record["response"]
  for record in rl:
    assert len(record["tests"]) >= 3 and record["golden_solution"]
    assert record["kind"] in ("stdio", "leetcode") and record["style"]
  sample = open(os.path.join(out, "sft_sample.jsonl")).readlines()
  assert len(sample) == min(len(sft), demo.get_config().output.sample_size)  # the first records
  # Every record carries its task's side of the split; each side has its own directory.
  heldout = read_records(os.path.join(out, "heldout", "rl"))
  assert {r["split"] for r in sft + rl} == {"train"} and {r["split"] for r in heldout} == {
    "heldout"
  }
  assert len(heldout) == report["outputs"]["heldout_records"] >= 10
  assert not {r["id"] for r in heldout} & {r["id"] for r in rl}
  splits = json.load(open(os.path.join(out, "work", "splits.json")))["tasks"]
  assert all(splits[r["id"]]["split"] == r["split"] for r in rl + heldout)


def test_rerun_resumes_without_teacher_calls(demo_run):
  out, _ = demo_run
  before = shard_bytes(out)
  report = pipeline.run(demo.get_config(), out)
  assert report["teacher_usage"] == {}  # every item stage was already complete
  assert shard_bytes(out) == before


@pytest.mark.slow
def test_kill_during_solutions_then_resume_matches(demo_run, tmp_path):
  reference, _ = demo_run
  out = str(tmp_path / "killed")
  synthsmith_runs.kill_during_solutions(out, after=2, deadline_s=60)
  assert not os.path.exists(os.path.join(out, "work", "solutions.done"))
  assert not os.path.exists(os.path.join(out, "report.json"))
  subprocess.run(
    synthsmith_runs.command(out),
    cwd=REPO,
    check=True,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
  )
  keys = synthsmith_runs.stored_keys(out)
  assert len(keys) == len(set(keys))  # nothing redone or duplicated
  assert shard_bytes(out) == shard_bytes(reference)


@pytest.mark.slow
def test_recorded_run_replays_byte_identical(tmp_path):
  config = demo.get_config()
  config.teacher.backend = "scripted_demo_author"
  config.teacher.concurrency = 1
  config.teacher.record_to = str(tmp_path / "recording.jsonl")
  config.validate_on_seeds = False
  config.configs.num_configs = 12  # a quarter of the demo: the property holds at any size
  recorded = pipeline.run(config, str(tmp_path / "recorded"))
  replay = demo.get_config()
  replay.teacher.replay_file = config.teacher.record_to
  replay.validate_on_seeds = False
  replay.configs.num_configs = 12
  replayed = pipeline.run(replay, str(tmp_path / "replayed"))
  assert recorded["funnel"] == replayed["funnel"]
  assert shard_bytes(str(tmp_path / "recorded")) == shard_bytes(str(tmp_path / "replayed"))


def test_hosts_split_the_seeds(tmp_path):
  config = demo.get_config()
  config.validate_on_seeds = False
  config.configs.num_configs = 12  # the split is of the seeds: a few tasks per host suffice
  counts = [pipeline.run(config, str(tmp_path), i, 2)["funnel"][0]["out"] for i in range(2)]
  assert sum(counts) == 6 and all(counts)
  assert os.path.exists(tmp_path / "host00001of00002" / "report.json")


@pytest.mark.slow
def test_teacher_outage_stops_the_run_and_a_rerun_finishes_it(demo_run, tmp_path):
  """An outage mid-stage leaves its items unstored and the stage unfinished; later stages do
  not run on the partial output, and the rerun retries them and matches a clean run."""
  reference, _ = demo_run
  down = {"task_statement": 3}

  @teacher_lib.TEACHERS.register("flaky_replay")
  class FlakyReplay(teacher_lib.ReplayTeacher):
    def _complete(self, stage, messages, sampling):
      if down.get(stage):
        down[stage] -= 1
        raise teacher_lib.TeacherError("503 from the server", retriable=True)
      return super()._complete(stage, messages, sampling)

  config = demo.get_config()
  config.teacher.backend, config.teacher.concurrency = "flaky_replay", 1
  out = str(tmp_path / "flaky")
  report = pipeline.run(config, out)
  assert report["unfinished"] == {
    "stage": "task_generation",
    "retriable": 3,
    "action": "rerun with the same --output to retry them",
  }
  assert report["funnel"][-1]["retriable"] == 3 and report["outputs"] is None
  assert not os.path.exists(os.path.join(out, "work", "task_generation.done"))
  assert not os.path.exists(os.path.join(out, "work", "solutions.jsonl"))
  report = pipeline.run(config, out)
  assert "unfinished" not in report and report["teacher_usage"]["task_statement"]["requests"] == 3
  assert shard_bytes(out) == shard_bytes(reference)
