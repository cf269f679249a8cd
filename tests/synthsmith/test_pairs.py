"""DPO pairs from dual verification: pure construction on a hand-built verification result,
per-candidate outcomes from judge verdicts, the demo run's dpo shards (and the demo asset),
and --pairs_only over an existing output directory without the teacher or a new vote."""

import json
import os
import shutil
import subprocess
import sys

import grain
import ml_collections
import pytest

from data_pipeline import pairs, verify
from data_pipeline.demo import dpo_pairs as demo_pairs
from data_pipeline.records import Candidate, Task
from data_pipeline.solutions import solution_messages
from xcoder_jax.data import shards
from xcoder_jax.judge.types import Outcome, SubmissionResult, Verdict

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OK, WA, RE, TLE, NO_CODE = "accepted", "wrong_answer", "runtime_error", "time_limit", "no_code"
TASK = Task("task-x", "cfg-x", "codeforces", "stdio", None, "Sum", "Add two numbers.", {}, {})
# candidate index -> results on the 4 verified tests
RESULTS = {
  0: [OK, OK, OK, OK],  # the golden
  1: [OK, OK, OK, OK],
  2: [OK, WA, WA, RE],  # 0.25, mostly wrong answers
  3: [RE, TLE, OK, OK],  # 0.5, a 1-1 tie: the first failure decides
  4: [NO_CODE] * 4,  # 0.0
  5: [OK, "judge_error", OK, OK],  # the judge's fault: neither chosen nor rejected
}
REASON = {2: WA, 3: RE, 4: NO_CODE}


def verified_task(results=RESULTS):
  return {
    "task": TASK.to_json(),
    "tests": [
      {"input": f"{i} 1", "output": str(i + 1), "votes": 3, "held_out": False} for i in range(4)
    ],
    "golden": {"task_id": TASK.id, "index": 0, "response": "r0", "code": "c0"},
    "num_candidates": len(results),
    "difficulty": 0.25,
    "candidates": [verify.candidate_outcome(i, r) for i, r in results.items()],
  }


RESPONSES = {i: f"answer {i}" for i in RESULTS}


def options(**overrides):
  base = {"enabled": True, "max_per_task": 100, "min_gap": 0.0, "seed": 0}
  return ml_collections.ConfigDict({**base, **overrides})


def test_chosen_passes_every_verified_test_and_rejected_never_does():
  records, drops = pairs.build_pairs(verified_task(), RESPONSES, options(), "train")
  assert len(records) == 2 * 3 and drops == {"candidate:judge_error": 1}
  prompt = solution_messages(TASK)[0]["content"]
  for record in records:
    meta = record["metadata"]
    good, bad = meta["chosen_index"], meta["rejected_index"]
    assert all(r == OK for r in RESULTS[good]) and any(r != OK for r in RESULTS[bad])
    assert record["id"] == f"task-x/{good}>{bad}" and record["task_id"] == "task-x"
    assert record["prompt"] == prompt
    assert (record["chosen"], record["rejected"]) == (RESPONSES[good], RESPONSES[bad])
    assert record["chosen_pass_fraction"] == 1.0
    assert record["rejected_pass_fraction"] == {2: 0.25, 3: 0.5, 4: 0.0}[bad]
    assert record["rejected_reason"] == REASON[bad]
    assert meta["source"] == "synthsmith" and meta["style"] == "codeforces"
    assert meta["kind"] == "stdio" and meta["difficulty"] == 0.25 and record["split"] == "train"


def test_gap_filter_cap_and_tasks_without_failures():
  records, drops = pairs.build_pairs(verified_task(), RESPONSES, options(min_gap=0.6), "train")
  assert {r["metadata"]["rejected_index"] for r in records} == {2, 4}  # 0.5 gap < 0.6
  assert drops["pair:small_gap"] == 2
  capped, drops = pairs.build_pairs(verified_task(), RESPONSES, options(max_per_task=4), "train")
  assert len(capped) == 4 and drops["pair:over_cap"] == 2
  again, _ = pairs.build_pairs(verified_task(), RESPONSES, options(max_per_task=4), "train")
  assert again == capped  # seeded by the config's seed and the task id
  draws = {
    tuple(
      r["id"]
      for r in pairs.build_pairs(
        verified_task(), RESPONSES, options(max_per_task=2, seed=s), "train"
      )[0]
    )
    for s in range(8)
  }
  assert len(draws) > 1  # the seed changes which pairs are drawn
  all_pass = {0: [OK] * 4, 1: [OK] * 4}
  records, drops = pairs.build_pairs(verified_task(all_pass), RESPONSES, options(), "train")
  assert records == [] and drops == {"no_failing_candidate": 1}
  records, drops = pairs.build_pairs(verified_task(), RESPONSES, options(min_gap=1.01), "train")
  assert records == [] and drops["no_pair_above_gap"] == 1


