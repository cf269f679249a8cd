"""House rules that hold for the whole project: no import cycles, no oversized source files,
and every extension point refuses an unknown name by listing the valid ones."""

from __future__ import annotations

import ast
import collections
import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IMPORT_ROOTS = ("xcoder_jax", "data_pipeline", "launch", "configs")
SIZE_ROOTS = ("xcoder_jax", "data_pipeline", "launch", "configs", "benchmarks")
SOURCE_SUFFIXES = (".py", ".sh", ".sbatch")
MAX_LINES = 500
# Files allowed past MAX_LINES, each with the reason it cannot be split. Keep it empty.
LONG_FILES: dict[str, str] = {}


# ------------------------------------------------------------------------------ import graph

Edge = tuple[str, str]  # (importer, imported)
Where = tuple[str, int]  # (file relative to ROOT, line)


def project_modules(root: Path = ROOT, packages=IMPORT_ROOTS) -> dict[str, Path]:
  """Dotted module name -> file, for every module of `packages` under `root`."""
  modules = {}
  for package in packages:
    for path in sorted((root / package).rglob("*.py")):
      parts = path.relative_to(root).with_suffix("").parts
      modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
  return modules


def _imports(tree: ast.AST):
  """Import nodes anywhere: in functions, and under `if TYPE_CHECKING:` too (an arrow only
  type checkers follow still ties the two modules together: models.config once imported the
  attention kernels, which named ModelConfig only for type checkers)."""
  return (node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom))


def _ancestors(module: str) -> list[str]:
  parts = module.split(".")
  return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph(modules: dict[str, Path], root: Path = ROOT) -> dict[Edge, Where]:
  """Every import of one project module by another, resolved to the module it executes.

  `from pkg import name` points at `pkg.name` when that is a module, else at `pkg` (whose
  `__init__` must have defined `name`); relative imports are resolved against the importer's
  package. Importing `a.b.c` also runs the `__init__` of `a` and `a.b`, so those are edges
  too, except the importer's own packages (already running when it is imported).
  """
  edges: dict[Edge, Where] = {}
  for importer, path in modules.items():
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    where = str(path.relative_to(root))
    for node in _imports(ast.parse(path.read_text(), where)):
      targets = []
      if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
      else:
        base = node.module or ""
        if node.level:
          anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
          base = ".".join(anchor + ([base] if base else []))
        for alias in node.names:
          submodule = f"{base}.{alias.name}"
          targets.append(submodule if submodule in modules else base)
      for target in targets:
        while target and target not in modules:  # `import a.b.c` of a non-project tail
          target = target.rpartition(".")[0]
        if not target:
          continue
        own = set(_ancestors(importer))
        for module in [*(a for a in _ancestors(target) if a not in own), target]:
          if module != importer:
            first = edges.get((importer, module), (where, node.lineno))
            edges[importer, module] = min(first, (where, node.lineno))  # the first in the file
  return edges


def _components(nodes: list[str], edges: dict[Edge, Where]) -> list[list[str]]:
  """Strongly connected components with more than one module (Tarjan, iterative)."""
  succ = collections.defaultdict(list)
  for a, b in edges:
    succ[a].append(b)
  index, low, on_stack, stack, out = {}, {}, set(), [], []
  for start in nodes:
    if start in index:
      continue
    work = [(start, iter(succ[start]))]
    index[start] = low[start] = len(index)
    stack.append(start)
    on_stack.add(start)
    while work:
      node, children = work[-1]
      child = next(children, None)
      if child is None:
        work.pop()
        if work:
          low[work[-1][0]] = min(low[work[-1][0]], low[node])
        if low[node] == index[node]:
          component = []
          while True:
            member = stack.pop()
            on_stack.discard(member)
            component.append(member)
            if member == node:
              break
          if len(component) > 1:
            out.append(sorted(component))
      elif child not in index:
        index[child] = low[child] = len(index)
        stack.append(child)
        on_stack.add(child)
        work.append((child, iter(succ[child])))
      elif child in on_stack:
        low[node] = min(low[node], index[child])
  return out


def _shortest_cycle(component: list[str], edges: dict[Edge, Where]) -> list[str]:
  members = set(component)
  start = component[0]
  parents, frontier = {start: None}, [start]
  while frontier:
    nxt = []
    for a in frontier:
      for x, b in edges:
        if x != a or b not in members:
          continue
        if b == start:
          path = [a]
          while parents[path[-1]] is not None:
            path.append(parents[path[-1]])
          return [*reversed(path), start]
        if b not in parents:
          parents[b] = a
          nxt.append(b)
    frontier = nxt
  raise AssertionError(f"{component} is not a cycle")


