"""The SFT record schema: what one training example looks like on disk.

Storage
-------
SFT data lives in ArrayRecord shards (``*.array_record``). Each record is one UTF-8
JSON object (``json.dumps(record).encode()``), one example per record. ``launch.make_shards``
writes such shards from JSONL or Parquet; ``xcoder_jax.data.pipeline`` reads them with Grain.

Fields
------
``id`` (str, required)
    A stable identifier, used in every error message about the record. ``make_shards``
    fills it as ``<file stem>-<row>`` when the source has no ``id`` column.
``messages`` (list of {"role", "content"}) *or* ``query`` + ``response`` (str)
    Exactly one of the two forms is required.

    * ``messages``: a chat, roles ``system``, ``user`` and ``assistant`` (an optional
      ``system`` first, then turns). The loss is taken on every assistant message (its
      content and its closing ``<|im_end|>``), never on system/user text or on the chat
      template's own tokens. An optional ``reasoning_content`` string on an assistant
      message is passed to templates that read it (Qwen3), as Hugging Face does.
    * ``query`` / ``response``: X-Coder's released layout (the public SFT Parquet has these
      two columns). It means ``messages = [{"role": "user", "content": query},
      {"role": "assistant", "content": response}]``, plus a leading system message when
      the optional ``system`` string field is present.
``split`` (str, optional)
    ``"train"`` or ``"heldout"``: SynthSmith's train/held-out split of the task the record
    was made from (``xcoder_jax.data.split``). Training skips held-out records, evaluation
    reads only them; a record without it is training data.
``metadata`` (dict, optional)
    Anything else (source, difficulty, features). Never read by training; ``make_shards``
    moves unknown source columns here.

Example::

    {"id": "demo-0003", "query": "Read n and print n*n.", "response": "```python\\n...```",
     "metadata": {"family": "square"}}

Validation
----------
``validate_record`` raises ``RecordError`` (a ``ValueError``) naming the record (its id, or
its index/location when it has none), the problem and the fix, e.g.::

    record 'abc' (shard-00000-of-00002.array_record #17): missing field 'response' ...
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from xcoder_jax.data import split as split_lib

ROLES = ("system", "user", "assistant")
SCHEMA_VERSION = 1


class RecordError(ValueError):
  """A record that does not follow the SFT schema; the message says how to fix it."""


def _who(record: Any, where: str | None) -> str:
  rid = record.get("id") if isinstance(record, Mapping) else None
  parts = []
  if rid is not None:
    parts.append(f"record {rid!r}")
  else:
    parts.append("record without 'id'")
  if where:
    parts.append(f"({where})")
  return " ".join(parts)


_FORM_HINT = (
  "each SFT record needs either 'messages' (a list of {role, content} with roles "
  "system/user/assistant and at least one assistant turn) or both 'query' and "
  "'response' strings (X-Coder's layout); see xcoder_jax/data/schema.py"
)


def validate_record(
  record: Any, where: str | None = None, *, require_id: bool = True
) -> dict[str, Any]:
  """Checks one decoded record and returns it normalised to ``{id, messages, metadata}``
  (plus ``split`` when it has one).

  ``where`` says where the record came from (file and line/row/index) for the error text.
  """
  who = _who(record, where)
  if not isinstance(record, Mapping):
    raise RecordError(f"{who}: expected a JSON object, got {type(record).__name__}; {_FORM_HINT}")
  rid = record.get("id")
  if rid is None:
    if require_id:
      raise RecordError(
        f"{who}: missing field 'id'; give every record a unique string id "
        "(launch.make_shards assigns '<file stem>-<row>' automatically)"
      )
  elif not isinstance(rid, str) or not rid:
    raise RecordError(
      f"{who}: field 'id' must be a non-empty string, got {rid!r}; store ids as strings"
    )

  has_messages = "messages" in record and record["messages"] is not None
  has_q = record.get("query") is not None
  has_r = record.get("response") is not None
  if has_messages and (has_q or has_r):
    raise RecordError(
      f"{who}: has both 'messages' and 'query'/'response'; keep one form. " + _FORM_HINT
    )
  if has_messages:
    messages = _check_messages(record["messages"], who)
  elif has_q or has_r:
    missing = "response" if has_q else "query"
    if not (has_q and has_r):
      raise RecordError(f"{who}: missing field {missing!r}; {_FORM_HINT}")
    for name in ("query", "response"):
      if not isinstance(record[name], str):
        raise RecordError(
          f"{who}: field {name!r} must be a string, got {type(record[name]).__name__}; {_FORM_HINT}"
        )
    messages = []
    system = record.get("system")
    if system is not None:
      if not isinstance(system, str):
        raise RecordError(f"{who}: field 'system' must be a string; drop it or fix its type")
      messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": record["query"]})
    messages.append({"role": "assistant", "content": record["response"]})
  else:
    raise RecordError(f"{who}: missing field 'messages' (or 'query' and 'response'); {_FORM_HINT}")
  metadata = record.get("metadata")
  if metadata is None:
    metadata = {}
  if not isinstance(metadata, Mapping):
    raise RecordError(
      f"{who}: field 'metadata' must be an object (dict), got "
      f"{type(metadata).__name__}; wrap the value in a dict or drop it"
    )
  normalised = {"id": rid, "messages": messages, "metadata": dict(metadata)}
  try:
    split = split_lib.split_of(record, who)
  except split_lib.SplitError as error:
    raise RecordError(str(error)) from None
  if split is not None:
    normalised["split"] = split
  return normalised


def _check_messages(messages: Any, who: str) -> list[dict[str, Any]]:
  if not isinstance(messages, (list, tuple)) or not messages:
    raise RecordError(
      f"{who}: 'messages' must be a non-empty list of {{role, content}}; " + _FORM_HINT
    )
  out = []
  for i, m in enumerate(messages):
    if not isinstance(m, Mapping):
      raise RecordError(f"{who}: messages[{i}] must be an object with 'role' and 'content'")
    for key in ("role", "content"):
      if key not in m or m[key] is None:
        raise RecordError(
          f"{who}: messages[{i}] is missing field {key!r}; every message needs "
          "'role' (system/user/assistant) and 'content' (a string)"
        )
    if m["role"] not in ROLES:
      raise RecordError(f"{who}: messages[{i}] has role {m['role']!r}; use one of {ROLES}")
    if not isinstance(m["content"], str):
      raise RecordError(
        f"{who}: messages[{i}].content must be a string, got {type(m['content']).__name__}"
      )
    if m["role"] == "system" and i != 0:
      raise RecordError(
        f"{who}: messages[{i}] is a system message; only the first message may be a system message"
      )
    msg = {"role": m["role"], "content": m["content"]}
    rc = m.get("reasoning_content")
    if rc is not None:
      if not isinstance(rc, str):
        raise RecordError(f"{who}: messages[{i}].reasoning_content must be a string")
      msg["reasoning_content"] = rc
    out.append(msg)
  if not any(m["role"] == "assistant" for m in out):
    raise RecordError(
      f"{who}: 'messages' has no assistant message, so there is nothing to "
      "train on; add the assistant's answer or drop the record"
    )
  return out


def encode_record(record: Mapping[str, Any]) -> bytes:
  """Serialises a record for an ArrayRecord shard (compact UTF-8 JSON)."""
  return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_record(data: bytes, where: str | None = None) -> dict[str, Any]:
  """Parses and validates one shard record."""
  try:
    record = json.loads(data)
  except (UnicodeDecodeError, json.JSONDecodeError) as e:
    raise RecordError(
      f"record ({where or 'unknown location'}): not valid UTF-8 JSON ({e}); "
      "SFT shards hold one JSON object per record: rebuild them with "
      "python -m launch.make_shards"
    ) from e
  return validate_record(record, where)
