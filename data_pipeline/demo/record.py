"""Re-authors the demo's teacher recording with the scripted demo author.

  python -m data_pipeline.demo.record

Runs the demo configuration once with backend=scripted_demo_author and record_to set, then
writes the answers, sorted by key, to data_pipeline/demo/teacher_recording.jsonl.
"""

import os
import tempfile

from configs.synthsmith import demo as demo_config
from data_pipeline import demo, pipeline
from data_pipeline.teacher import load_recording
from xcoder_jax import fileio


def main() -> None:
  with tempfile.TemporaryDirectory() as scratch:
    config = demo_config.get_config()
    config.teacher.backend = "scripted_demo_author"
    config.teacher.concurrency = 1  # the author hands out task titles in request order
    config.teacher.record_to = os.path.join(scratch, "recording.jsonl")
    pipeline.run(config, os.path.join(scratch, "run"))
    answers = load_recording(config.teacher.record_to)
  fileio.write_jsonl_atomic(demo.RECORDING, [answers[key] for key in sorted(answers)])
  print(f"wrote {len(answers)} recorded answers to {demo.RECORDING}")


if __name__ == "__main__":
  main()
