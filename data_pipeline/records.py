"""Typed records passed between SynthSmith stages (JSON on disk, dataclasses in memory)."""

from __future__ import annotations

import dataclasses
from typing import Any

FEATURE_CATEGORIES = (
  "programming_language",
  "problem_domain",
  "algorithmic_paradigm",
  "algorithms",
  "mathematics",
  "problem_solving_strategies",
  "data_structures",
  "coding_techniques",
  "complexity_analysis",
  "optimization_techniques",
  "summary",
)
STYLES = ("codeforces", "leetcode", "atcoder")


class Record:
  """JSON round-trip shared by every record type."""

  def to_json(self) -> dict[str, Any]:
    return dataclasses.asdict(self)

  @classmethod
  def from_json(cls, data: dict[str, Any]):
    return cls(**data)


@dataclasses.dataclass
class Seed(Record):
  """A real problem: statement, reference solutions and (when known) ground-truth tests."""

  id: str
  statement: str
  solutions: list[str]
  tests: list[dict[str, str]]  # [{"input", "output"}]
  source: str


@dataclasses.dataclass
class SeedFeatures(Record):
  seed_id: str
  features: dict[str, Any]


@dataclasses.dataclass
class FeatureConfig(Record):
  """A sampled feature subtree a task is built from."""

  id: str
  tree: dict[str, Any]
  num_leaves: int


@dataclasses.dataclass
class Task(Record):
  """A generated task: stdio programs, or LeetCode-style `class Solution` methods."""

  id: str
  config_id: str
  style: str
  kind: str  # "stdio" or "leetcode"
  fn_name: str | None
  title: str
  statement: str
  plan: dict[str, Any]
  features: dict[str, Any]


@dataclasses.dataclass
class Candidate(Record):
  task_id: str
  index: int
  response: str  # the teacher's whole answer (the SFT response)
  code: str
  language: str = "python"  # a judge language (xcoder_jax/judge/languages.py)


@dataclasses.dataclass
class TestInputs(Record):
  """Validated inputs of one task; stdio text, or a JSON argument list for leetcode tasks."""

  task_id: str
  inputs: list[str]
  origins: list[str]  # "direct" or "generator", one per input


@dataclasses.dataclass
class VerifiedTask(Record):
  task: dict[str, Any]
  tests: list[dict[str, Any]]  # [{"input", "output", "votes", "held_out"}]
  golden: dict[str, Any]  # the golden Candidate
  num_candidates: int
  difficulty: float  # 1 - mean agreement: low agreement means a harder task
  # Per candidate, in candidate order: {"index", "pass_fraction", "results"}, one result per
  # test ("accepted" or a failure kind, verify.FAILURES). None in outputs written before it.
  candidates: list[dict[str, Any]] | None = None
  # Language -> that language's golden Candidate (passes every verified test); None in
  # outputs written before: then only ``golden``, in its own language.
  goldens: dict[str, dict[str, Any]] | None = None
