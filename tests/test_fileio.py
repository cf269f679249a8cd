"""Crash-safe files: an interrupted write leaves the old file; torn JSON lines are handled."""

import json

import pytest

from xcoder_jax import fileio


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
  path = tmp_path / "state.json"
  fileio.write_json_atomic(str(path), {"step": 1})
  with pytest.raises(RuntimeError):
    with fileio.atomic_write(str(path)) as f:
      f.write('{"step": 2')
      raise RuntimeError("killed mid-write")
  assert json.loads(path.read_text()) == {"step": 1}
  assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary left behind


def test_a_torn_last_line_is_cut_on_repair_and_only_skipped_otherwise(tmp_path):
  path = tmp_path / "log.jsonl"
  fileio.append_jsonl(str(path), {"a": 1})
  with open(path, "a") as f:
    f.write('{"a": ')  # a write killed mid-line
  before = path.read_bytes()
  assert fileio.read_jsonl(str(path), repair=False) == [{"a": 1}]
  assert path.read_bytes() == before
  assert fileio.read_jsonl(str(path)) == [{"a": 1}]
  assert path.read_bytes() == b'{"a": 1}\n'
  path.write_text('{"a": 1}\n{"b": 2}')  # hand-written, no final newline: kept
  assert fileio.read_jsonl(str(path), repair=False) == [{"a": 1}, {"b": 2}]
