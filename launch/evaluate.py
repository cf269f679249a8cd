r"""Evaluate a model (or samples produced elsewhere) on a code benchmark.

  # score samples without a model: JSONL of {"question_id", "sample_index", "response"}
  python -m launch.evaluate --benchmark=livecodebench --data=test5.jsonl,test6.jsonl \
      --samples=SAMPLES.jsonl --k=8 --window=v5 --output=OUT.json
  # generate k samples per problem with a rollout engine, then score them
  python -m launch.evaluate --benchmark=livecodebench --data=... --model=HF_DIR_OR_WORKDIR \
      --k=8 --window=v6 --output=OUT.json [--engine=sglang --server_url=http://HOST:30000]
  # or from any OpenAI-compatible server (vLLM, hosted): --model is the served name
  python -m launch.evaluate --benchmark=humaneval --engine=openai \
      --server_url=http://HOST:8000 --model=NAME --tokenizer=TOKENIZER_DIR --output=OUT.json
  # judge on a Ray cluster (one judge per node) instead of this machine
  python -m launch.evaluate ... --runner=ray [--ray_address=HEAD:6379]

LiveCodeBench is graded by lcb_runner's rules (xcoder_jax/eval/lcb_grading.py) with its code
extraction unless --extraction=xcoder; OUT.json says which. Generated samples are appended to
--samples_out as they finish, so a rerun resumes. A user error (unknown benchmark, malformed
file, missing samples) prints one line naming the fix, exits with status 2 and writes nothing.
"""

from __future__ import annotations

import json
import os

from absl import flags

from launch import common
from xcoder_jax import fileio
from xcoder_jax.eval import extraction, report, samples, scoring
from xcoder_jax.eval.benchmarks import load_benchmark
from xcoder_jax.eval.types import BENCHMARKS, EvalInputError, LoadOptions
from xcoder_jax.judge.remote import make_judge

_BENCHMARK = flags.DEFINE_string(
  "benchmark", None, f"Benchmark name: one of {', '.join(BENCHMARKS.names())}.", required=True
)
_DATA = flags.DEFINE_string(
  "data",
  None,
  "Benchmark data: LiveCodeBench release JSONL file(s), comma-separated; a SynthSmith output "
  "directory; HumanEval: optional (the packaged set).",
)
_SAMPLES = flags.DEFINE_string(
  "samples", None, "JSONL of {question_id, sample_index, response} to score (no model needed)."
)
_MODEL = flags.DEFINE_string(
  "model", None, "HF directory or training workdir/checkpoint to generate samples with."
)
_K = flags.DEFINE_integer(
  "k", 1, "Samples per problem (avg@k; pass@1, 2, 4, ..., k).", lower_bound=1
)
_OUTPUT = flags.DEFINE_string("output", None, "Where the JSON report goes.", required=True)
_WINDOW = flags.DEFINE_string("window", None, "Named contest-date window: v5 or v6.")
_START = flags.DEFINE_string("start_date", None, "First contest date kept, YYYY-MM-DD (inclusive).")
_END = flags.DEFINE_string("end_date", None, "Last contest date kept, YYYY-MM-DD (inclusive).")
_EXTRACTION = flags.DEFINE_string(
  "extraction",
  None,
  f"Code extraction rule ({', '.join(extraction.EXTRACTORS.names())}); default: the "
  "benchmark's own (lcb for LiveCodeBench).",
)
_TIME_LIMIT = flags.DEFINE_float(
  "time_limit_s", None, "Seconds per test; default: the benchmark's."
)
_MEMORY = flags.DEFINE_integer("memory_mb", None, "Memory per run; default: the benchmark's.")
_WORKERS = flags.DEFINE_integer("judge_workers", None, "Judge workers (default 2 per core).")
_JUDGE_URLS = flags.DEFINE_string(
  "judge_urls",
  "",
  "Judge on these `launch.judge_serve` instances (comma-separated URLs) instead of in this "
  "process; the verdicts are the same.",
)
_JUDGE_TOKEN = flags.DEFINE_string("judge_token", None, "Bearer token of the judge services.")
_RUNNER = flags.DEFINE_enum(
  "runner",
  "local",
  ["local", "ray"],
  "Where the answers are judged: this process (or --judge_urls), or a Ray cluster (ray: one "
  "judge per node, two sandboxes per node CPU or --judge_workers); the verdicts are the same. "
  "Generation stays with --engine.",
)
_RAY_ADDRESS = flags.DEFINE_string(
  "ray_address",
  None,
  "With --runner=ray: the cluster to join (HOST:PORT or 'auto'); unset, the one in "
  "RAY_ADDRESS or else a new cluster on this machine.",
)
_MAX_PROBLEMS = flags.DEFINE_integer("max_problems", 0, "Keep the first N problems (0: all).")
_ENGINE = flags.DEFINE_string(
  "engine", "in_process", "Rollout engine (xcoder_jax.rollout ENGINES)."
)
_SERVER_URL = flags.DEFINE_string(
  "server_url",
  None,
  "The engine's server_url setting: the sglang engine's servers (comma-separated) or the "
  "openai engine's OpenAI-compatible server such as vLLM (--model is then the served model "
  "name and --tokenizer the model's tokenizer directory).",
)
_ENGINE_ARGS = flags.DEFINE_multi_string(
  "engine_arg",
  [],
  "An engine setting KEY=VALUE (VALUE parsed as JSON if it can), e.g. concurrency=16; the "
  "settings are each engine's `defaults`.",
)
_TOKENIZER = flags.DEFINE_string("tokenizer", None, "Tokenizer directory; default: the model's.")
_SAMPLES_OUT = flags.DEFINE_string(
  "samples_out", None, "Where generated samples go; default: OUTPUT with .samples.jsonl."
)
_TEMPERATURE = flags.DEFINE_float("temperature", 0.6, "Sampling temperature (X-Coder: 0.6).")
_TOP_P = flags.DEFINE_float("top_p", 0.95, "Nucleus sampling (X-Coder: 0.95).")
_TOP_K = flags.DEFINE_integer("top_k", 20, "Top-k sampling (X-Coder: 20).")
_MAX_NEW_TOKENS = flags.DEFINE_integer("max_new_tokens", 32768, "Tokens per answer at most.")
_SEED = flags.DEFINE_integer("seed", 0, "Sampling seed.")
_BATCH = flags.DEFINE_integer("batch_size", 8, "Problems per engine call.", lower_bound=1)
flags.declare_key_flag("debug")


