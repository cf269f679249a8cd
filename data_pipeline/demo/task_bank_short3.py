"""Short warm-up demo tasks (part 3 of 3): counting formulas, then the LeetCode-style ones;
see task_bank_short.py."""

from data_pipeline.demo.task_bank_short import JSON_GEN, statement, stdio


def leetcode(title, signature, story, examples, constraints, correct, wrong, inputs, gen, val):
  """A LeetCode-style task dict laid out like task_bank's: story, examples, constraints and the
  ``class Solution`` stub; ``signature`` is the method's, e.g. ``f(self, a: int) -> int``."""
  text = f"{story}\n\n"
  for number, (example_in, example_out) in enumerate(examples, 1):
    text += f"**Example {number}**\nInput: {example_in}\nOutput: {example_out}\n\n"
  text += (
    f"**Constraints**\n{constraints}\n\n```python\nclass Solution:\n    def {signature}:\n```\n"
  )
  return {
    "title": title,
    "kind": "leetcode",
    "fn_name": signature.split("(")[0],
    "statement": text,
    "correct": correct,
    "wrong": wrong,
    "inputs": inputs,
    "generator": JSON_GEN + gen,
    "validator": "import json\n" + val,
  }


TASKS = [
  stdio(
    "Bakery Campaign",
    statement(
      "A bakery knows its sales for each of the last n days. The owner will run a campaign for "
      "exactly k consecutive days and wants to place it where past sales over k consecutive "
      "days were highest. Report that highest total.",
      "The first line contains n and k (1 <= k <= n <= 1000). The second line contains the n "
      "daily sales (0 <= a_i <= 10^4).",
      "Print the largest sum of k consecutive days.",
      ("6 3\n2 9 1 4 8 3", "15"),
      ("2 2\n5 5", "10"),
    ),
    [
      "n, k = map(int, input().split())\na = list(map(int, input().split()))\n"
      "print(max(sum(a[i:i + k]) for i in range(n - k + 1)))\n",
      "n, k = map(int, input().split())\na = list(map(int, input().split()))\n"
      "s = best = sum(a[:k])\nfor i in range(k, n):\n    s += a[i] - a[i - k]\n"
      "    best = max(best, s)\nprint(best)\n",
    ],
    [
      "n, k = map(int, input().split())\na = list(map(int, input().split()))\n"
      "print(max(sum(a[i:i + k]) for i in range(1, n - k + 1)))\n",
      "n, k = map(int, input().split())\nprint(sum(sorted(map(int, input().split()))[-k:]))\n",
    ],
    ["6 3\n2 9 1 4 8 3", "2 2\n5 5", "4 1\n0 7 0 7", "3 4\n1 2 3"],
    "n = random.randint(1, 10)\nprint(n, random.randint(1, n))\n"
    "print(*[random.randint(0, 20) for _ in range(n)])\n",
    "n, k = map(int, input().split())\na = list(map(int, input().split()))\n"
    "assert 1 <= k <= n <= 1000 and len(a) == n and all(0 <= x <= 10**4 for x in a)\n",
  ),
  stdio(
    "Warmer Mornings",
    statement(
      "Each morning for n days a gardener notes the temperature at seven o'clock. She wonders "
      "on how many mornings it was strictly warmer than on the morning before; the first "
      "morning has nothing to compare with and never counts.",
      "The first line contains n (1 <= n <= 1000). The second line contains the n "
      "temperatures (-30 <= t_i <= 40).",
      "Print the number of mornings warmer than the previous one.",
      ("6\n3 5 5 4 8 9", "3"),
      ("1\n20", "0"),
    ),
    ["input()\nt = list(map(int, input().split()))\nprint(sum(b > a for a, b in zip(t, t[1:])))\n"],
    [
      "input()\nt = list(map(int, input().split()))\n"
      "print(sum(b >= a for a, b in zip(t, t[1:])))\n",
      "input()\nt = list(map(int, input().split()))\nprint(sum(x > t[0] for x in t[1:]))\n",
    ],
    ["6\n3 5 5 4 8 9", "1\n20", "3\n-1 -2 -3", "2\n1"],
    "n = random.randint(1, 10)\nprint(n)\nprint(*[random.randint(-3, 3) for _ in range(n)])\n",
    "n = int(input())\nt = list(map(int, input().split()))\n"
    "assert 1 <= n <= 1000 and len(t) == n and all(-30 <= x <= 40 for x in t)\n",
  ),
  stdio(
    "Raffle Multiples",
    statement(
      "A raffle sold every ticket numbered from l up to r, both included. Each ticket whose "
      "number is a multiple of d wins a small prize. How many prize tickets were sold?",
      "One line with l, r and d (1 <= l <= r <= 10^18, 1 <= d <= 10^18).",
      "Print the number of winning tickets.",
      ("10 25 5", "4"),
      ("7 9 10", "0"),
    ),
    [
      "l, r, d = map(int, input().split())\nprint(r // d - (l - 1) // d)\n",
      "l, r, d = map(int, input().split())\nprint(len(range((l + d - 1) // d * d, r + 1, d)))\n",
    ],
    [
      "l, r, d = map(int, input().split())\nprint(r // d - l // d)\n",
      "l, r, d = map(int, input().split())\nprint(r // d - l // d + 1)\n",
    ],
    ["10 25 5", "7 9 10", "1 1 1", "5 4 2"],
    "l = random.randint(1, 50)\nprint(l, random.randint(l, 100), random.randint(1, 10))\n",
    "l, r, d = map(int, input().split())\nassert 1 <= l <= r <= 10**18 and 1 <= d <= 10**18\n",
  ),
  stdio(
    "Cube Pyramid",
    statement(
      "A child builds a square pyramid of cubes from the top down: the top layer is a single "
      "cube, the layer below it is 2 by 2 cubes, then 3 by 3, and so on. With c cubes in the "
      "toy box, how many complete layers can she build?",
      "One line with c (1 <= c <= 10^9).",
      "Print the largest number of complete layers.",
      ("14", "3"),
      ("4", "1"),
    ),
    [
      "c = int(input())\nlayers = 0\nwhile c >= (layers + 1) ** 2:\n    layers += 1\n"
      "    c -= layers**2\nprint(layers)\n"
    ],
    [
      "c = int(input())\nlayers = 0\nwhile c > (layers + 1) ** 2:\n    layers += 1\n"
      "    c -= layers**2\nprint(layers)\n",
      "import math\nprint(math.isqrt(int(input())))\n",
    ],
    ["14", "4", "1", "0"],
    "print(random.choice([random.randint(1, 100),"
    " sum(i * i for i in range(1, random.randint(2, 8)))]))\n",
    "c = int(input())\nassert 1 <= c <= 10**9\n",
  ),
  stdio(
    "Bookshelf Rows",
    statement(
      "Books of widths w_1, ..., w_n must go onto shelves in exactly this order. Every shelf is "
      "W centimetres wide. Books are placed from left to right, and whenever the next book does "
      "not fit on the current shelf, a new shelf is started. No book is wider than W.",
      "The first line contains n and W (1 <= n <= 1000, 1 <= W <= 1000). The second line "
      "contains the n widths (1 <= w_i <= W).",
      "Print the number of shelves used.",
      ("5 10\n4 5 3 6 2", "3"),
      ("3 5\n5 5 5", "3"),
    ),
    [
      "n, W = map(int, input().split())\nshelves, used = 1, 0\n"
      "for w in map(int, input().split()):\n    if used + w > W:\n"
      "        shelves, used = shelves + 1, 0\n    used += w\nprint(shelves)\n"
    ],
    [
      "n, W = map(int, input().split())\nprint(-(-sum(map(int, input().split())) // W))\n",
      "n, W = map(int, input().split())\nshelves, used = 1, 0\n"
      "for w in map(int, input().split()):\n    if used + w >= W:\n"
      "        shelves, used = shelves + 1, 0\n    used += w\nprint(shelves)\n",
    ],
    ["5 10\n4 5 3 6 2", "3 5\n5 5 5", "1 1\n1", "2 3\n1 4"],
    "n, W = random.randint(1, 10), random.randint(3, 12)\nprint(n, W)\n"
    "print(*[random.randint(1, W) for _ in range(n)])\n",
    "n, W = map(int, input().split())\nw = list(map(int, input().split()))\n"
    "assert 1 <= n <= 1000 and 1 <= W <= 1000 and len(w) == n and all(1 <= x <= W for x in w)\n",
  ),
  stdio(
    "Longest Climb",
    statement(
      "A share price is written down once a day for n days. A climb is a stretch of consecutive "
      "days on which the price rises strictly from each day to the next; a single day on its "
      "own is a climb of length 1. Find the longest climb.",
      "The first line contains n (1 <= n <= 10^5). The second line contains the n prices "
      "(1 <= p_i <= 10^9).",
      "Print the length of the longest climb in days.",
      ("7\n5 6 7 3 4 4 9", "3"),
      ("3\n3 3 3", "1"),
    ),
    [
      "input()\np = list(map(int, input().split()))\nbest = cur = 1\nfor a, b in zip(p, p[1:]):\n"
      "    cur = cur + 1 if b > a else 1\n    best = max(best, cur)\nprint(best)\n"
    ],
    [
      "input()\np = list(map(int, input().split()))\nbest = cur = 1\nfor a, b in zip(p, p[1:]):\n"
      "    cur = cur + 1 if b >= a else 1\n    best = max(best, cur)\nprint(best)\n",
      "input()\np = list(map(int, input().split()))\nbest = cur = 1\nfor a, b in zip(p, p[1:]):\n"
      "    if b > a:\n        cur += 1\n        best = max(best, cur)\nprint(best)\n",
    ],
    ["7\n5 6 7 3 4 4 9", "3\n3 3 3", "1\n10", "2\n4 x"],
    "n = random.randint(1, 10)\nprint(n)\nprint(*[random.randint(1, 6) for _ in range(n)])\n",
    "n = int(input())\np = list(map(int, input().split()))\n"
    "assert 1 <= n <= 10**5 and len(p) == n and all(1 <= x <= 10**9 for x in p)\n",
  ),
  stdio(
    "Tram Timetable",
    statement(
      "Trams leave the terminus every p minutes, the first one at minute 0. A passenger reaches "
      "the platform at minute t. If a tram departs at exactly minute t, she boards it and does "
      "not wait at all.",
      "One line with p and t (1 <= p <= 1000, 0 <= t <= 10^6).",
      "Print how many minutes she waits for her tram.",
      ("15 40", "5"),
      ("10 30", "0"),
    ),
    [
      "p, t = map(int, input().split())\nprint(-t % p)\n",
      "p, t = map(int, input().split())\nprint((p - t % p) % p)\n",
    ],
    [
      "p, t = map(int, input().split())\nprint(p - t % p)\n",
      "p, t = map(int, input().split())\nprint(t % p)\n",
    ],
    ["15 40", "10 30", "1 0", "0 5"],
    "p = random.randint(1, 12)\n"
    "print(p, random.choice([random.randint(0, 60), p * random.randint(0, 5)]))\n",
    "p, t = map(int, input().split())\nassert 1 <= p <= 1000 and 0 <= t <= 10**6\n",
  ),
  stdio(
    "Loyalty Coffee",
    statement(
      "A cafe runs a loyalty offer: of all the cups one customer orders, every k-th cup (the "
      "k-th, the 2k-th, and so on) is on the house. Every other cup costs c coins. A customer "
      "orders n cups of coffee.",
      "One line with n, k and c (1 <= n, k, c <= 10^6).",
      "Print the number of coins the customer pays.",
      ("10 3 4", "28"),
      ("2 5 3", "6"),
    ),
    ["n, k, c = map(int, input().split())\nprint((n - n // k) * c)\n"],
    [
      "n, k, c = map(int, input().split())\nprint((n - n // (k + 1)) * c)\n",
      "n, k, c = map(int, input().split())\nprint((n - (n - 1) // k) * c)\n",
    ],
    ["10 3 4", "2 5 3", "6 1 9", "3 0 2"],
    "print(random.randint(1, 30), random.randint(1, 6), random.randint(1, 9))\n",
    "n, k, c = map(int, input().split())\n"
    "assert 1 <= n <= 10**6 and 1 <= k <= 10**6 and 1 <= c <= 10**6\n",
  ),
  stdio(
    "Contest Standing",
    statement(
      "After a programming contest the n participants are ranked by score. A participant's "
      "rank is one plus the number of participants with a strictly higher score, so equal "
      "scores share a rank. Participants are numbered from 1 in input order; find the rank of "
      "participant j.",
      "The first line contains n and j (1 <= j <= n <= 1000). The second line contains the n "
      "scores (0 <= s_i <= 10^4).",
      "Print the rank of participant j.",
      ("5 4\n70 90 70 80 90", "3"),
      ("3 1\n50 50 50", "1"),
    ),
    [
      "n, j = map(int, input().split())\ns = list(map(int, input().split()))\n"
      "print(1 + sum(x > s[j - 1] for x in s))\n",
      "n, j = map(int, input().split())\ns = list(map(int, input().split()))\n"
      "print(sorted(s, reverse=True).index(s[j - 1]) + 1)\n",
    ],
    [
      "n, j = map(int, input().split())\ns = list(map(int, input().split()))\n"
      "print(sum(x >= s[j - 1] for x in s))\n",
      "n, j = map(int, input().split())\ns = list(map(int, input().split()))\n"
      "print(1 + sum(x > s[j] for x in s))\n",
    ],
    ["5 4\n70 90 70 80 90", "3 1\n50 50 50", "1 1\n0", "2 3\n10 20"],
    "n = random.randint(1, 8)\nprint(n, random.randint(1, n))\n"
    "print(*[random.randint(0, 5) for _ in range(n)])\n",
    "n, j = map(int, input().split())\ns = list(map(int, input().split()))\n"
    "assert 1 <= j <= n <= 1000 and len(s) == n and all(0 <= x <= 10**4 for x in s)\n",
  ),
  stdio(
    "Square Plots",
    statement(
      "A land registry only sells square plots with whole-metre sides, so their areas are 1, "
      "4, 9, 16 and so on. A buyer may use an area of at most n square metres. How many "
      "different plot sizes can the buyer choose from?",
      "One line with n (1 <= n <= 10^18).",
      "Print the number of square areas that do not exceed n.",
      ("10", "3"),
      ("16", "4"),
    ),
    [
      "import math\nprint(math.isqrt(int(input())))\n",
      "n = int(input())\nlo, hi = 0, 10**9 + 1\nwhile hi - lo > 1:\n    mid = (lo + hi) // 2\n"
      "    if mid * mid <= n:\n        lo = mid\n    else:\n        hi = mid\nprint(lo)\n",
    ],
    [
      "print(int(int(input()) ** 0.5))\n",
      "import math\nprint(math.isqrt(int(input()) - 1))\n",
    ],
    ["10", "16", "999999998000000000", "0"],
    "k = random.randint(1, 10**9)\n"
    "print(random.choice([k * k, max(1, k * k - 1), random.randint(1, 10**18)]))\n",
    "n = int(input())\nassert 1 <= n <= 10**18\n",
  ),
  leetcode(
    "Merging Queues",
    "interleave(self, a: list[int], b: list[int]) -> list[int]",
    "Two queues of people merge at a single turnstile. The turnstile lets people through "
    "alternately: first the head of queue a, then the head of queue b, then a again, and so "
    "on; once a queue is empty, the rest of the other queue passes in its own order. Return "
    "the ids of the people in the order they pass.",
    [("a = [1, 2, 3], b = [7, 8]", "[1, 7, 2, 8, 3]"), ("a = [], b = [4, 5]", "[4, 5]")],
    "0 <= len(a), len(b) <= 100, 1 <= a[i], b[i] <= 1000",
    [
      "class Solution:\n    def interleave(self, a, b):\n        out = []\n"
      "        for i in range(max(len(a), len(b))):\n            out += a[i:i + 1] + b[i:i + 1]\n"
      "        return out\n",
      "from itertools import chain, zip_longest\n\n\nclass Solution:\n"
      "    def interleave(self, a, b):\n        pairs = zip_longest(a, b)\n"
      "        return [x for x in chain.from_iterable(pairs) if x is not None]\n",
    ],
    [
      "class Solution:\n    def interleave(self, a, b):\n"
      "        return [x for pair in zip(a, b) for x in pair]\n",
      "class Solution:\n    def interleave(self, a, b):\n        out = []\n"
      "        for i in range(max(len(a), len(b))):\n            out += b[i:i + 1] + a[i:i + 1]\n"
      "        return out\n",
    ],
    ["[[1, 2, 3], [7, 8]]", "[[], [4, 5]]", "[[9], [9]]", "[[1, 2], 3]"],
    "print(json.dumps([[random.randint(1, 9) for _ in range(random.randint(0, 5))]"
    " for _ in 'ab']))\n",
    "a, b = json.loads(input())\nassert isinstance(a, list) and isinstance(b, list)\n"
    "assert len(a) <= 100 and len(b) <= 100\n"
    "assert all(isinstance(x, int) and 1 <= x <= 1000 for x in a + b)\n",
  ),
  leetcode(
    "Fullest Warehouse",
    "fullestWarehouse(self, stock: list[list[int]]) -> int",
    "A company runs several warehouses, and stock[i] lists how many units of each product "
    "warehouse i holds. Return the number of units stored in the fullest warehouse, counting "
    "all of its products together.",
    [("stock = [[3, 1], [2, 2, 2], [5]]", "6"), ("stock = [[0]]", "0")],
    "1 <= len(stock) <= 50, 1 <= len(stock[i]) <= 50, 0 <= stock[i][j] <= 1000",
    [
      "class Solution:\n    def fullestWarehouse(self, stock):\n"
      "        return max(sum(row) for row in stock)\n",
      "class Solution:\n    def fullestWarehouse(self, stock):\n        best = 0\n"
      "        for row in stock:\n            best = max(best, sum(row))\n        return best\n",
    ],
    [
      "class Solution:\n    def fullestWarehouse(self, stock):\n"
      "        return max(max(row) for row in stock)\n",
      "class Solution:\n    def fullestWarehouse(self, stock):\n"
      "        return sum(max(stock, key=len))\n",
    ],
    ["[[[3, 1], [2, 2, 2], [5]]]", "[[[0]]]", "[[[4, 4], [9]]]", "[[[]]]"],
    "print(json.dumps([[[random.randint(0, 9) for _ in range(random.randint(1, 4))]\n"
    "                   for _ in range(random.randint(1, 4))]]))\n",
    "(stock,) = json.loads(input())\nassert 1 <= len(stock) <= 50\nfor row in stock:\n"
    "    assert 1 <= len(row) <= 50 and all(isinstance(x, int) and 0 <= x <= 1000 for x in row)\n",
  ),
  leetcode(
    "Faster Swimmers",
    "fasterSwimmers(self, times: list[int]) -> list[int]",
    "In a swimming heat, times[i] is the finishing time of swimmer i. For every swimmer, "
    "return how many other swimmers finished in a strictly smaller time, in the same order as "
    "times.",
    [("times = [52, 48, 60, 48]", "[2, 0, 3, 0]"), ("times = [30]", "[0]")],
    "1 <= len(times) <= 500, 1 <= times[i] <= 10^4",
    [
      "class Solution:\n    def fasterSwimmers(self, times):\n"
      "        return [sum(t < x for t in times) for x in times]\n",
      "from bisect import bisect_left\n\n\nclass Solution:\n"
      "    def fasterSwimmers(self, times):\n        order = sorted(times)\n"
      "        return [bisect_left(order, x) for x in times]\n",
    ],
    [
      "class Solution:\n    def fasterSwimmers(self, times):\n"
      "        return [sum(t <= x for t in times) - 1 for x in times]\n",
      "class Solution:\n    def fasterSwimmers(self, times):\n"
      "        order = sorted(range(len(times)), key=lambda i: times[i])\n"
      "        rank = [0] * len(times)\n        for place, i in enumerate(order):\n"
      "            rank[i] = place\n        return rank\n",
    ],
    ["[[52, 48, 60, 48]]", "[[30]]", "[[5, 4, 3]]", "[[]]"],
    "print(json.dumps([[random.randint(1, 6) for _ in range(random.randint(1, 7))]]))\n",
    "(times,) = json.loads(input())\nassert 1 <= len(times) <= 500\n"
    "assert all(isinstance(x, int) and 1 <= x <= 10**4 for x in times)\n",
  ),
  leetcode(
    "Widest Plateau",
    "widestPlateau(self, heights: list[int]) -> int",
    "A surveyor walks along a ridge and writes down the ground height after every metre in "
    "heights. A plateau is a run of consecutive equal heights that cannot be extended on "
    "either side. Return the length of the longest plateau.",
    [("heights = [4, 4, 7, 7, 7, 2]", "3"), ("heights = [1, 2, 3]", "1")],
    "1 <= len(heights) <= 10^5, 0 <= heights[i] <= 10^9",
    [
      "class Solution:\n    def widestPlateau(self, heights):\n        best = run = 1\n"
      "        for i in range(1, len(heights)):\n"
      "            run = run + 1 if heights[i] == heights[i - 1] else 1\n"
      "            best = max(best, run)\n        return best\n",
      "from itertools import groupby\n\n\nclass Solution:\n"
      "    def widestPlateau(self, heights):\n"
      "        return max(len(list(g)) for _, g in groupby(heights))\n",
    ],
    [
      "from collections import Counter\n\n\nclass Solution:\n"
      "    def widestPlateau(self, heights):\n        return max(Counter(heights).values())\n",
      "class Solution:\n    def widestPlateau(self, heights):\n        best = run = 1\n"
      "        for i in range(1, len(heights)):\n            if heights[i] == heights[i - 1]:\n"
      "                run += 1\n            else:\n                best = max(best, run)\n"
      "                run = 1\n        return best\n",
    ],
    ["[[4, 4, 7, 7, 7, 2]]", "[[1, 2, 3]]", "[[5, 5]]", "[[]]"],
    "print(json.dumps([[random.randint(0, 2) for _ in range(random.randint(1, 10))]]))\n",
    "(heights,) = json.loads(input())\nassert 1 <= len(heights) <= 10**5\n"
    "assert all(isinstance(x, int) and 0 <= x <= 10**9 for x in heights)\n",
  ),
  leetcode(
    "Turnstile Repeat",
    "firstRepeat(self, ids: list[int]) -> int",
    "A turnstile logs the badge id of every person entering a building, in order. Security "
    "wants the first moment somebody enters for a second time: return the id whose second "
    "appearance in ids comes earliest, or -1 if no id appears twice.",
    [("ids = [3, 8, 5, 8, 3]", "8"), ("ids = [1, 2]", "-1")],
    "1 <= len(ids) <= 1000, 1 <= ids[i] <= 10^6",
    [
      "class Solution:\n    def firstRepeat(self, ids):\n        seen = set()\n"
      "        for x in ids:\n            if x in seen:\n                return x\n"
      "            seen.add(x)\n        return -1\n"
    ],
    [
      "class Solution:\n    def firstRepeat(self, ids):\n        for x in ids:\n"
      "            if ids.count(x) > 1:\n                return x\n        return -1\n",
      "class Solution:\n    def firstRepeat(self, ids):\n        seen = set()\n"
      "        for x in ids:\n            if x in seen:\n                return x\n"
      "            seen.add(x)\n",
    ],
    ["[[3, 8, 5, 8, 3]]", "[[1, 2]]", "[[7, 7]]", "[[0, 1]]"],
    "ids = [random.randint(1, 9) for _ in range(random.randint(1, 6))]\n"
    "print(json.dumps([ids + ids[::-1] if random.random() < 0.5 else ids]))\n",
    "(ids,) = json.loads(input())\nassert 1 <= len(ids) <= 1000\n"
    "assert all(isinstance(x, int) and 1 <= x <= 10**6 for x in ids)\n",
  ),
]
