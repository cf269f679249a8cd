"""A toy verifiable task set that a tiny model can learn with RL on a CPU in minutes.

Task k asks for a program that prints a given number; its one test expects that number on
stdout, so rewards come from running the answer in the judge exactly as for real tasks.
A random model never writes a python code block, so RL alone has nothing to reinforce: the
tiny RL config first warms up with a few SFT steps on `warmup_records`, whose answers have
the right format and the right number only half of the time (a random one otherwise), like
an SFT model that is sometimes right. GRPO then has to raise the pass rate from about
`CORRECT_FRACTION` towards 1, from judge rewards alone.
"""

from __future__ import annotations

import os
import random

from xcoder_jax.data.shards import write_shards

NUM_VALUES = 10
CORRECT_FRACTION = 0.5  # of warm-up answers with the right number
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
  """SFT records with the answer format right and the number right only sometimes."""
  rng = random.Random(seed)
  records = []
  for i in range(count):
    value = i % NUM_VALUES
    shown = value if rng.random() < CORRECT_FRACTION else rng.randrange(NUM_VALUES)
    records.append(
      {"id": f"toy-warmup-{i}", "query": PROMPT.format(value=value), "response": answer(shown)}
    )
  return records


def write_toy_shards(directory: str) -> dict[str, str]:
  """Writes (once) the RL tasks and the warm-up SFT set; returns their shard directories."""
  paths = {"rl": os.path.join(directory, "rl"), "warmup": os.path.join(directory, "warmup")}
  if not os.path.isfile(os.path.join(paths["rl"], "manifest.json")):
    write_shards(rl_records(), paths["rl"], prefix="rl", overwrite=True, sft_schema=False)
  if not os.path.isfile(os.path.join(paths["warmup"], "manifest.json")):
    write_shards(warmup_records(), paths["warmup"], prefix="sft", overwrite=True)
  return paths