def test_identical_responses_give_one_pair():
  responses = {**RESPONSES, 3: RESPONSES[2], 4: RESPONSES[2]}
  records, drops = pairs.build_pairs(verified_task(), responses, options(), "heldout")
  assert len(records) == 2 and drops["pair:duplicate"] == 4
  assert {r["split"] for r in records} == {"heldout"}  # the task's side, on every pair


def test_empty_responses_are_never_a_side_and_are_counted():
  """An empty or whitespace-only answer (a failing one, as it holds no code) is refused when
  pairs are built, and the report says how many; the other pairs are as before."""
  results = {**RESULTS, 6: [NO_CODE] * 4, 7: [NO_CODE] * 4}
  responses = {**RESPONSES, 6: "", 7: " \n\t "}
  records, drops = pairs.build_pairs(verified_task(results), responses, options(), "train")
  assert drops == {"candidate:judge_error": 1, "candidate:empty_response": 2}
  assert records == pairs.build_pairs(verified_task(), RESPONSES, options(), "train")[0]
  only_empty = {0: [OK] * 4, 6: [NO_CODE] * 4}
  records, drops = pairs.build_pairs(verified_task(only_empty), responses, options(), "train")
  assert records == [] and drops == {"candidate:empty_response": 1, "no_failing_candidate": 1}


def test_outcomes_from_captured_runs_name_the_failure():
  candidates = [Candidate("t", i, f"r{i}", "code") for i in range(3)]
  labels, _ = verify.vote([["1", "2", "3"], ["1", "2", "3"], ["1", "2", "3"]])
  runs = [
    SubmissionResult([Verdict(Outcome.ACCEPTED, output=o) for o in ("1", "2", "3")], 3),
    SubmissionResult(
      [
        Verdict(Outcome.ACCEPTED, output="1\n"),  # compared like the labels: stripped
        Verdict(Outcome.ACCEPTED, output="7"),
        Verdict(Outcome.TIME_LIMIT),
      ],
      3,
    ),
    SubmissionResult([Verdict(Outcome.COMPILE_ERROR)] * 3, 3),
  ]
  outcomes = verify.captured_outcomes(candidates, runs, labels, [0, 1, 2])
  assert [o["results"] for o in outcomes] == [[OK] * 3, [OK, WA, TLE], [NO_CODE] * 3]
  assert [o["pass_fraction"] for o in outcomes] == [1.0, 0.3333, 0.0]
  assert pairs.rejected_reason(outcomes[1]["results"]) == WA  # 1-1 tie: first failure


def test_demo_run_writes_dpo_shards_counted_in_the_funnel(demo_run):
  out, report = demo_run
  row = next(r for r in report["funnel"] if r["stage"] == "dpo_pairs")
  records = demo_pairs.read_pairs(out)
  outputs = report["outputs"]
  assert row["out"] == outputs["dpo_records"] + outputs["heldout_dpo_records"] == len(records)
  assert outputs["dpo_records"] >= 30 and outputs["heldout_dpo_records"] >= 10
  assert row["in"] == outputs["rl_records"] + outputs["heldout_records"]
  for side, directory in (("train", "dpo"), ("heldout", "heldout/dpo")):
    manifest = json.load(open(os.path.join(out, directory, "manifest.json")))
    assert manifest["kind"] == "dpo" and manifest["split"] == side
    assert {r["split"] for r in demo_pairs.read_pairs(out, [side])} == {side}
  assert {r["rejected_reason"] for r in records} == {WA, RE}
  for record in records:
    assert set(record) == {
      "id",
      "task_id",
      "prompt",
      "chosen",
      "rejected",
      "chosen_pass_fraction",
      "rejected_pass_fraction",
      "rejected_reason",
      "split",
      "metadata",
    }
    assert record["chosen_pass_fraction"] == 1.0 and 0.0 <= record["rejected_pass_fraction"] < 1.0
    assert record["chosen"] != record["rejected"] and record["rejected_reason"] in pairs.REASONS
  # every SFT record of both sides, from the shards: the samples show only the first ones
  source = grain.sources.ArrayRecordDataSource(
    shards.shard_files(f"{os.path.join(out, 'sft')},{os.path.join(out, 'heldout', 'sft')}")
  )
  sft = {r["id"]: r for r in (json.loads(source[i]) for i in range(len(source)))}

  def sft_id(pair):  # the SFT record of the pair's task in the pair's language
    language = pair["metadata"]["language"]
    return pair["task_id"] if language == "python" else f"{pair['task_id']}:{language}"

  assert all(r["prompt"] == sft[sft_id(r)]["query"] for r in records)
  assert {r["metadata"]["language"] for r in records} == {"python", "cpp", "go"}
  assert records == [json.loads(line) for line in open(demo_pairs.ASSET)]  # the asset is current


