"""The bundled offline demo: original seed problems, REPLAYED teacher answers (recorded once
by data_pipeline/demo/scripted_author.py), real judge. Minutes on 2 CPU cores."""

from configs.synthsmith import base
from data_pipeline import demo
from data_pipeline.demo import scripted_author  # noqa: F401  registers scripted_demo_author


def get_config():
  c = base.get_config()
  c.seeds = demo.SEEDS
  c.teacher.backend = "replay"  # scripted_demo_author re-authors the recording
  c.teacher.replay_file = demo.RECORDING
  c.teacher.concurrency = 4
  c.evolution.steps = 4
  # The scripted author's 54 tasks (47 stdio, 7 LeetCode-style): with the styles these 56
  # configurations draw, all are used, one LeetCode-style statement finds none left and the
  # last plan finds no title at all, so both refusals stay in the funnel
  c.configs.num_configs = 56
  c.configs.min_leaves = 4
  c.configs.max_attempts = 500
  c.solutions.num_candidates = 5
  # Candidates in C++ and Go as well: the scripted author wrote them for three tasks
  # (data_pipeline/demo/task_bank_languages.py) and answers the others without code, so those
  # three tasks come out with a golden, an SFT record and DPO pairs in each language.
  c.solutions.languages = ("python", "cpp", "go")
  c.test_inputs.generated_inputs = 6
  c.test_inputs.min_inputs = 4
  c.test_inputs.max_inputs = 14
  c.verify.min_tests = 3
  c.verify.time_limit_s = 2.0
  # A quarter held out: the demo's few dozen tasks still give ten or more held-out problems.
  c.split.heldout_fraction = 0.25
  c.dedup.contamination_ngram = 10
  c.output.num_shards = 2
  return c
