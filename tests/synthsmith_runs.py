"""`launch.synthsmith` as a user runs it, killed mid-stage: the resume tests of the local
and the Ray runner share it."""

import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command(out, *flags: str) -> list[str]:
  """The demo's command line writing to ``out``."""
  demo = ["-m", "launch.synthsmith", "--config=configs/synthsmith/demo.py", f"--output={out}"]
  return [sys.executable, *demo, *flags]


def kill_during_solutions(out, *flags: str, after: int, deadline_s: float = 120) -> int:
  """Starts the demo with its teacher answers slowed to 50 ms, SIGKILLs it once the solutions
  stage has stored ``after`` items (or it ended, or ``deadline_s`` passed), and returns how
  many items the stage had stored."""
  slowed = command(out, *flags, "--config.teacher.replay_latency_s=0.05")
  process = subprocess.Popen(slowed, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + deadline_s
  while time.time() < deadline and process.poll() is None:
    if _lines(out) >= after:
      break
    time.sleep(0.01)
  process.kill()
  process.wait()
  return _lines(out)


def _lines(out) -> int:
  path = os.path.join(out, "work", "solutions.jsonl")
  if not os.path.exists(path):
    return 0
  with open(path) as lines:
    return sum(1 for _ in lines)


def stored_keys(out) -> list[str]:
  """The keys of the items the solutions stage stored, in order (every line must parse)."""
  with open(os.path.join(out, "work", "solutions.jsonl")) as lines:
    return [json.loads(line)["key"] for line in lines]
