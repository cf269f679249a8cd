"""A toy verifiable task set that a tiny model can learn with RL on a CPU in minutes.

Task k asks for a program that prints a given number; its one test expects that number on
stdout, so rewards come from running the answer in the judge exactly as for real tasks.
A random model never writes a python code block, so RL alone has nothing to reinforce: the
tiny RL config first warms up with a few SFT steps on `warmup_records`, whose answers have
the right FORMAT but a random number. After the warm-up the policy writes code blocks that
pass about one test in `NUM_VALUES`; raising that is what GRPO has to learn.
"""

from __future__ import annotations

import os
import random

from xcoder_jax.data.shards import write_shards

NUM_VALUES = 10
PROMPT = "Write a Python program that prints the number {value}."


def answer(value: int) -> str:
  return f"```python\nprint({value})\n```"


def rl_records() -> list[dict]:
  """One RL record per value, in the schema of `xcoder_jax.data.rl`."""
  return [
    {
      "id": f"toy-print-{value}",
      "prompt": PROMPT.format(value=value),
      "kind": "stdio",
      "fn_name": None,
      "tests": [{"input": "", "output": str(value)}],
      "difficulty": "toy",
    }
    for value in range(NUM_VALUES)
  ]


def warmup_records(count: int = 400, seed: int = 0) -> list[dict]:
  """SFT records with the answer format right and the number drawn at random."""
  rng = random.Random(seed)
  return [
    {
      "id": f"toy-warmup-{i}",
      "query": PROMPT.format(value=i % NUM_VALUES),
      "response": answer(rng.randrange(NUM_VALUES)),
    }
    for i in range(count)
  ]


def write_toy_shards(directory: str) -> dict[str, str]:
  """Writes (once) the RL tasks and the warm-up SFT set; returns their shard directories."""
  paths = {"rl": os.path.join(directory, "rl"), "warmup": os.path.join(directory, "warmup")}
  if not os.path.isfile(os.path.join(paths["rl"], "manifest.json")):
    write_shards(rl_records(), paths["rl"], prefix="rl", overwrite=True, sft_schema=False)
  if not os.path.isfile(os.path.join(paths["warmup"], "manifest.json")):
    write_shards(warmup_records(), paths["warmup"], prefix="sft", overwrite=True)
  return paths
