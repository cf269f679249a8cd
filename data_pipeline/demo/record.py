"""Re-authors the demo's teacher recording with the scripted demo author
(`python -m launch.demo_assets --recording`).

Runs the demo configuration once with backend=scripted_demo_author and record_to set, then
writes the answers, sorted by key, to data_pipeline/demo/teacher_recording.jsonl.
"""

import os
import tempfile

import ml_collections

from data_pipeline import demo, pipeline
from data_pipeline.teacher import load_recording
from xcoder_jax import fileio


def rerecord(config: ml_collections.ConfigDict) -> int:
  """Runs the demo `config` with the scripted author; returns how many answers it wrote."""
  with tempfile.TemporaryDirectory() as scratch:
    config = ml_collections.ConfigDict(config.to_dict())
    config.teacher.backend = "scripted_demo_author"
    config.teacher.concurrency = 1  # the author hands out task titles in request order
    config.teacher.record_to = os.path.join(scratch, "recording.jsonl")
    pipeline.run(config, os.path.join(scratch, "run"))
    answers = load_recording(config.teacher.record_to)
  fileio.write_jsonl_atomic(demo.RECORDING, [answers[key] for key in sorted(answers)])
  return len(answers)
