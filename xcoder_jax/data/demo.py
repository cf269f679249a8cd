"""A tiny bundled SFT dataset written for this project, and the tiny tokenizer's build.

``generate_demo_records`` makes ~200 short programming tasks (statements with a worked
sample, and Python solutions) from a fixed seed; the tasks and their wording are original
to this project. ``assets/demo_sft.jsonl`` is its output and ``assets/tiny_tokenizer/`` is a
byte-level BPE trained on ``assets/tiny_corpus.txt`` plus the demo data. Regenerate both with

    python -m xcoder_jax.data.demo --write_assets

(deterministic: the bundled files are byte-identical to what this writes; a test checks it).
``make_demo_shards(dir)`` turns the demo data into ArrayRecord shards for the tiny configs.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Callable
from typing import Any

from xcoder_jax.data import shards
from xcoder_jax.data import tokenizer as tokenizer_lib

DEMO_JSONL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "demo_sft.jsonl")
DEMO_SEED = 20260601
DEMO_SIZE = 200

_NAMES = [
  "Alice",
  "Bob",
  "Carol",
  "Dmitri",
  "Esther",
  "Farid",
  "Gita",
  "Hugo",
  "Ines",
  "Jun",
  "Kemal",
  "Lena",
  "Mateo",
  "Nadia",
  "Oskar",
  "Priya",
  "Quentin",
  "Rosa",
  "Sven",
  "Tariq",
]
_WORDS = [
  "apple",
  "river",
  "stone",
  "window",
  "garden",
  "rocket",
  "pencil",
  "castle",
  "forest",
  "planet",
  "silver",
  "marble",
  "thunder",
  "lantern",
  "harbor",
  "meadow",
  "violet",
  "compass",
  "falcon",
  "orchard",
  "level",
  "radar",
  "noon",
  "kayak",
  "banana",
  "civic",
]


def _fmt(task: str, sample_in: str, sample_out: str) -> str:
  return f"{task}\n\nSample input:\n{sample_in}\n\nSample output:\n{sample_out}"


def _answer(rng: random.Random, idea: str, code: str) -> str:
  lead = rng.choice(["Idea: ", "Approach: ", "Plan: ", ""])
  return f"{lead}{idea}\n\n```python\n{code.strip()}\n```"


def _sum_two(rng):
  a, b = rng.randint(-500, 500), rng.randint(-500, 500)
  who = rng.choice(_NAMES)
  q = _fmt(f"{who} has two integers on one line. Print their sum.", f"{a} {b}", str(a + b))
  return q, _answer(
    rng,
    "Split the line, convert both parts to int and add them.",
    "a, b = map(int, input().split())\nprint(a + b)",
  )


def _multiply(rng):
  k, x = rng.randint(2, 12), rng.randint(1, 999)
  q = _fmt(f"Read one integer x and print x multiplied by {k}.", str(x), str(x * k))
  return q, _answer(rng, f"Multiply the number by {k}.", f"x = int(input())\nprint(x * {k})")


def _reverse(rng):
  w = rng.choice(_WORDS) + rng.choice(_WORDS)
  q = _fmt("Read a word and print it backwards.", w, w[::-1])
  return q, _answer(
    rng, "A slice with step -1 reverses a string.", "s = input().strip()\nprint(s[::-1])"
  )


def _vowels(rng):
  w = " ".join(rng.sample(_WORDS, 3))
  n = sum(ch in "aeiou" for ch in w)
  q = _fmt("Count the vowels (a, e, i, o, u) in a line of lowercase text.", w, str(n))
  return q, _answer(
    rng,
    "Check each character against the vowel set and count matches.",
    "s = input()\nprint(sum(ch in 'aeiou' for ch in s))",
  )


def _max_list(rng):
  xs = [rng.randint(-99, 99) for _ in range(rng.randint(3, 7))]
  q = _fmt(
    "The first line has n, the second line n integers. Print the largest.",
    f"{len(xs)}\n{' '.join(map(str, xs))}",
    str(max(xs)),
  )
  return q, _answer(
    rng,
    "Read the list and take its maximum.",
    "n = int(input())\nxs = list(map(int, input().split()))\nprint(max(xs))",
  )


def _even_sum(rng):
  n = rng.randint(5, 60)
  q = _fmt(
    "Given n, print the sum of all even numbers from 1 to n inclusive.",
    str(n),
    str(sum(range(2, n + 1, 2))),
  )
  return q, _answer(
    rng,
    "Step through the even numbers with range(2, n + 1, 2).",
    "n = int(input())\nprint(sum(range(2, n + 1, 2)))",
  )


def _factorial(rng):
  n = rng.randint(1, 12)
  f = 1
  for i in range(2, n + 1):
    f *= i
  q = _fmt("Print n! (the product 1 * 2 * ... * n) for the given n.", str(n), str(f))
  return q, _answer(
    rng,
    "Multiply an accumulator by every number up to n.",
    "n = int(input())\nresult = 1\nfor i in range(2, n + 1):\n    result *= i\nprint(result)",
  )


def _fib(rng):
  n = rng.randint(1, 30)
  a, b = 0, 1
  for _ in range(n):
    a, b = b, a + b
  q = _fmt(
    "The sequence starts 0, 1 and each next term is the sum of the previous two. "
    "Print the term with index n (index 0 is 0).",
    str(n),
    str(a),
  )
  return q, _answer(
    rng,
    "Keep the last two terms and advance n times.",
    "n = int(input())\na, b = 0, 1\nfor _ in range(n):\n    a, b = b, a + b\nprint(a)",
  )


def _palindrome(rng):
  w = rng.choice(_WORDS)
  q = _fmt(
    "Print YES if the word reads the same in both directions, otherwise NO.",
    w,
    "YES" if w == w[::-1] else "NO",
  )
  return q, _answer(
    rng,
    "Compare the word with its reverse.",
    "s = input().strip()\nprint('YES' if s == s[::-1] else 'NO')",
  )


def _count_char(rng):
  w = rng.choice(_WORDS) + " " + rng.choice(_WORDS)
  c = rng.choice(sorted(set(w.replace(" ", ""))))
  q = _fmt(f"Count how many times the letter '{c}' appears in the line.", w, str(w.count(c)))
  return q, _answer(rng, "str.count does exactly this.", f"s = input()\nprint(s.count('{c}'))")


def _gcd(rng):
  g = rng.randint(1, 20)
  a, b = g * rng.randint(1, 30), g * rng.randint(1, 30)
  import math

  q = _fmt(
    "Print the greatest common divisor of the two integers a and b.",
    f"{a} {b}",
    str(math.gcd(a, b)),
  )
  return q, _answer(
    rng,
    "Euclid's algorithm: replace (a, b) by (b, a % b) until b is 0.",
    "a, b = map(int, input().split())\nwhile b:\n    a, b = b, a % b\nprint(a)",
  )


def _sort(rng):
  xs = [rng.randint(0, 50) for _ in range(rng.randint(4, 8))]
  desc = rng.random() < 0.5
  order = "descending" if desc else "ascending"
  out = " ".join(map(str, sorted(xs, reverse=desc)))
  q = _fmt(
    f"Sort the integers on the line in {order} order and print them.", " ".join(map(str, xs)), out
  )
  rev = ", reverse=True" if desc else ""
  return q, _answer(
    rng,
    f"Use sorted{'(..., reverse=True)' if desc else ''} and join.",
    f"xs = list(map(int, input().split()))\nprint(' '.join(map(str, sorted(xs{rev}))))",
  )


def _stairs(rng):
  n = rng.randint(2, 5)
  ch = rng.choice("#*+")
  out = "\n".join(ch * i for i in range(1, n + 1))
  q = _fmt(f"Print a staircase of n rows: row i holds i copies of '{ch}'.", str(n), out)
  return q, _answer(
    rng,
    "Print the repeated character once per row.",
    f"n = int(input())\nfor i in range(1, n + 1):\n    print('{ch}' * i)",
  )


def _case(rng):
  w = " ".join(rng.sample(_WORDS, 2))
  up = rng.random() < 0.5
  q = _fmt(
    f"Print the line in {'upper' if up else 'title'} case.", w, w.upper() if up else w.title()
  )
  m = "upper" if up else "title"
  return q, _answer(rng, f"str.{m}() converts the whole line.", f"print(input().{m}())")


def _digit_sum(rng):
  n = rng.randint(10, 10**7)
  q = _fmt("Print the sum of the decimal digits of n.", str(n), str(sum(map(int, str(n)))))
  return q, _answer(
    rng,
    "Add the digits of the decimal string.",
    "n = input().strip()\nprint(sum(int(d) for d in n))",
  )


def _prime(rng):
  n = rng.randint(2, 200)
  isp = all(n % d for d in range(2, int(n**0.5) + 1))
  q = _fmt(
    "Print PRIME if n is prime and COMPOSITE otherwise (n >= 2).",
    str(n),
    "PRIME" if isp else "COMPOSITE",
  )
  return q, _answer(
    rng,
    "Trial division up to the square root is enough.",
    "n = int(input())\nd = 2\nprime = True\nwhile d * d <= n:\n    if n % d == 0:\n"
    "        prime = False\n        break\n    d += 1\nprint('PRIME' if prime else 'COMPOSITE')",
  )


def _second(rng):
  xs = rng.sample(range(1, 100), rng.randint(3, 7))
  q = _fmt(
    "All numbers on the line are distinct. Print the second largest.",
    " ".join(map(str, xs)),
    str(sorted(xs)[-2]),
  )
  return q, _answer(
    rng,
    "Sort and take the element before the last.",
    "xs = sorted(map(int, input().split()))\nprint(xs[-2])",
  )


def _words(rng):
  w = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 6)))
  q = _fmt("Count the words in the line (words are separated by spaces).", w, str(len(w.split())))
  return q, _answer(
    rng, "split() without arguments splits on runs of spaces.", "print(len(input().split()))"
  )


def _replace(rng):
  w = rng.choice(_WORDS)
  a = rng.choice(sorted(set(w)))
  b = rng.choice("xyz")
  q = _fmt(f"Replace every '{a}' in the word with '{b}' and print the result.", w, w.replace(a, b))
  return q, _answer(
    rng, "str.replace handles every occurrence.", f"print(input().replace('{a}', '{b}'))"
  )


def _powmod(rng):
  a, b, m = rng.randint(2, 9), rng.randint(2, 40), rng.choice([7, 11, 13, 97, 1000])
  q = _fmt(f"Print a to the power b modulo {m}.", f"{a} {b}", str(pow(a, b, m)))
  return q, _answer(
    rng,
    "Python's three-argument pow is fast modular exponentiation.",
    f"a, b = map(int, input().split())\nprint(pow(a, b, {m}))",
  )


def _prefix(rng):
  xs = [rng.randint(1, 9) for _ in range(rng.randint(3, 6))]
  out, s = [], 0
  for x in xs:
    s += x
    out.append(s)
  q = _fmt(
    "Print the running totals of the numbers on the line.",
    " ".join(map(str, xs)),
    " ".join(map(str, out)),
  )
  return q, _answer(
    rng,
    "Keep a running sum and record it after each number.",
    "xs = map(int, input().split())\ntotal = 0\nout = []\nfor x in xs:\n"
    "    total += x\n    out.append(total)\nprint(' '.join(map(str, out)))",
  )


FAMILIES: list[Callable[[random.Random], tuple[str, str]]] = [
  _sum_two,
  _multiply,
  _reverse,
  _vowels,
  _max_list,
  _even_sum,
  _factorial,
  _fib,
  _palindrome,
  _count_char,
  _gcd,
  _sort,
  _stairs,
  _case,
  _digit_sum,
  _prime,
  _second,
  _words,
  _replace,
  _powmod,
  _prefix,
]


def generate_demo_records(n: int = DEMO_SIZE, seed: int = DEMO_SEED) -> list[dict[str, Any]]:
  """Deterministic demo SFT records in X-Coder's query/response layout."""
  rng = random.Random(seed)
  out = []
  seen: set[str] = set()
  for i in range(n):
    fam = FAMILIES[i % len(FAMILIES)]
    q, r = fam(rng)
    while q in seen:  # every demo example is distinct
      q, r = fam(rng)
    seen.add(q)
    out.append(
      {
        "id": f"demo-{i:04d}",
        "query": q,
        "response": r,
        "metadata": {"family": fam.__name__.lstrip("_")},
      }
    )
  return out


