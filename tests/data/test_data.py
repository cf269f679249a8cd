"""SFT data: record schema, tokenizers and chat templates, prompt masking, make_shards."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from xcoder_jax import data
from xcoder_jax.data import demo, readers, schema, sft
from xcoder_jax.data import tokenizer as tok_lib
from xcoder_jax.models import get_preset

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# A Qwen2.5-style template (default system prompt, ChatML) written for these tests.
QWEN25_STYLE = (
  "{%- if messages[0]['role'] == 'system' %}"
  "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
  "{%- else %}{{- '<|im_start|>system\\nYou are a helpful coding assistant.<|im_end|>\\n' }}"
  "{%- endif %}"
  "{%- for message in messages %}"
  "{%- if not (message.role == 'system' and loop.first) %}"
  "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
  "{%- endif %}{%- endfor %}"
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# Qwen3-style: the final assistant turn gets an (empty) think block.
QWEN3_STYLE = (
  "{%- for message in messages %}"
  "{%- if message.role == 'assistant' and loop.last %}"
  "{{- '<|im_start|>assistant\\n<think>\\n' + (message.reasoning_content or '') + "
  "'\\n</think>\\n\\n' + message.content + '<|im_end|>\\n' }}"
  "{%- else %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
  "{%- endif %}{%- endfor %}"
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
  "{%- if enable_thinking is defined and enable_thinking is false %}"
  "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}"
)

CHAT = [
  {"role": "system", "content": "Be brief."},
  {"role": "user", "content": "Read n, print n squared."},
  {"role": "assistant", "content": "```python\nn = int(input())\nprint(n * n)\n```"},
  {"role": "user", "content": "Now cubed."},
  {"role": "assistant", "content": "```python\nprint(int(input()) ** 3)\n```"},
]


@pytest.fixture(scope="module")
def tiny():
  return data.load_tokenizer("tiny")


def tokenizer_dir(tmp_path, template, name="tok", as_jinja=False):
  d = tmp_path / name
  t = data.load_tokenizer("tiny")
  t.save_pretrained(str(d))
  cfg = json.loads((d / "tokenizer_config.json").read_text())
  if as_jinja:
    cfg["chat_template"] = "{{ 'this template must lose to chat_template.jinja' }}"
    (d / "chat_template.jinja").write_text(template)
  else:
    cfg["chat_template"] = template
  (d / "tokenizer_config.json").write_text(json.dumps(cfg))
  return str(d)


# ---------------------------------------------------------------- schema


def test_schema_accepts_both_forms_and_normalises():
  a = schema.validate_record({"id": "a", "query": "q", "response": "r", "metadata": {"x": 1}})
  assert a["messages"] == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "r"}]
  b = schema.validate_record({"id": "b", "messages": CHAT})
  assert b["messages"] == CHAT and b["metadata"] == {}


@pytest.mark.parametrize(
  "record, expect",
  [
    ({"id": "r1", "query": "q"}, ["record 'r1'", "missing field 'response'", "messages"]),
    ({"id": "r2", "response": "r"}, ["record 'r2'", "missing field 'query'"]),
    ({"id": "r3", "metadata": {}}, ["record 'r3'", "missing field 'messages'", "'query'"]),
    (
      {"query": "q", "response": "r"},
      ["record without 'id' (src.jsonl:4)", "missing field 'id'", "make_shards"],
    ),
    (
      {"id": "r5", "messages": [{"role": "user", "content": "hi"}]},
      ["record 'r5'", "no assistant message"],
    ),
    (
      {"id": "r6", "messages": [{"role": "user"}, {"role": "assistant", "content": "x"}]},
      ["record 'r6'", "messages[0] is missing field 'content'"],
    ),
    ({"id": "r7", "messages": [{"role": "robot", "content": "x"}]}, ["role 'robot'"]),
    ({"id": "r8", "query": "q", "response": "r", "metadata": "x"}, ["'metadata' must be"]),
  ],
)
def test_schema_errors_name_record_field_and_fix(record, expect):
  with pytest.raises(schema.RecordError) as info:
    schema.validate_record(record, "src.jsonl:4")
  for text in expect:
    assert text in str(info.value)


# ---------------------------------------------------------------- tokenizers


def test_tiny_tokenizer_matches_tiny_preset(tiny):
  assert tiny.vocab_size == get_preset("tiny").vocab_size == 4096
  assert (tiny.pad_id, tiny.token_to_id("<|im_start|>"), tiny.eos_id) == (0, 1, 2)
  assert tiny.end_of_turn_id == tiny.eos_id
  text = "def f(x):\n    return x * 12345  # ünïcode ✓\n"
  ids = tiny.encode(text)
  assert tiny.decode(ids) == text and max(ids) < 4096
  assert tiny.encode("<|im_start|>user")[0] == 1  # special tokens are atomic
  assert [tiny.decode([t]) for t in tiny.encode("2024")] == list("2024")  # digits one by one


def test_tiny_assets_regenerate_byte_identically(tmp_path):
  tok_lib.build_tiny_tokenizer(str(tmp_path / "tok"), demo.tiny_training_text())
  for name in ("tokenizer.json", "tokenizer_config.json"):
    assert (tmp_path / "tok" / name).read_bytes() == open(
      os.path.join(tok_lib.TINY_TOKENIZER_DIR, name), "rb"
    ).read(), name
  demo.write_demo_jsonl(str(tmp_path / "demo.jsonl"))
  assert (tmp_path / "demo.jsonl").read_bytes() == open(demo.DEMO_JSONL, "rb").read()
  recs = demo.load_demo_records()
  assert len(recs) == 200 and len({r["query"] for r in recs}) == 200


@pytest.mark.parametrize(
  "template, as_jinja",
  [(tok_lib.TINY_CHAT_TEMPLATE, False), (QWEN25_STYLE, False), (QWEN3_STYLE, True)],
)
def test_chat_template_matches_transformers(tmp_path, template, as_jinja):
  from transformers import AutoTokenizer

  d = tokenizer_dir(tmp_path, template, as_jinja=as_jinja)
  ours = data.load_tokenizer(d)
  theirs = AutoTokenizer.from_pretrained(d)
  for msgs in (CHAT, CHAT[1:2], CHAT[:3]):
    for gen in (False, True):
      want = theirs.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)
      assert ours.apply_chat_template(msgs, add_generation_prompt=gen) == want
      assert ours.encode(want) == theirs.encode(want, add_special_tokens=False)
  kw = {"enable_thinking": False}
  assert ours.apply_chat_template(CHAT[1:2], True, **kw) == theirs.apply_chat_template(
    CHAT[1:2], tokenize=False, add_generation_prompt=True, **kw
  )
  assert (ours.eos_id, ours.pad_id) == (theirs.eos_token_id, theirs.pad_token_id)


def test_load_tokenizer_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match="no tokenizer.json.*'tiny'"):
    data.load_tokenizer(str(tmp_path))


def test_tokenizer_pickles(tiny):
  import pickle

  again = pickle.loads(pickle.dumps(tiny))
  assert again.apply_chat_template(CHAT) == tiny.apply_chat_template(CHAT)
  assert again.encode("print(1)") == tiny.encode("print(1)")


# ---------------------------------------------------------------- masking


@pytest.mark.parametrize("template", ["tiny", QWEN25_STYLE, QWEN3_STYLE])
def test_loss_only_on_assistant_text_and_im_end(tmp_path, template):
  t = data.load_tokenizer("tiny" if template == "tiny" else tokenizer_dir(tmp_path, template))
  msgs = CHAT if template != QWEN3_STYLE else CHAT[:3]
  tokens, mask = sft.encode_messages(msgs, t)
  assert tokens.dtype == np.int32 and set(np.unique(mask)) == {0, 1}
  # The whole sequence is exactly the rendered chat.
  assert t.decode(tokens) == t.apply_chat_template(msgs)
  # Contiguous runs of mask=1 are exactly the assistant turns (+ think block) + <|im_end|>.
  runs, cur = [], []
  for tk, m in zip(tokens, mask):
    if m:
      cur.append(tk)
    elif cur:
      runs.append(t.decode(cur))
      cur = []
  if cur:
    runs.append(t.decode(cur))
  answers = [m["content"] for m in msgs if m["role"] == "assistant"]
  if template == QWEN3_STYLE:
    answers = ["<think>\n\n</think>\n\n" + answers[-1]]
  assert runs == [a + "<|im_end|>" for a in answers]
  # Nothing of the system/user text or template markup is in the loss.
  prompt = t.decode(tokens[mask == 0])
  for m in msgs:
    if m["role"] != "assistant":
      assert m["content"] in prompt


def test_changing_the_prompt_does_not_change_trained_targets(tiny):
  def trained(msgs):
    f = sft.to_features(*sft.encode_messages(msgs, tiny), tiny.pad_id)
    return f["targets"][f["loss_mask"] == 1]

  base = trained(CHAT[1:3])
  other = [
    {
      "role": "user",
      "content": "A completely different and much longer question, "
      "with digits 0123456789 and symbols {}[]()!",
    },
    CHAT[2],
  ]
  np.testing.assert_array_equal(base, trained(other))
  f = sft.to_features(*sft.encode_messages(CHAT[1:3], tiny), tiny.pad_id)
  assert f["loss_mask"][-1] == 0 and f["targets"][-1] == tiny.pad_id
  np.testing.assert_array_equal(f["targets"][:-1], f["inputs"][1:])


def test_encode_example_truncate_drop_and_prompt_errors(tiny):
  rec = schema.validate_record({"id": "long-1", "query": "q " * 10, "response": "r " * 200})
  n = len(sft.encode_messages(rec["messages"], tiny)[0])
  stats = sft.EncodeStats()
  strict = dict(truncate=True, long_prompt="error")
  out = sft.encode_example(rec, tiny, 64, **strict, stats=stats)
  assert len(out["tokens"]) == 64 and out["loss_mask"][-1] == 1 and stats.truncated == 1
  assert sft.encode_example(rec, tiny, 64, truncate=False, long_prompt="error", stats=stats) is None
  assert stats.dropped_too_long == 1
  assert len(sft.encode_example(rec, tiny, n, **strict)["tokens"]) == n
  with pytest.raises(sft.PromptTooLongError) as info:
    sft.encode_example(rec, tiny, 8, **strict)
  msg = str(info.value)
  assert "record 'long-1'" in msg and "seq_len is 8" in msg and "raise data.seq_len" in msg
  assert sft.encode_example(rec, tiny, 8, truncate=True, long_prompt="drop", stats=stats) is None
  assert stats.dropped_long_prompt == 1


def test_template_that_rewrites_history_is_refused(tmp_path):
  # Drops earlier assistant turns' text when more turns follow (as Qwen3 does for reasoning).
  template = (
    "{%- for m in messages %}{%- if m.role == 'assistant' and not loop.last %}"
    "{{- '<|im_start|>assistant\\n<|im_end|>\\n' }}{%- else %}"
    "{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
  )
  t = data.load_tokenizer(tokenizer_dir(tmp_path, template))
  with pytest.raises(sft.TemplateError, match="record 'm1'.*single-turn"):
    sft.encode_messages(CHAT, t, "m1")


# ---------------------------------------------------------------- make_shards


def read_shards(directory):
  import grain

  files = sorted(
    os.path.join(directory, f) for f in os.listdir(directory) if f.endswith(".array_record")
  )
  src = grain.sources.ArrayRecordDataSource(files)
  return [json.loads(src[i]) for i in range(len(src))]


@pytest.mark.slow
def test_make_shards_cli_jsonl_round_trip(tmp_path):
  rows = [
    {"query": f"question {i}", "response": f"answer {i}", "difficulty": i % 3} for i in range(10)
  ]
  rows[3] = {"id": "custom", "messages": CHAT}
  src = tmp_path / "part.jsonl"
  src.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
  out = tmp_path / "out"
  cmd = [
    sys.executable,
    "-m",
    "launch.make_shards",
    f"--input={tmp_path}/*.jsonl",
    f"--output={out}",
    "--num_shards=3",
  ]
  res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert res.returncode == 0, res.stderr
  assert "read 10 records" in res.stdout and "total: 10 records in 3 shards" in res.stdout
  assert sorted(os.listdir(out)) == ["manifest.json"] + [
    f"sft-0000{i}-of-00003.array_record" for i in range(3)
  ]
  got = {r["id"]: r for r in read_shards(str(out))}
  assert got["custom"]["messages"] == CHAT
  assert got["part-0"] == {
    "id": "part-0",
    "query": "question 0",
    "response": "answer 0",
    "metadata": {"difficulty": 0},
  }
  assert len(got) == 10
  # A second run into the same directory is refused unless --overwrite.
  res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert res.returncode != 0 and "not empty" in res.stderr and "--overwrite" in res.stderr


def test_make_shards_parquet_round_trip_and_bad_rows(tmp_path):
  pa = pytest.importorskip("pyarrow")
  import pyarrow.parquet as pq

  from launch import make_shards

  table = pa.table(
    {
      "query": [f"q{i}" for i in range(7)],
      "response": [f"r{i}" for i in range(7)],
      "source": ["synthetic"] * 7,
    }
  )
  pq.write_table(table, tmp_path / "xcoder.parquet")
  manifest = make_shards.convert(str(tmp_path / "xcoder.parquet"), str(tmp_path / "out"), 2)
  assert manifest["num_records"] == 7 and list(manifest["shards"].values()) == [4, 3]
  recs = sorted(read_shards(str(tmp_path / "out")), key=lambda r: r["id"])
  assert recs[0] == {
    "id": "xcoder-0",
    "query": "q0",
    "response": "r0",
    "metadata": {"source": "synthetic"},
  }
  # Overwrite replaces the old shards (different shard count) atomically.
  make_shards.convert(str(tmp_path / "xcoder.parquet"), str(tmp_path / "out"), 1, overwrite=True)
  assert sorted(os.listdir(tmp_path / "out")) == [
    "manifest.json",
    "sft-00000-of-00001.array_record",
  ]
  # A bad row names its file and row; nothing is left behind.
  bad = pa.table({"query": ["ok", "no answer"], "response": ["fine", None]})
  pq.write_table(bad, tmp_path / "bad.parquet")
  with pytest.raises(schema.RecordError, match=r"bad.parquet:row 1.*missing field 'response'"):
    make_shards.convert(str(tmp_path / "bad.parquet"), str(tmp_path / "out2"), 2)
  assert os.listdir(tmp_path / "out2") == []  # no shard, no temporary file left behind
  with pytest.raises(FileNotFoundError, match="matched no files"):
    make_shards.convert(str(tmp_path / "*.missing.parquet"), str(tmp_path / "out3"))


def test_make_shards_help_documents_every_flag():
  res = subprocess.run(
    [sys.executable, "-m", "launch.make_shards", "--help"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=120,
  )
  for flag in (
    "--input",
    "--output",
    "--num_shards",
    "--format",
    "--overwrite",
    "--prefix",
    "--max_records",
  ):
    assert flag in res.stdout


def test_readers_jsonl_bad_line(tmp_path):
  p = tmp_path / "x.jsonl"
  p.write_text('{"id": "a", "query": "q", "response": "r"}\n{not json\n')
  with pytest.raises(schema.RecordError, match=r"x.jsonl:2: not valid JSON"):
    list(readers.iter_schema_records(str(p)))
  with pytest.raises(ValueError, match="--format"):
    readers.detect_format("data.txt")
