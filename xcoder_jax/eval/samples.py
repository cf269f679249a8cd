"""Samples files: JSONL records ``{"question_id", "sample_index", "response"}``.

Produced by ``generate`` (or by any other tool) and scored by ``launch.evaluate --samples``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from xcoder_jax import fileio
from xcoder_jax.eval import jsonl
from xcoder_jax.eval.types import EvalInputError

FIELDS = ("question_id", "sample_index", "response")


def read_samples(path: str) -> dict[str, dict[int, str]]:
  """Responses by question id and sample index; a bad line stops with its number."""
  found: dict[str, dict[int, str]] = {}
  fix = 'give a JSONL file of {"question_id", "sample_index", "response"} records'
  for where, record in jsonl.records(path, "--samples file", fix):
    if not isinstance(record, dict) or any(field not in record for field in FIELDS):
      raise EvalInputError(f"{where}: a sample needs the fields {list(FIELDS)}")
    index, response = record["sample_index"], record["response"]
    if type(index) is not int or index < 0 or not isinstance(response, str):
      raise EvalInputError(f"{where}: sample_index must be an integer >= 0 and response a string")
    by_index = found.setdefault(str(record["question_id"]), {})
    if index in by_index:
      raise EvalInputError(
        f"{where}: question {record['question_id']!r} sample {index} appears twice"
      )
    by_index[index] = response
  return found


def select(
  samples: Mapping[str, Mapping[int, str]], question_ids: Sequence[str], k: int
) -> dict[str, list[str]]:
  """Samples 0..k-1 of every question; a question short of k samples is an error."""
  short = [qid for qid in question_ids if any(i not in samples.get(qid, {}) for i in range(k))]
  if short:
    raise EvalInputError(
      f"{len(short)} of {len(question_ids)} problems lack samples 0..{k - 1} "
      f"(first: {short[:3]}); generate them, lower --k, or narrow the date window"
    )
  return {qid: [samples[qid][i] for i in range(k)] for qid in question_ids}


def append_samples(path: str, question_id: str, responses: Iterable[str]) -> None:
  """Appends one problem's samples (crash-safe lines; a rerun skips finished problems)."""
  for index, response in enumerate(responses):
    fileio.append_jsonl(
      path, {"question_id": question_id, "sample_index": index, "response": response}
    )
