"""SynthSmith defaults, from X-Coder's recipe (shared/RECIPE.md); real runs override seeds and
the teacher (e.g. --config.teacher.base_url=http://host:30000/v1)."""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  # TACO / CodeContests-style JSONL or Parquet files: comma-separated globs (a flag cannot set a
  # list), e.g. --config.seeds='seeds/*.jsonl,more/*.parquet'
  c.seeds = "seeds/*.jsonl"
  c.validate_on_seeds = True  # score voting against seeds' ground-truth tests
  c.judge_workers = 0  # 0: two per core
  # local: a Judge in this process; remote: `launch.judge_serve` instances at judge_urls
  # (comma-separated), judge_token if they ask for one. Same verdicts either way.
  c.judge_backend = "local"
  c.judge_urls = ""
  c.judge_token = ""
  # Each stage's work file records the settings it ran with (its config section and the
  # teacher's model); a rerun with other settings stops naming them, unless redo_changed:
  # then the changed stages and every stage after them are redone (old files in work/superseded)
  c.redo_changed = False

  c.teacher = ml_collections.ConfigDict()
  # openai (SGLang/vLLM/hosted) | jax (in-process, from teacher.model_dir) | replay; the demo
  # config adds scripted_demo_author (authoring the demo recording only)
  c.teacher.backend = "openai"
  c.teacher.base_url = "http://127.0.0.1:30000/v1"
  c.teacher.model = "default"
  c.teacher.api_key = ""
  c.teacher.concurrency = 64
  c.teacher.timeout_s = 600.0  # per request; one long generation must fit in it
  c.teacher.health_timeout_s = 30.0  # the check before the first stage (GET base_url/models)
  c.teacher.max_retries = 4  # each retry is logged; a request failing all marks the teacher down
  c.teacher.backoff_s = 2.0
  c.teacher.replay_file = ""
  c.teacher.replay_latency_s = 0.0
  c.teacher.record_to = ""  # append every answer here, replayable with backend=replay
  c.teacher.model_dir = ""  # backend=jax: HF model directory (tokenizer from the same dir)

  generic = {"temperature": 0.7, "top_p": 0.8, "max_tokens": 4096}
  c.features = ml_collections.ConfigDict({"sampling": dict(generic)})
  c.evolution = ml_collections.ConfigDict({"steps": 200, "seed": 0, "sampling": dict(generic)})
  c.configs = ml_collections.ConfigDict(
    {
      "seed": 0,
      "num_configs": 10000,
      "min_leaves": 25,
      "max_attempts": 500 * 10000,
      "shapes": [(3, 3, 1), (3, 3, 2), (4, 3, 2)],
    }
  )
  c.tasks = ml_collections.ConfigDict(
    {
      "seed": 0,
      "sampling": dict(generic),
      "style_weights": {"codeforces": 0.70, "leetcode": 0.15, "atcoder": 0.15},
    }
  )
  # num_candidates answers per language; languages are the judge's (python, cpp, java,
  # javascript, typescript, php, csharp, bash, go, rust). Candidates of every language vote on
  # the test outputs together; each language gets its own golden solution, SFT record and DPO
  # pairs. LeetCode-style tasks are asked in Python only.
  c.solutions = ml_collections.ConfigDict(
    {
      "num_candidates": 8,
      "languages": ("python",),
      "sampling": {"temperature": 0.6, "top_p": 0.95, "max_tokens": 32768},
    }
  )
  c.test_inputs = ml_collections.ConfigDict(
    {"sampling": dict(generic), "generated_inputs": 20, "min_inputs": 5, "max_inputs": 40}
  )
  c.verify = ml_collections.ConfigDict(
    {
      "min_candidates": 3,
      "min_votes": 2,
      "min_agreement": 0.5,
      "held_out_every": 4,
      "min_tests": 5,
      "time_limit_s": 10.0,
      "memory_mb": 256,
    }
  )
  # The train/held-out split (xcoder_jax/data/split.py owns the rule): a task is held out when
  # the hash of its statement falls below heldout_fraction, and a training task that is a
  # near-duplicate of a held-out one (the overlap coefficient of word ngram-grams) joins it.
  # 2% of X-Coder's ~177k tasks is ~3.5k held-out problems: a standard error under 1 point.
  c.split = ml_collections.ConfigDict(
    {"heldout_fraction": 0.02, "ngram": 5, "near_duplicate_overlap": 0.5}
  )
  c.dedup = ml_collections.ConfigDict(
    {
      "humaneval": True,
      "livecodebench_files": [],
      "contamination_ngram": 13,
      "shingle_size": 5,
      "near_duplicate_jaccard": 0.6,
    }
  )
  # DPO pairs (data_pipeline/pairs.py): a candidate passing every verified test (chosen) over
  # one failing some (rejected); the gap is 1 - the rejected one's pass fraction.
  c.pairs = ml_collections.ConfigDict(
    {"enabled": True, "max_per_task": 4, "min_gap": 0.0, "seed": 0}
  )
  c.output = ml_collections.ConfigDict({"num_shards": 16, "sample_size": 20})
  return c