def import_cycles(edges: dict[Edge, Where]) -> list[str]:
  """One readable report per group of modules that import each other (empty: no cycle)."""
  nodes = sorted({module for edge in edges for module in edge})
  reports = []
  for component in _components(nodes, edges):
    cycle = _shortest_cycle(component, edges)
    steps = [f"  {a} -> {b}  ({':'.join(map(str, edges[a, b]))})" for a, b in zip(cycle, cycle[1:])]
    inside = sorted(e for e in edges if e[0] in component and e[1] in component)
    extra = [
      f"  also {a} -> {b}  ({':'.join(map(str, edges[a, b]))})"
      for a, b in inside
      if (a, b) not in set(zip(cycle, cycle[1:]))
    ]
    reports.append("\n".join([f"cycle among {', '.join(component)}:", *steps, *extra]))
  return reports


@pytest.fixture(scope="module")
def edges():
  return import_graph(project_modules())


def test_the_import_scan_resolves_every_form_of_import(tmp_path, edges):
  files = {
    "pkg/__init__.py": "from pkg.a import A\n",
    "pkg/a.py": "from . import b\nA = 1\n",
    "pkg/b.py": "def late():\n  from .a import A\n  return A\n",
    "pkg/sub/__init__.py": "",
    "pkg/sub/c.py": "import pkg.sub.d\nfrom .. import A\nfrom __future__ import annotations\n",
    "pkg/sub/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n  from pkg.b import late\n",
  }
  for name, text in files.items():
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(text)
  graph = import_graph(project_modules(tmp_path, ("pkg",)), tmp_path)
  assert graph == {
    ("pkg", "pkg.a"): ("pkg/__init__.py", 1),
    ("pkg.a", "pkg.b"): ("pkg/a.py", 1),  # from . import <module>
    ("pkg.b", "pkg.a"): ("pkg/b.py", 2),  # inside a function
    ("pkg.sub.c", "pkg.sub.d"): ("pkg/sub/c.py", 1),
    ("pkg.sub.c", "pkg"): ("pkg/sub/c.py", 2),  # from .. import <name>: the package
    ("pkg.sub.d", "pkg.b"): ("pkg/sub/d.py", 3),  # for type checkers only, still an arrow
  }
  (report,) = import_cycles(graph)
  assert report.splitlines() == [
    "cycle among pkg.a, pkg.b:",
    "  pkg.a -> pkg.b  (pkg/a.py:1)",
    "  pkg.b -> pkg.a  (pkg/b.py:2)",
  ]
  assert ("xcoder_jax.data.pipeline", "xcoder_jax.data.schema") in edges
  assert ("xcoder_jax.train.sft", "xcoder_jax.data") in edges  # runs data/__init__.py


LIBRARIES = ("xcoder_jax", "data_pipeline")
ENTRY_POINTS = ("configs", "launch")


def test_library_code_never_imports_configs_or_launchers(edges):
  """Configs and launchers sit on top: they may import the library, never the other way, so a
  library module works with any config and from any entry point."""
  upward = [
    f"{a} -> {b}  ({':'.join(map(str, where))})"
    for (a, b), where in sorted(edges.items())
    if a.split(".")[0] in LIBRARIES and b.split(".")[0] in ENTRY_POINTS
  ]
  assert ("launch.rl", "configs.rl.base") in edges  # the scan sees configs at all
  assert not upward, "library modules importing configs/ or launch/:\n" + "\n".join(upward)


def test_no_import_cycles(edges):
  cycles = import_cycles(edges)
  assert not cycles, (
    "modules that import each other (move the shared piece into a third module, or pass it "
    "in as an argument):\n" + "\n".join(cycles)
  )


# ------------------------------------------------------------------------------ file size


def test_a_lazy_registry_entry_is_listed_refused_twice_and_imported_on_first_use():
  from xcoder_jax.registry import Registry

  registry = Registry("thing")
  registry.register_lazy("decoder", "json:JSONDecoder")
  assert registry.names() == ("decoder",) and "decoder" in registry and len(registry) == 1
  with pytest.raises(ValueError, match="already registered"):
    registry.register("decoder", object())
  assert registry.get("decoder") is json.JSONDecoder
  with pytest.raises(KeyError, match="choose one of decoder"):
    registry.get("encoder")
  registry.register_lazy("broken", "no_such_module_here:Thing")
  with pytest.raises(ModuleNotFoundError):
    registry.get("broken")
  assert "broken" in registry  # a failed import leaves the entry to fail the same way again


