"""On a real Ray cluster (a head and worker nodes on 127.0.0.1, one CPU each, started and
stopped here): SynthSmith byte-identical to the local run, still so when a node dies in the
middle of a stage; evaluation judged on the cluster with the local verdicts."""

import contextlib
import glob
import json
import os
import signal

import pytest

from configs.synthsmith import demo
from data_pipeline import pipeline

# The driver on loopback too (else Ray gives it the routable address, unreachable from the
# nodes on 127.0.0.1, and ray.init waits forever).
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
# Ray's driver otherwise replaces builtins.print for good, under the other tests of this worker.
os.environ["RAY_TQDM_PATCH_PRINT"] = "0"
ray = pytest.importorskip("ray")  # the cluster extra; `make test` installs it
from ray.cluster_utils import Cluster  # noqa: E402

from data_pipeline.ray_runner import RayRunner  # noqa: E402

import synthsmith_runs  # noqa: E402

pytestmark = pytest.mark.slow
# A dead node is noticed after period x threshold (defaults: about 13 s on these cores).
HEALTH_CHECKS = {"health_check_period_ms": 500, "health_check_failure_threshold": 4}
NODE = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False}


@contextlib.contextmanager
def deadline(seconds: int, what: str):
  """Cluster starts and stops are bounded: a stuck one fails the test instead of the suite."""

  def expire(*_):
    raise TimeoutError(f"{what} took over {seconds} s")

  previous = signal.signal(signal.SIGALRM, expire)
  signal.alarm(seconds)
  try:
    yield
  finally:
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def cluster():
  with deadline(120, "starting a two-node Ray cluster"):
    cluster = Cluster(
      initialize_head=True, head_node_args={**NODE, "_system_config": HEALTH_CHECKS}
    )
  try:
    with deadline(120, "starting a two-node Ray cluster"):
      cluster.add_node(**NODE)
      cluster.wait_for_nodes()
      ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
    yield cluster
  finally:
    with deadline(60, "stopping the Ray cluster"):
      ray.shutdown()
      cluster.shutdown()


def outputs(run_dir):
  """Every output file of a run (shards, manifests, samples of both sides and DPO), by path:
  everything but the work directory and the report (timings, usage)."""
  found = {}
  for root, _, files in os.walk(run_dir):
    for name in files:
      path = os.path.join(root, name)
      relative = os.path.relpath(path, run_dir)
      if relative.split(os.sep)[0] != "work" and name not in ("report.json", "funnel.png"):
        found[relative] = open(path, "rb").read()
  assert any(path.endswith(".array_record") for path in found)
  return found


def test_ray_run_is_byte_identical_to_the_local_run(cluster, demo_run, tmp_path):
  reference, local = demo_run
  config = demo.get_config()
  config.teacher.concurrency = 2  # threads per node: another interleaving than the local 4
  with RayRunner(config) as runner:
    assert runner.nodes == 2
    report = pipeline.run(config, str(tmp_path), runner=runner)
  assert report["funnel"] == local["funnel"]
  assert report["teacher_usage"] == local["teacher_usage"]  # each request counted once
  assert outputs(str(tmp_path)) == outputs(reference)


class KillNodeMidStage:
  """The runner's own results, with a worker node's raylet killed after the ``after``-th
  result of the first stage running ``job`` (its workers die with it, items in flight too)."""

  def __init__(self, runner, cluster, node, job: str, after: int):
    self.runner, self.cluster, self.node, self.job, self.after = runner, cluster, node, job, after

  def map(self, job, items):
    for done, result in enumerate(self.runner.map(job, items)):
      if job == self.job and done == self.after and self.node is not None:
        self.cluster.remove_node(self.node, allow_graceful=False)
        self.node = None
      yield result

  def teacher_usage(self):
    return self.runner.teacher_usage()


