"""Recording and exact replay: any run with ``teacher.record_to`` can be replayed offline.

The recording is an append-only JSON-lines log (``xcoder_jax.fileio``): one fsynced line per
answer under its ``request_key``; a line torn by a kill is cut off before the next append.
"""

from __future__ import annotations

import os
import threading
import time

from data_pipeline.teacher.base import TEACHERS, Teacher, TeacherError, request_key
from xcoder_jax import fileio
from xcoder_jax.rollout.types import Completion


def load_recording(path: str) -> dict[str, dict]:
  """Every recorded answer by key; a torn last line (a recording killed mid-write) is skipped
  without touching the file (RecordingTeacher cuts it before appending)."""
  return {entry["key"]: entry for entry in fileio.read_jsonl(path, repair=False)}


@TEACHERS.register("replay")
class ReplayTeacher(Teacher):
  """Answers from a recorded file; an unrecorded request is a TeacherError."""

  def __init__(self, config):
    super().__init__()
    if not config.replay_file or not os.path.exists(config.replay_file):
      raise FileNotFoundError(
        f"teacher.replay_file {config.replay_file!r} does not exist; "
        "record one with --config.teacher.record_to=FILE"
      )
    self.answers = load_recording(config.replay_file)
    self.latency_s = config.get("replay_latency_s", 0.0)

  def _complete(self, stage, messages, sampling):
    entry = self.answers.get(request_key(stage, messages, sampling))
    if entry is None:
      raise TeacherError(f"no recorded answer for this {stage} request")
    if self.latency_s:
      time.sleep(self.latency_s)  # stands in for a real teacher's latency (tests, benchmarks)
    prompt_tokens, completion_tokens = entry.get("usage", (0, 0))
    return Completion(
      text=entry["text"], prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )


class RecordingTeacher(Teacher):
  """Wraps a teacher and appends every answer to a replayable JSON-lines file."""

  def __init__(self, inner: Teacher, path: str):
    super().__init__()
    self.inner, self.path, self._lock = inner, path, threading.Lock()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fileio.cut_torn_line(path)

  def check(self) -> None:
    self.inner.check()

  def _complete(self, stage, messages, sampling):
    completion = self.inner.complete(stage, messages, sampling)
    entry = {
      "key": request_key(stage, messages, sampling),
      "stage": stage,
      "messages": messages,
      "sampling": sampling,
      "text": completion.text,
      "usage": [completion.prompt_tokens, completion.completion_tokens],
    }
    with self._lock:
      fileio.append_jsonl(self.path, entry)
    return completion
