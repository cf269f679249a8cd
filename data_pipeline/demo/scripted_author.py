"""THE SCRIPTED DEMO AUTHOR: a deterministic stand-in that wrote the demo's teacher recording.

It is not a language model and never runs in the demo itself: the demo replays what this
script answered once (``python -m launch.demo_assets --recording``). Its answers come from
hand-written material (task_bank.py, task_bank_short*.py and the tables below) and include
deliberately wrong, crashing and malformed answers, so that parsing, validation and voting are
exercised.
"""

from __future__ import annotations

import hashlib
import json
import re

from data_pipeline import demo
from data_pipeline.demo import (
  task_bank,
  task_bank_languages,
  task_bank_short,
  task_bank_short2,
  task_bank_short3,
)
from data_pipeline.parsing import JSON_BEGIN, JSON_END
from data_pipeline.seeds import read_seeds
from data_pipeline.teacher import TEACHERS, Teacher
from xcoder_jax.rollout.types import Completion

SEED_FEATURES = {
  "Stamp Collector": {
    "problem_domain": ["counting"],
    "data_structures": ["hash set"],
    "algorithms": {"sorting": ["counting distinct values"]},
    "complexity_analysis": ["linear time"],
  },
  "Fence Painting": {
    "mathematics": {"number theory": ["ceiling division"]},
    "problem_solving_strategies": ["direct formula"],
    "coding_techniques": ["big integers"],
  },
  "Bracket Depth": {
    "data_structures": ["stack"],
    "algorithms": {"string": ["bracket matching"]},
    "coding_techniques": ["running counter"],
  },
  "Garden Paths": {
    "algorithmic_paradigm": ["dynamic programming"],
    "mathematics": {"combinatorics": ["lattice paths"]},
    "optimization_techniques": ["rolling array"],
  },
  "Relay Race": {
    "algorithms": {"graph": ["breadth-first search", "shortest paths"]},
    "data_structures": ["queue", "adjacency list"],
    "problem_domain": ["graphs"],
  },
}
DEEPER = {
  "shortest paths": ["0-1 BFS", "multi-source BFS"],
  "prefix sums": ["Fenwick tree", "2D prefix sums"],
  "hash set": ["hash map of counts", "sliding window counts"],
  "dynamic programming": ["knapsack DP", "interval DP"],
  "stack": ["monotonic stack"],
  "lattice paths": ["binomial coefficients"],
}
SIBLINGS = {
  "data_structures": ["prefix sums", "deque"],
  "algorithms": ["two pointers", "gcd"],
  "problem_domain": ["grids", "strings"],
  "mathematics": ["modular arithmetic", "gcd"],
  "coding_techniques": ["fast input", "sentinels"],
  "algorithmic_paradigm": ["greedy", "divide and conquer"],
  "complexity_analysis": ["amortized analysis", "n log n"],
  "optimization_techniques": ["early exit", "precomputation"],
  "problem_solving_strategies": ["invariants", "complementary counting"],
}
_SEED_NAME = re.compile(r"## Problem\n(.+)\n")
_ASKED_LANGUAGE = re.compile(r"in a single ```(\w+) code block")
# The original tasks first (their order fixes which titles the recording hands out), then the
# short warm-ups that give the demo enough verified tasks for a held-out split.
TASKS = task_bank.TASKS + task_bank_short.TASKS + task_bank_short2.TASKS + task_bank_short3.TASKS
# Candidate i of a task: which solution it is (c: correct, w: wrong, x: malformed).
CANDIDATE_PLAN = ["c0", "w0", "c1", "x", "w1"]


def _json_answer(value) -> str:
  return f"Here is the result.\n{JSON_BEGIN}\n{json.dumps(value, indent=1)}\n{JSON_END}\n"


def _code_answer(code: str, note: str, language: str = "python") -> str:
  if language != "python":
    return f"{note}\n\n```{language}\n{code}```\n"
  return f"{note}\n\n```python\n# {note}\n{code}```\n"


def _digest(text: str) -> int:
  return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