SAMPLING_REPORTED = ("temperature", "top_p", "top_k", "max_new_tokens", "seed")


def _check_flags() -> None:
  if (_SAMPLES.value is None) == (_MODEL.value is None):
    raise EvalInputError("give exactly one of --samples=FILE (score) or --model=DIR (generate)")
  if _BENCHMARK.value not in BENCHMARKS:
    raise EvalInputError(f"--benchmark: {BENCHMARKS.unknown_message(_BENCHMARK.value)}")
  if _EXTRACTION.value is not None and _EXTRACTION.value not in extraction.EXTRACTORS:
    raise EvalInputError(
      f"--extraction: {extraction.EXTRACTORS.unknown_message(_EXTRACTION.value)}"
    )
  directory = os.path.dirname(os.path.abspath(_OUTPUT.value))
  if not os.path.isdir(directory):
    raise EvalInputError(f"--output: directory {directory!r} does not exist; create it first")


def _engine(tokenizer):
  """The chosen engine, built as every caller builds one: its settings (--server_url and
  --engine_arg over the engine's defaults) and what this command offers (the tokenizer,
  --model as a model to load or as the name a server serves it under)."""
  from xcoder_jax.rollout.engine import EngineContext, make_engine

  settings = {"server_url": _SERVER_URL.value} if _SERVER_URL.value else {}
  for item in _ENGINE_ARGS.value:
    key, sep, value = item.partition("=")
    if not sep:
      raise EvalInputError(f"--engine_arg={item!r}: write KEY=VALUE")
    try:
      settings[key] = json.loads(value)
    except json.JSONDecodeError:
      settings[key] = value
  context = EngineContext(
    tokenizer=tokenizer, load_model=lambda: _load_model(_MODEL.value), model_name=_MODEL.value
  )
  try:
    return make_engine(_ENGINE.value, settings, context)
  except (ValueError, TypeError) as error:
    raise EvalInputError(f"--engine={_ENGINE.value}: {error}") from None


def _load_model(path: str):
  """An HF directory (config.json) or a training workdir / checkpoint, on one device."""
  from xcoder_jax import checkpoint
  from xcoder_jax.hf import load_hf

  if os.path.isfile(os.path.join(path, "config.json")):
    return load_hf(path)
  return checkpoint.load_model(path)[0]


def _tokenizer():
  from xcoder_jax import checkpoint
  from xcoder_jax.data import load_tokenizer

  source = _TOKENIZER.value or _MODEL.value
  try:
    if not _TOKENIZER.value and not os.path.isfile(os.path.join(source, "tokenizer.json")):
      source = checkpoint.assets_dir(source) or source  # a workdir or checkpoint's assets/
    return load_tokenizer(source)
  except (FileNotFoundError, ValueError) as error:
    raise EvalInputError(f"{error} (or pass --tokenizer=DIR)") from None


