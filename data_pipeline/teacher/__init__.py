"""Teacher LLM backends behind one registry, with recording and exact replay.

Every request is keyed by ``request_key(stage, messages, sampling)`` (a SHA-256 of the three);
``RecordingTeacher`` appends each answer to a JSON-lines file under that key and
``ReplayTeacher`` answers from such a file, so any recorded run can be replayed exactly,
offline. Importing this package registers the built-in backends: ``openai`` (HTTP), ``jax``
(in-process) and ``replay``; other modules may register more in ``TEACHERS``.
"""

from data_pipeline.teacher.base import (
  TEACHERS,
  Messages,
  Teacher,
  TeacherError,
  Usage,
  merge_usage,
  request_key,
  teacher_identity,
)
from data_pipeline.teacher.in_process import JaxTeacher
from data_pipeline.teacher.openai_compat import OpenAITeacher
from data_pipeline.teacher.recording import RecordingTeacher, ReplayTeacher, load_recording


def make_teacher(config) -> Teacher:
  """Builds ``config.backend`` from the registry; wraps it to record when ``config.record_to``."""
  teacher = TEACHERS.get(config.backend)(config)
  if config.get("record_to"):
    teacher = RecordingTeacher(teacher, config.record_to)
  return teacher


__all__ = [
  "TEACHERS",
  "JaxTeacher",
  "Messages",
  "OpenAITeacher",
  "RecordingTeacher",
  "ReplayTeacher",
  "Teacher",
  "TeacherError",
  "Usage",
  "load_recording",
  "make_teacher",
  "merge_usage",
  "request_key",
  "teacher_identity",
]