def test_synthsmith_workers_and_the_judge_start_without_jax():
  """Every Ray worker and judge service imports these: JAX would add seconds to each."""
  import subprocess
  import sys

  modules = ["data_pipeline.items", "data_pipeline.ray_runner", "xcoder_jax.judge.service"]
  check = f"import sys; import {', '.join(modules)}; print('jax' in sys.modules)"
  result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=ROOT)
  assert result.stdout.strip() == "False", result.stderr[-2000:]


def test_launch_scripts_parse():
  """The SLURM and TPU recipes cannot run here; ``bash -n`` at least catches a quote left
  open (a mistake that once slipped into a recipe)."""
  import subprocess

  scripts = sorted(
    path for suffix in (".sh", ".sbatch") for path in (ROOT / "launch").rglob(f"*{suffix}")
  )
  assert scripts
  for script in scripts:
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, (script, result.stderr)


def test_no_source_file_is_too_long():
  too_long = {}
  for root in SIZE_ROOTS:
    for path in sorted((ROOT / root).rglob("*")):
      if path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts:
        name = str(path.relative_to(ROOT))
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES and name not in LONG_FILES:
          too_long[name] = lines
  stale = [name for name in LONG_FILES if not (ROOT / name).is_file()]
  assert not too_long, (
    f"source files over {MAX_LINES} lines (split them by responsibility): {too_long}"
  )
  assert not stale, f"LONG_FILES names files that no longer exist: {stale}"


# ------------------------------------------------------------------------------ registries


def _refuse_checker(name):
  from xcoder_jax.judge import checkers

  checkers.get(name)


def _refuse_attention_kernel(name):
  from flax import nnx

  from xcoder_jax.models import Qwen, get_preset

  Qwen(get_preset("tiny", attention_impl=name), rngs=nnx.Rngs(0))  # refused before any weight


def _refuse_remat_policy(name):
  from xcoder_jax.models import get_preset

  get_preset("tiny", remat_policy=name)


def _refuse_lr_schedule(name):
  from xcoder_jax.train.optimizer import learning_rate_schedule

  learning_rate_schedule(1.0, 10, 0.0, name, 0.0)


@pytest.mark.parametrize(
  "module,registry,refuse",
  [
    ("xcoder_jax.judge.checkers", "CHECKERS", _refuse_checker),
    ("xcoder_jax.models.attention", "ATTENTION_KERNELS", _refuse_attention_kernel),
    ("xcoder_jax.models.remat", "REMAT_POLICIES", _refuse_remat_policy),
    ("xcoder_jax.train.optimizer", "LR_SCHEDULES", _refuse_lr_schedule),
  ],
)
def test_unknown_names_are_refused_with_the_valid_ones(module, registry, refuse):
  names = getattr(importlib.import_module(module), registry).names()
  assert len(names) >= 2
  with pytest.raises(ValueError) as info:
    refuse("no_such_entry")
  message = str(info.value)
  assert "'no_such_entry'" in message
  for name in names:
    assert re.search(rf"\b{re.escape(name)}\b", message), (name, message)


def _rl_config(section, key, name):
  from configs.rl import tiny

  config = tiny.get_config()
  config[section][key] = name
  return config


@pytest.mark.parametrize(
  "module,registry,section,key",
  [
    ("xcoder_jax.train.init", "INIT_SOURCES", "init", "source"),
    ("xcoder_jax.rollout.engine", "ENGINES", "rollout", "engine"),
    ("xcoder_jax.rl", "ADVANTAGE_ESTIMATORS", "rl", "advantage"),
    ("xcoder_jax.rl", "POLICY_LOSSES", "rl", "policy_loss"),
    ("xcoder_jax.rl", "AGGREGATIONS", "rl", "loss_agg"),
    ("xcoder_jax.rl", "KL_ESTIMATORS", "rl", "kl_estimator"),
  ],
)
def test_unknown_names_in_training_configs_list_the_valid_ones(module, registry, section, key):
  from xcoder_jax.rl import grpo
  from xcoder_jax.train import init

  config = _rl_config(section, key, "no_such_entry")
  names = getattr(importlib.import_module(module), registry).names()
  with pytest.raises(ValueError) as info:
    init.source_of(config) if registry == "INIT_SOURCES" else grpo.check_config(config)
  message = str(info.value)
  assert f"{section}.{key}" in message and "'no_such_entry'" in message
  for name in names:
    assert re.search(rf"\b{re.escape(name)}\b", message), (name, message)