def _sampling():
  from xcoder_jax.rollout.types import SamplingParams

  try:
    return SamplingParams(
      max_new_tokens=_MAX_NEW_TOKENS.value,
      temperature=_TEMPERATURE.value,
      top_p=_TOP_P.value,
      top_k=_TOP_K.value,
      seed=_SEED.value,
    )
  except ValueError as error:
    raise EvalInputError(f"{error}; fix the sampling flags") from None


def _generate(problems, k: int, path: str, sampling) -> dict[str, list[str]]:
  """k samples per problem, resuming from the problems ``path`` already completes."""
  from xcoder_jax.eval.generation import generate
  from xcoder_jax.rollout.engine import ENGINES

  if _ENGINE.value not in ENGINES:
    raise EvalInputError(f"--engine: {ENGINES.unknown_message(_ENGINE.value)}")
  if _ENGINE.value == "in_process" and not os.path.exists(_MODEL.value):
    raise EvalInputError(f"--model={_MODEL.value!r} does not exist; give an HF dir or workdir")
  tokenizer = _tokenizer()
  fileio.cut_torn_line(path)
  on_disk = samples.read_samples(path) if os.path.exists(path) else {}
  done = {
    qid: [by_index[i] for i in range(k)]
    for qid, by_index in on_disk.items()
    if all(i in by_index for i in range(k))
  }
  todo = [problem for problem in problems if problem.question_id not in done]
  if not todo:
    return done
  engine = _engine(tokenizer)
  try:
    fileio.write_jsonl_atomic(  # drop partial problems: they are generated again
      path,
      [
        {"question_id": qid, "sample_index": i, "response": text}
        for qid, texts in done.items()
        for i, text in enumerate(texts)
      ],
    )
    done.update(
      generate(
        todo,
        engine,
        tokenizer,
        k,
        sampling,
        batch_size=_BATCH.value,
        on_problem=lambda qid, texts: samples.append_samples(path, qid, texts),
      )
    )
  finally:
    engine.close()
  return done


def _evaluate(judge_pool) -> dict:
  """Loads the benchmark, generates (or reads) the answers and grades them on ``judge_pool``."""
  options = LoadOptions(
    time_limit_s=_TIME_LIMIT.value,
    memory_mb=_MEMORY.value,
    start_date=_START.value,
    end_date=_END.value,
    window=_WINDOW.value,
  )
  benchmark = load_benchmark(_BENCHMARK.value, _DATA.value, options)
  if _MAX_PROBLEMS.value:
    benchmark.problems = benchmark.problems[: _MAX_PROBLEMS.value]
  if not benchmark.problems:
    raise EvalInputError("no problems selected; check --data and the date window")
  k = _K.value
  ids = [problem.question_id for problem in benchmark.problems]
  extra: dict = {}
  if _SAMPLES.value:
    responses = samples.select(samples.read_samples(_SAMPLES.value), ids, k)
    extra["samples"] = os.path.abspath(_SAMPLES.value)
  else:
    path = _SAMPLES_OUT.value or os.path.splitext(_OUTPUT.value)[0] + ".samples.jsonl"
    sampling = _sampling()
    responses = _generate(benchmark.problems, k, path, sampling)
    extra.update(
      model=_MODEL.value,
      engine=_ENGINE.value,
      samples=os.path.abspath(path),
      sampling={key: getattr(sampling, key) for key in SAMPLING_REPORTED},
    )
  return scoring.evaluate(
    benchmark, responses, k, judge_pool, extraction=_EXTRACTION.value, **extra
  )


def run() -> dict:
  _check_flags()
  if _RUNNER.value == "ray" and _JUDGE_URLS.value:
    raise EvalInputError("give --runner=ray or --judge_urls, not both: each says where to judge")
  backend = "ray" if _RUNNER.value == "ray" else "remote" if _JUDGE_URLS.value else "local"
  # no sandbox, no service or no cluster answering: stop before generating
  judge_pool = make_judge(
    backend,
    _JUDGE_URLS.value,
    _WORKERS.value,
    token=_JUDGE_TOKEN.value,
    ray_address=_RAY_ADDRESS.value,
  )
  try:
    result = _evaluate(judge_pool)
  finally:
    judge_pool.close()
  fileio.write_json_atomic(_OUTPUT.value, result)
  print(report.table(result))
  return result


def main(argv):
  del argv
  run()  # EvalInputError and JudgeError name the problem: common.run prints them in one line


if __name__ == "__main__":
  common.run(main, "evaluate")
