"""Preference pairs the DPO tests build from the SFT demo: the demo answer is chosen, the same
answer with its program broken (so it would fail the task's tests) is rejected."""

import json

from xcoder_jax.data.demo import load_demo_records


def demo_pairs(n: int = 64) -> list[dict]:
  pairs = []
  for record in load_demo_records()[:n]:
    answer = record["response"]
    code = answer.split("```python\n", 1)[1]
    pairs.append(
      {
        "id": record["id"],
        "task_id": record["id"],
        "prompt": record["query"],
        "chosen": answer,
        "rejected": answer.replace(code, "print(input()[::-1])\n```"),
        "chosen_pass_fraction": 1.0,
        "rejected_pass_fraction": 0.0,
        "rejected_reason": "wrong_answer",
        "metadata": {},
      }
    )
  return pairs


def write_pairs(path, pairs) -> str:
  with open(path, "w") as f:
    for pair in pairs:
      f.write(json.dumps(pair) + "\n")
  return str(path)
