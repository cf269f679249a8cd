"""The bundled offline demo: original seed problems, REPLAYED teacher answers (recorded once
by data_pipeline/demo/scripted_author.py), real judge. Minutes on 2 CPU cores."""

import os

from configs.synthsmith import base

DEMO_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "data_pipeline", "demo")


def get_config():
  c = base.get_config()
  c.seeds = [os.path.normpath(os.path.join(DEMO_DIR, "seeds.jsonl"))]
  c.teacher.backend = "replay"
  c.teacher.replay_file = os.path.normpath(os.path.join(DEMO_DIR, "teacher_recording.jsonl"))
  c.teacher.concurrency = 4
  c.evolution.steps = 4
  c.configs.num_configs = 12
  c.configs.min_leaves = 4
  c.configs.max_attempts = 500
  c.solutions.num_candidates = 5
  c.test_inputs.generated_inputs = 6
  c.test_inputs.min_inputs = 4
  c.test_inputs.max_inputs = 14
  c.verify.min_tests = 3
  c.verify.time_limit_s = 2.0
  c.dedup.contamination_ngram = 10
  c.output.num_shards = 2
  return c