@pytest.fixture
def finished_copy(demo_run, tmp_path, monkeypatch):
  """A copy of the demo's output directory; verifying again would fail the test."""
  out = str(tmp_path / "run")
  shutil.copytree(demo_run[0], out)

  def no_vote(*args, **kwargs):
    raise AssertionError("pairs_only verified again")

  monkeypatch.setattr(verify, "capture_runs", no_vote)
  monkeypatch.setattr(verify, "verify_task", no_vote)
  return out


def test_pairs_only_rebuilds_pairs_without_teacher_or_vote(demo_run, finished_copy):
  from configs.synthsmith import demo

  config = demo.get_config()
  config.teacher.replay_file = "/nonexistent/recording.jsonl"  # building a teacher would fail
  config.pairs.max_per_task = 1
  sft_before = open(os.path.join(finished_copy, "sft_sample.jsonl")).read()
  report = pairs.pairs_only(config, finished_copy)
  stages = [r["stage"] for r in report["funnel"]]
  assert stages.count("dpo_pairs") == 1 and stages.index("dpo_pairs") == stages.index("shards") + 1
  row = report["funnel"][stages.index("dpo_pairs")]
  outputs = report["outputs"]
  assert row["out"] == row["in"] == outputs["dpo_records"] + outputs["heldout_dpo_records"]
  assert report["dpo_regraded_tasks"] == 0  # one pair per task, above
  assert outputs["rl_records"] + outputs["heldout_records"] == row["in"]
  assert len(demo_pairs.read_pairs(finished_copy)) == row["out"]
  assert open(os.path.join(finished_copy, "sft_sample.jsonl")).read() == sft_before
  assert json.load(open(os.path.join(finished_copy, "report.json"))) == report


@pytest.mark.slow
def test_pairs_only_regrades_an_older_run_to_the_same_pairs(demo_run, finished_copy):
  """A directory written before verification kept per-candidate outcomes: its candidates are
  graded again on the verified tests, through the command line, to the very same pairs."""
  path = os.path.join(finished_copy, "work", "verification.jsonl")
  entries = [json.loads(line) for line in open(path)]
  for entry in entries:
    for verified in entry["outputs"]:
      del verified["candidates"]
  with open(path, "w") as f:
    f.writelines(json.dumps(entry) + "\n" for entry in entries)
  shutil.rmtree(os.path.join(finished_copy, "dpo"))
  shutil.rmtree(os.path.join(finished_copy, "heldout", "dpo"))
  done = subprocess.run(
    [
      sys.executable,
      "-m",
      "launch.synthsmith",
      "--config=configs/synthsmith/demo.py",
      f"--output={finished_copy}",
      "--pairs_only",
      "--config.teacher.replay_file=/nonexistent/recording.jsonl",
    ],
    cwd=REPO,
    capture_output=True,
    text=True,
    check=True,
  )
  assert "graded again" in done.stderr
  report = json.load(open(os.path.join(finished_copy, "report.json")))
  outputs = report["outputs"]
  assert report["dpo_regraded_tasks"] == outputs["rl_records"] + outputs["heldout_records"]
  assert demo_pairs.read_pairs(finished_copy) == demo_pairs.read_pairs(demo_run[0])
