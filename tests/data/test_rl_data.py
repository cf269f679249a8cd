"""RL task records: X-Coder's released layout converts to ours; the prompt iterator resumes."""

import json

import pytest

from launch import make_shards
from xcoder_jax.data import rl


def _xcoder_row(i, **changes):
  row = {
    "id": f"syn-{i}",
    "prompt": [{"role": "system", "content": "be brief"}, {"role": "user", "content": f"task {i}"}],
    "input_output": json.dumps({"inputs": ["1 2\n", "3 4\n"], "outputs": ["3\n", "7\n"]}),
    "type": "stdin_stdout",
    "prompter_type": "xcoder",
  }
  row.update(changes)
  return row


def test_xcoder_rows_become_stdio_records_and_call_based_rows_are_refused():
  record = rl.from_source_row(_xcoder_row(0), "f.parquet:row 0", "f-0")
  assert record["prompt"] == "task 0" and record["kind"] == "stdio"
  assert record["tests"] == [
    {"input": "1 2\n", "output": "3\n"},
    {"input": "3 4\n", "output": "7\n"},
  ]
  with pytest.raises(rl.RLRecordError, match="row 1.*stdin/stdout"):
    rl.from_source_row(_xcoder_row(1, type="leetcode"), "f.parquet:row 1", "f-1")
  with pytest.raises(rl.RLRecordError, match="'tests' must be a non-empty list"):
    rl.from_source_row({"id": "x", "prompt": "p", "tests": []}, "ours.jsonl:line 3", "x")


def test_prompt_iterator_restores_its_position(tmp_path):
  src = tmp_path / "rl.jsonl"
  src.write_text("".join(json.dumps(_xcoder_row(i)) + "\n" for i in range(10)))
  make_shards.convert(str(src), str(tmp_path / "shards"), num_shards=2, kind="rl")
  make = lambda: rl.make_prompt_iterator(str(tmp_path / "shards"), 3, 0, 0, 0, 1)
  it = make()
  first = [r["id"] for r in next(it)]
  state = it.get_state()
  expected = [[r["id"] for r in next(it)] for _ in range(4)]  # runs into the second epoch
  resumed = make()
  resumed.set_state(state)
  assert [[r["id"] for r in next(resumed)] for _ in range(4)] == expected
  epoch = first + [i for batch in expected[:2] for i in batch]
  assert len(set(epoch)) == 9  # no task twice within an epoch