def write_demo_jsonl(path: str = DEMO_JSONL) -> None:
  with open(path, "w", encoding="utf-8") as f:
    for rec in generate_demo_records():
      f.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")


def load_demo_records(path: str = DEMO_JSONL) -> list[dict[str, Any]]:
  with open(path, encoding="utf-8") as f:
    return [json.loads(line) for line in f if line.strip()]


def make_demo_shards(
  output_dir: str, num_shards: int = 2, *, overwrite: bool = False
) -> dict[str, Any]:
  """Writes the bundled demo dataset as ArrayRecord shards into ``output_dir``."""
  return shards.write_shards(
    load_demo_records(),
    output_dir,
    num_shards,
    prefix="demo",
    overwrite=overwrite,
    extra_manifest={"source": "demo_sft.jsonl"},
  )


def tiny_training_text() -> list[str]:
  """The text the tiny tokenizer is trained on: the handwritten corpus plus the demo data."""
  with open(tokenizer_lib.TINY_CORPUS, encoding="utf-8") as f:
    texts = [f.read()]
  for rec in generate_demo_records():
    texts.append(rec["query"])
    texts.append(rec["response"])
  return texts


def write_assets() -> None:
  write_demo_jsonl()
  tokenizer_lib.build_tiny_tokenizer(tokenizer_lib.TINY_TOKENIZER_DIR, tiny_training_text())


if __name__ == "__main__":
  if "--write_assets" in sys.argv[1:]:
    write_assets()
    print(f"wrote {DEMO_JSONL} and {tokenizer_lib.TINY_TOKENIZER_DIR}")
  else:
    print(__doc__)