@TEACHERS.register("scripted_demo_author")
class ScriptedDemoAuthor(Teacher):
  """Answers every SynthSmith stage from hand-written material (authoring only); registered
  as a backend only once this module is imported (the demo config does)."""

  def __init__(self, config=None):
    del config  # the script has no settings
    super().__init__()
    self.titles_used: list[str] = []
    self.by_title = {t["title"]: t for t in TASKS}
    self.seed_solutions = self._seed_solutions()

  @staticmethod
  def _seed_solutions() -> dict[str, str]:
    """Seed statement -> its reference solution (to answer seed-validation requests)."""
    seeds, _ = read_seeds([demo.SEEDS])
    return {s.statement: s.solutions[0] for s in seeds}

  def _complete(self, stage, messages, sampling):
    prompt = messages[-1]["content"]
    answer = getattr(self, f"_{stage}")(prompt, sampling)
    return Completion(text=answer, prompt_tokens=len(prompt) // 4, completion_tokens=200)

  def _feature_extraction(self, prompt, sampling):
    name = _SEED_NAME.search(prompt).group(1).strip()
    if name not in SEED_FEATURES:
      return "I think this problem is about coins, but I will not give JSON."  # malformed
    return _json_answer(
      {**SEED_FEATURES[name], "programming_language": ["Python"], "summary": f"Features of {name}."}
    )

  def _feature_evolution(self, prompt, sampling):
    subtree = json.loads(prompt[prompt.index("\n{") + 1 :])
    grown = {}
    for group, node in subtree.items():
      leaves = list(node) if isinstance(node, (list, dict)) else []
      grown[group] = {leaf: DEEPER.get(leaf, []) for leaf in leaves if leaf in DEEPER}
      for sibling in SIBLINGS.get(group, []):
        grown[group].setdefault(sibling, [])
    return _json_answer(grown)

  def _task_plan(self, prompt, sampling):
    features = json.loads(prompt[prompt.index("\n{") + 1 : prompt.index("\n}\n") + 2])
    free = [t for t in self.by_title if t not in self.titles_used]
    if not free:
      return "{'selected_features': oops"  # malformed plan: counted, not fatal
    title = free[_digest(json.dumps(features, sort_keys=True)) % len(free)]
    leaves = [
      leaf
      for node in features.values()
      for leaf in (node if isinstance(node, list) else list(node))
    ]
    return _json_answer(
      {
        "annotations": {leaf: f"could shape the {title} story" for leaf in leaves},
        "selected_features": leaves[:3],
        "working_title": title,
        "integration_strategy": f"Combine {', '.join(leaves[:3])} in {title}.",
      }
    )

  def _task_statement(self, prompt, sampling):
    """Keeps the plan's working title when its kind fits the style, else the next free one."""
    title = re.search(r'"working_title": "([^"]+)"', prompt).group(1)
    kind = "leetcode" if "LeetCode:" in prompt else "stdio"
    fitting = [
      t for t, task in self.by_title.items() if task["kind"] == kind and t not in self.titles_used
    ]
    if not fitting:
      return _json_answer({"title": title, "statement": "Too short."})  # refused: malformed
    title = title if title in fitting else fitting[_digest(title) % len(fitting)]
    self.titles_used.append(title)
    task = self.by_title[title]
    return _json_answer(
      {"title": title, "statement": task["statement"], "entry_point": task.get("fn_name")}
    )

  def _task_of(self, prompt):
    for task in TASKS:
      if task["statement"] in prompt:
        return task
    raise KeyError("unknown task")

  def _solution(self, prompt, sampling):
    index = sampling["seed"]
    for statement, solution in self.seed_solutions.items():
      if statement in prompt:  # seed validation: reference, a broken copy, or no code
        if index == 3:
          return "The answer is straightforward; print the result."
        if index == 1:
          return _code_answer(
            solution.replace("+ 1", "+ 2").replace("max(", "min("), "Careful implementation."
          )
        return _code_answer(solution, "Reference approach.")
    task = self._task_of(prompt)
    kind = CANDIDATE_PLAN[index % len(CANDIDATE_PLAN)]
    language = _ASKED_LANGUAGE.search(prompt).group(1)
    if language != "python":
      return self._other_language_solution(task, language, kind)
    if kind == "x":
      return (
        "Two ideas:\n```python\nprint(0)\n```\nor\n```python\nprint(1)\n```"
        if _digest(task["title"]) % 2
        else "```python\ndef broken(:\n```"
      )
    pool = task["correct"] if kind[0] == "c" else task["wrong"]
    answer = _code_answer(pool[int(kind[1]) % len(pool)], "We process the input once.")
    if kind == "c1":  # a reasoning answer: its draft block is not the answer's code
      return f"<think>\nA first draft:\n```python\nprint(0)\n```\nToo naive.\n</think>\n\n{answer}"
    return answer

  @staticmethod
  def _other_language_solution(task, language, kind):
    """C++/Go answers from task_bank_languages (correct, wrong, or Python where the other
    language was asked); tasks it does not cover get an answer without code."""
    programs = task_bank_languages.SOLUTIONS.get(task["title"], {}).get(language)
    if programs is None:
      return f"I can only offer this one in Python, not in {language}."
    if kind == "x":
      return _code_answer(task["correct"][0], "Python is clearer here.")
    return _code_answer(programs[kind[0] == "w"], "One pass over the input.", language)

  def _test_inputs(self, prompt, sampling):
    return _json_answer({"inputs": self._task_of(prompt)["inputs"]})

  def _input_generator(self, prompt, sampling):
    return _code_answer(self._task_of(prompt)["generator"], "Random valid input.")

  def _input_validator(self, prompt, sampling):
    return _code_answer(self._task_of(prompt)["validator"], "Checks every constraint.")
