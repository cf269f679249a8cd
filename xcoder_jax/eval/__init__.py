"""Evaluation: benchmarks, LiveCodeBench-exact grading in the sandboxed judge, pass@k/avg@k.

    from xcoder_jax import eval as xeval
    bench = xeval.load_benchmark("livecodebench", "test6.jsonl", xeval.LoadOptions(window="v6"))
    responses = generation.generate(bench.problems, engine, tokenizer, k=8)  # or a samples file
    result = xeval.evaluate(bench, responses, k=8)
    print(xeval.table(result))

``xcoder_jax.eval.generation`` (which imports JAX) is imported on its own; scoring does not
need it. See README.md in this directory for the rules and the report format.
"""

from xcoder_jax.eval.benchmarks import load_benchmark
from xcoder_jax.eval.extraction import EXTRACTORS, extract
from xcoder_jax.eval.metrics import avg_at_k, k_values, pass_at_k
from xcoder_jax.eval.report import table
from xcoder_jax.eval.samples import append_samples, read_samples, select
from xcoder_jax.eval.scoring import evaluate
from xcoder_jax.eval.types import BENCHMARKS, Benchmark, EvalInputError, LoadOptions, Problem

__all__ = [
  "BENCHMARKS",
  "EXTRACTORS",
  "Benchmark",
  "EvalInputError",
  "LoadOptions",
  "Problem",
  "append_samples",
  "avg_at_k",
  "evaluate",
  "extract",
  "k_values",
  "load_benchmark",
  "pass_at_k",
  "read_samples",
  "select",
  "table",
]
