"""Benchmark loaders, one file each, registered in ``BENCHMARKS`` by name.

A new benchmark is one module here: a ``load(data, options) -> Benchmark`` function
decorated with ``@BENCHMARKS.register("name")``, imported below.
"""

from xcoder_jax.eval.benchmarks import humaneval, livecodebench, synthsmith  # noqa: F401  (registration)
from xcoder_jax.eval.types import BENCHMARKS, Benchmark, EvalInputError, LoadOptions


def load_benchmark(
  name: str, data: str | None = None, options: LoadOptions | None = None
) -> Benchmark:
  """The named benchmark's problems; an unknown name lists the known ones."""
  if name not in BENCHMARKS:
    raise EvalInputError(f"--benchmark: {BENCHMARKS.unknown_message(name)}")
  return BENCHMARKS.get(name)(data, options or LoadOptions())
