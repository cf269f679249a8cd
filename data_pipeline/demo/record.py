"""Re-authors the demo's teacher recording with the scripted demo author.

  python -m data_pipeline.demo.record

Runs the demo configuration once with backend=scripted_demo_author and record_to set, then
writes the answers, sorted by key, to data_pipeline/demo/teacher_recording.jsonl.
"""

import json
import os
import tempfile

from configs.synthsmith import demo
from data_pipeline import pipeline
from data_pipeline.teacher import load_recording

RECORDING = os.path.join(os.path.dirname(__file__), "teacher_recording.jsonl")


def main() -> None:
  with tempfile.TemporaryDirectory() as scratch:
    config = demo.get_config()
    config.teacher.backend = "scripted_demo_author"
    config.teacher.concurrency = 1  # the author hands out task titles in request order
    config.teacher.record_to = os.path.join(scratch, "recording.jsonl")
    pipeline.run(config, os.path.join(scratch, "run"))
    answers = load_recording(config.teacher.record_to)
  with open(RECORDING, "w") as f:
    for key in sorted(answers):
      f.write(json.dumps(answers[key], sort_keys=True, ensure_ascii=False) + "\n")
  print(f"wrote {len(answers)} recorded answers to {RECORDING}")


if __name__ == "__main__":
  main()