def test_a_node_killed_mid_stage_loses_and_repeats_nothing(cluster, demo_run, tmp_path):
  reference, _ = demo_run
  with deadline(120, "adding a Ray node"):
    doomed = cluster.add_node(**NODE)
    cluster.wait_for_nodes()
  config = demo.get_config()
  config.teacher.replay_latency_s = 0.05  # items stay in flight when the node goes
  with RayRunner(config) as runner:
    assert runner.nodes == 3
    killing = KillNodeMidStage(runner, cluster, doomed, "generate_solutions", after=4)
    pipeline.run(config, str(tmp_path), runner=killing)
    assert runner.requeued >= 1 and runner.nodes == 2
  keys = [json.loads(line)["key"] for line in open(tmp_path / "work" / "solutions.jsonl")]
  assert len(keys) == len(set(keys)) == 54  # each item stored once, none lost
  assert outputs(str(tmp_path)) == outputs(reference)


def heldout_answers(run_dir) -> list[dict]:
  """Two answers per held-out task of the demo: its golden solution, and a wrong program."""
  from array_record.python.array_record_module import ArrayRecordReader

  answers = []
  for path in sorted(glob.glob(os.path.join(run_dir, "heldout", "rl", "*.array_record"))):
    reader = ArrayRecordReader(path)
    for task in map(json.loads, reader.read_all()):
      for index, code in enumerate([task["golden_solution"], "print(0)"]):
        response = f"```python\n{code}\n```"
        answers.append({"question_id": task["id"], "sample_index": index, "response": response})
    reader.close()
  return answers


def test_evaluation_judged_on_the_cluster_gives_the_local_verdicts(
  cluster, demo_run, cli, tmp_path
):
  reference, _ = demo_run
  samples = tmp_path / "samples.jsonl"
  samples.write_text("".join(json.dumps(a) + "\n" for a in heldout_answers(reference)))
  args = ["--benchmark=synthsmith", f"--data={reference}/heldout/rl", f"--samples={samples}"]
  args += ["--k=2", "--judge_workers=1"]
  reports = {}
  for runner in ("local", "ray"):
    out = tmp_path / f"{runner}.json"
    result = cli("evaluate", *args, f"--output={out}", f"--runner={runner}")
    assert result.code in (0, None), result.err[-2000:]
    reports[runner] = json.loads(out.read_text())
  verdicts = lambda r: {q: p["verdicts"] for q, p in r["problems"].items()}  # noqa: E731
  assert verdicts(reports["ray"]) == verdicts(reports["local"])
  assert reports["ray"]["num_problems"] >= 10 and 0 < reports["ray"]["avg_at_k"] < 1
  assert ray.is_initialized()  # the cluster the test joined is left running for the others


def test_ray_judge_returns_the_local_judges_results_in_batch_order(cluster):
  from xcoder_jax import judge
  from xcoder_jax.judge.ray_judge import RayJudge

  batch = [
    judge.Submission(f"print(int(input()) * {i})", tests=[judge.TestCase("3", str(3 * i))])
    for i in range(12)
  ] + [judge.Submission("print(", tests=[judge.TestCase("", "")])]
  with RayJudge(workers=1) as remote, judge.Judge(workers=1) as local:
    assert remote.workers == 2  # one sandbox on each of the two nodes
    got, expected = remote.run(batch), local.run(batch)
  verdicts = lambda results: [[v.verdict for v in r.verdicts] for r in results]  # noqa: E731
  assert verdicts(got) == verdicts(expected)
  assert verdicts(got)[-1] != [judge.Outcome.ACCEPTED] and verdicts(got)[0] == [
    judge.Outcome.ACCEPTED
  ]


def test_the_command_resumes_on_the_cluster_after_its_driver_is_killed(cluster, demo_run, tmp_path):
  """`launch.synthsmith --runner=ray --ray_address=...` SIGKILLed mid-stage, then run again:
  the second driver reuses every stored item and ends with the local run's outputs."""
  import subprocess

  reference, _ = demo_run
  out = tmp_path / "killed"
  on_ray = ("--runner=ray", f"--ray_address={cluster.address}")
  stored = synthsmith_runs.kill_during_solutions(out, *on_ray, after=3)
  assert not (out / "work" / "solutions.done").exists()
  rerun = subprocess.run(
    synthsmith_runs.command(out, *on_ray),
    cwd=synthsmith_runs.REPO,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  keys = synthsmith_runs.stored_keys(out)
  assert len(keys) == len(set(keys)) == 54 and stored >= 3  # stored items were not redone
  assert outputs(str(out)) == outputs(reference)
