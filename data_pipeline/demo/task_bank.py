"""Original demo tasks written for this project, used only by the scripted demo author.

Each task has a statement, a correct solution, plausible wrong solutions (so that voting has
to decide, and so that the DPO pairs have realistic rejected answers: off-by-one, a missed
edge case, a crash on some inputs or on all), direct test inputs (one of them invalid on
purpose), an input generator and an input validator. The last two tasks are a near-duplicate and a HumanEval-contaminated one,
so that de-duplication and decontamination have something to remove.
"""

PAIRS_STATEMENT = (
  "Along the river there are n lanterns, the i-th with brightness a_i. Two lanterns form "
  "a calm pair when the sum of their brightness values is divisible by k. Count the calm "
  "pairs (i < j).\n\n## Input\nThe first line contains n and k (1 <= n <= 2000, "
  "1 <= k <= 100). The second line contains n integers a_i (0 <= a_i <= 10^9).\n\n"
  "## Output\nPrint one integer: the number of calm pairs.\n\n## Example 1\nInput:\n"
  "4 3\n1 2 3 3\nOutput:\n3\n\n## Example 2\nInput:\n3 2\n2 4 6\nOutput:\n3\n"
)
PAIRS_GEN = (
  "import random\nrandom.seed(int(input()))\nn = random.randint(1, 30)\n"
  "k = random.randint(1, 6)\nprint(n, k)\n"
  "print(*[random.randint(0, 20) for _ in range(n)])\n"
)
PAIRS_VAL = (
  "import sys\nlines = sys.stdin.read().split('\\n')\nn, k = map(int, lines[0].split())\n"
  "a = list(map(int, lines[1].split()))\nassert 1 <= n <= 2000 and 1 <= k <= 100\n"
  "assert len(a) == n and all(0 <= x <= 10**9 for x in a)\n"
)
PAIRS_OK = (
  "n, k = map(int, input().split())\na = list(map(int, input().split()))\n"
  "count = [0] * k\npairs = 0\nfor x in a:\n    pairs += count[(-x) % k]\n"
  "    count[x % k] += 1\nprint(pairs)\n"
)
PAIRS_BRUTE = (
  "n, k = map(int, input().split())\na = list(map(int, input().split()))\n"
  "print(sum((a[i] + a[j]) % k == 0 for i in range(n) for j in range(i + 1, n)))\n"
)
PAIRS_WRONG = (
  "n, k = map(int, input().split())\na = list(map(int, input().split()))\n"
  "count = [0] * k\nfor x in a:\n    count[x % k] += 1\n"
  "print(sum(count[r] * count[(-r) % k] for r in range(k)) // 2)\n"
)
PAIRS_CRASH = (
  "n, k = map(int, input().split())\na = list(map(int, input().split()))\n"
  "count = {}\npairs = 0\nfor x in a:\n    pairs += count[(-x) % k]\n"
  "    count[x % k] = count.get(x % k, 0) + 1\nprint(pairs)\n"
)
COURTYARD_OK = (
  "from collections import deque\nn, m = map(int, input().split())\n"
  "g = [input() for _ in range(n)]\nd = {(0, 0): 0}\nq = deque([(0, 0)])\nwhile q:\n"
  "    r, c = q.popleft()\n    for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):\n"
  "        nr, nc = r + dr, c + dc\n"
  "        if 0 <= nr < n and 0 <= nc < m and g[nr][nc] == '.' and (nr, nc) not in d:\n"
  "            d[(nr, nc)] = d[(r, c)] + 1\n            q.append((nr, nc))\n"
  "print(d.get((n - 1, m - 1), -1))\n"
)

TASKS = [
  {
    "title": "Calm Lantern Pairs",
    "kind": "stdio",
    "statement": PAIRS_STATEMENT,
    "correct": [PAIRS_OK, PAIRS_BRUTE],
    "wrong": [PAIRS_WRONG, PAIRS_CRASH],
    "inputs": ["4 3\n1 2 3 3", "1 1\n5", "5 2\n1 1 1 1 1", "3 0\n1 2 3"],
    "generator": PAIRS_GEN,
    "validator": PAIRS_VAL,
  },
  {
    "title": "Colorful Windows",
    "kind": "stdio",
    "statement": (
      "A street has n houses painted in colors c_i. For every block of k consecutive "
      "houses, report how many different colors it shows.\n\n## Input\nn and k "
      "(1 <= k <= n <= 2000), then n integers c_i (1 <= c_i <= 50).\n\n## Output\nPrint "
      "n - k + 1 integers separated by spaces.\n\n## Example 1\nInput:\n5 3\n1 2 1 3 3\n"
      "Output:\n2 3 2\n\n## Example 2\nInput:\n3 1\n7 7 7\nOutput:\n1 1 1\n"
    ),
    "correct": [
      "n, k = map(int, input().split())\nc = input().split()\n"
      "print(*[len(set(c[i:i + k])) for i in range(n - k + 1)])\n",
      "from collections import Counter\nn, k = map(int, input().split())\nc = input().split()\n"
      "window = Counter(c[:k])\nout = [len(window)]\nfor i in range(k, n):\n"
      "    window[c[i]] += 1\n    window[c[i - k]] -= 1\n    if window[c[i - k]] == 0:\n"
      "        del window[c[i - k]]\n    out.append(len(window))\nprint(*out)\n",
    ],
    "wrong": [
      "n, k = map(int, input().split())\nc = input().split()\n"
      "print(*[len(set(c[i:i + k])) for i in range(n - k)])\n",
      "from collections import Counter\nn, k = map(int, input().split())\nc = input().split()\n"
      "window = Counter(c[:k])\nout = [len(window)]\nfor i in range(k, n):\n"
      "    window[c[i]] += 1\n    window[c[i - k]] -= 1\n    out.append(len(window))\n"
      "print(*out)\n",
    ],
    "inputs": ["5 3\n1 2 1 3 3", "1 1\n4", "4 4\n1 2 3 4", "2 3\n1 1"],
    "generator": "import random\nrandom.seed(int(input()))\nn = random.randint(1, 25)\n"
    "k = random.randint(1, n)\nprint(n, k)\n"
    "print(*[random.randint(1, 4) for _ in range(n)])\n",
    "validator": "n, k = map(int, input().split())\nc = list(map(int, input().split()))\n"
    "assert 1 <= k <= n <= 2000 and len(c) == n and all(1 <= x <= 50 for x in c)\n",
  },
  {
    "title": "Courtyard Escape",
    "kind": "stdio",
    "statement": (
      "A courtyard is an n x m grid of free cells '.' and walls '#'. Starting in the "
      "top-left cell you move to a side-adjacent free cell each step. Print the fewest "
      "steps to reach the bottom-right cell, or -1.\n\n## Input\nn and m (1 <= n, m <= 50), "
      "then n rows of m characters; both corners are free.\n\n## Output\nOne integer.\n\n"
      "## Sample Input 1\n2 2\n.#\n..\n## Sample Output 1\n2\n\n## Sample Input 2\n2 2\n.#\n#.\n"
      "## Sample Output 2\n-1\n"
    ),
    "correct": [COURTYARD_OK],
    "wrong": [
      "from collections import deque\nn, m = map(int, input().split())\n"
      "g = [input() for _ in range(n)]\nd = {(0, 0): 0}\nq = deque([(0, 0)])\nwhile q:\n"
      "    r, c = q.popleft()\n    for dr in (-1, 0, 1):\n        for dc in (-1, 0, 1):\n"
      "            nr, nc = r + dr, c + dc\n"
      "            if 0 <= nr < n and 0 <= nc < m and g[nr][nc] == '.' and (nr, nc) not in d:\n"
      "                d[(nr, nc)] = d[(r, c)] + 1\n                q.append((nr, nc))\n"
      "print(d.get((n - 1, m - 1), -1))\n",
      # indexes the distances directly: an unreachable exit is a KeyError
      COURTYARD_OK.replace("d.get((n - 1, m - 1), -1)", "d[(n - 1, m - 1)]"),
    ],
    "inputs": ["2 2\n.#\n..", "1 1\n.", "2 2\n.#\n#.", "3 3\n...\n.#.\n..."],
    "generator": "import random\nrandom.seed(int(input()))\nn, m = random.randint(1, 6), "
    "random.randint(1, 6)\ng = [[random.choice('..#') for _ in range(m)] "
    "for _ in range(n)]\ng[0][0] = g[-1][-1] = '.'\nprint(n, m)\n"
    "print('\\n'.join(''.join(r) for r in g))\n",
    "validator": "n, m = map(int, input().split())\ng = [input() for _ in range(n)]\n"
    "assert 1 <= n <= 50 and 1 <= m <= 50\n"
    "assert all(len(r) == m and set(r) <= set('.#') for r in g)\n"
    "assert g[0][0] == '.' and g[-1][-1] == '.'\n",
  },
  {
    "title": "Rainfall Ledger",
    "kind": "stdio",
    "statement": (
      "A ledger lists rainfall r_1..r_n. Answer q questions: the total rainfall from day l "
      "to day r inclusive.\n\n## Input\nn and q (1 <= n, q <= 10^5), the n values "
      "(0 <= r_i <= 10^4), then q lines l r (1 <= l <= r <= n).\n\n## Output\nq lines.\n\n"
      "## Example 1\nInput:\n3 2\n1 2 3\n1 2\n2 3\nOutput:\n3\n5\n\n## Example 2\nInput:\n"
      "1 1\n9\n1 1\nOutput:\n9\n"
    ),
    "correct": [
      "import sys\nd = sys.stdin.read().split()\nn, q = int(d[0]), int(d[1])\npre = [0]\n"
      "for x in d[2:2 + n]:\n    pre.append(pre[-1] + int(x))\nout = []\nfor i in range(q):\n"
      "    l, r = int(d[2 + n + 2 * i]), int(d[3 + n + 2 * i])\n"
      "    out.append(pre[r] - pre[l - 1])\nprint('\\n'.join(map(str, out)))\n"
    ],
    "wrong": [
      "import sys\nd = sys.stdin.read().split()\nn, q = int(d[0]), int(d[1])\npre = [0]\n"
      "for x in d[2:2 + n]:\n    pre.append(pre[-1] + int(x))\nfor i in range(q):\n"
      "    l, r = int(d[2 + n + 2 * i]), int(d[3 + n + 2 * i])\n    print(pre[r - 1] - pre[l - 1])\n",
      "n, q = map(int, input().split())\nr = list(map(int, input().split()))\n"
      "for _ in range(q):\n    a, b = map(int, input().split())\n    print(sum(r[a:b + 1]))\n",
    ],
    "inputs": [
      "3 2\n1 2 3\n1 2\n2 3",
      "1 1\n9\n1 1",
      "4 3\n5 0 5 0\n1 4\n2 2\n3 4",
      "2 1\n1 2\n2 1",
    ],
    "generator": "import random\nrandom.seed(int(input()))\nn, q = random.randint(1, 8), "
    "random.randint(1, 5)\nprint(n, q)\nprint(*[random.randint(0, 9) for _ in range(n)])\n"
    "for _ in range(q):\n    l = random.randint(1, n)\n"
    "    print(l, random.randint(l, n))\n",
    "validator": "import sys\nd = list(map(int, sys.stdin.read().split()))\nn, q = d[0], d[1]\n"
    "assert len(d) == 2 + n + 2 * q and all(0 <= x <= 10**4 for x in d[2:2 + n])\n"
    "for i in range(q):\n    l, r = d[2 + n + 2 * i], d[3 + n + 2 * i]\n"
    "    assert 1 <= l <= r <= n\n",
  },
  {
    "title": "One Stone Removed",
    "kind": "stdio",
    "statement": (
      "There are n stones with weights w_i. Remove exactly one stone so that the greatest "
      "common divisor of the remaining weights is as large as possible, and print it.\n\n"
      "## Input\nn (2 <= n <= 10^5), then n integers (1 <= w_i <= 10^9).\n\n## Output\n"
      "One integer.\n\n## Example 1\nInput:\n3\n6 9 4\nOutput:\n3\n\n## Example 2\nInput:\n"
      "2\n5 8\nOutput:\n8\n"
    ),
    "correct": [
      "from math import gcd\nn = int(input())\nw = list(map(int, input().split()))\n"
      "pre, suf = [0] * (n + 1), [0] * (n + 2)\nfor i in range(n):\n"
      "    pre[i + 1] = gcd(pre[i], w[i])\nfor i in range(n - 1, -1, -1):\n"
      "    suf[i] = gcd(suf[i + 1], w[i])\nprint(max(gcd(pre[i], suf[i + 1]) for i in range(n)))\n"
    ],
    "wrong": [
      "from math import gcd\nfrom functools import reduce\nn = int(input())\n"
      "w = sorted(map(int, input().split()))\nprint(reduce(gcd, w[1:]))\n",
      "from math import gcd\nfrom functools import reduce\nn = int(input())\n"
      "w = sorted(map(int, input().split()))\nprint(reduce(gcd, w[:-1]))\n",
    ],
    "inputs": ["3\n6 9 4", "2\n5 8", "4\n12 18 24 7", "1\n5"],
    "generator": "import random\nrandom.seed(int(input()))\nn = random.randint(2, 7)\n"
    "g = random.randint(1, 6)\nw = [g * random.randint(1, 9) for _ in range(n)]\n"
    "w[random.randrange(n)] = random.randint(1, 50)\nprint(n)\nprint(*w)\n",
    "validator": "n = int(input())\nw = list(map(int, input().split()))\n"
    "assert 2 <= n <= 10**5 and len(w) == n and all(1 <= x <= 10**9 for x in w)\n",
  },
  {
    "title": "Longest Even Stretch",
    "kind": "leetcode",
    "fn_name": "longestBalanced",
    "statement": (
      "Given a string s of letters 'a' and 'b', return the length of the longest substring "
      "that contains as many 'a' as 'b' (0 if there is none).\n\n**Example 1**\nInput: "
      's = "aabab"\nOutput: 4\n\n**Example 2**\nInput: s = "aaa"\nOutput: 0\n\n'
      "**Constraints**\n1 <= len(s) <= 10^5\n\n```python\nclass Solution:\n"
      "    def longestBalanced(self, s: str) -> int:\n```\n"
    ),
    "correct": [
      "class Solution:\n    def longestBalanced(self, s: str) -> int:\n        first = {0: -1}\n"
      "        balance = best = 0\n        for i, ch in enumerate(s):\n"
      "            balance += 1 if ch == 'a' else -1\n            if balance in first:\n"
      "                best = max(best, i - first[balance])\n            else:\n"
      "                first[balance] = i\n        return best\n"
    ],
    "wrong": [
      "class Solution:\n    def longestBalanced(self, s: str) -> int:\n"
      "        balance = best = 0\n        for i, ch in enumerate(s):\n"
      "            balance += 1 if ch == 'a' else -1\n            if balance == 0:\n"
      "                best = i + 1\n        return best\n",
      "class Solution:\n    def longestBalanced(self, s: str) -> int:\n        first = {0: 0}\n"
      "        balance = best = 0\n        for i, ch in enumerate(s):\n"
      "            balance += 1 if ch == 'a' else -1\n            if balance in first:\n"
      "                best = max(best, i - first[balance])\n            else:\n"
      "                first[balance] = i\n        return best\n",
    ],
    "inputs": ['["aabab"]', '["aaa"]', '["ba"]', '["abba"]', "[1, 2]"],
    "generator": "import json, random\nrandom.seed(int(input()))\n"
    "print(json.dumps([''.join(random.choice('ab') for _ in range(random.randint(1, 12)))]))\n",
    "validator": "import json\nargs = json.loads(input())\nassert len(args) == 1 and isinstance(args[0], str)\n"
    "assert 1 <= len(args[0]) <= 10**5 and set(args[0]) <= set('ab')\n",
  },
  {
    "title": "Exact Change",
    "kind": "leetcode",
    "fn_name": "fewestCoins",
    "statement": (
      "Given coin values coins (unlimited supply) and an amount, return the fewest coins "
      "that sum exactly to amount, or -1 when impossible.\n\n**Example 1**\nInput: coins = "
      "[1, 3, 4], amount = 6\nOutput: 2\n\n**Example 2**\nInput: coins = [2], amount = 3\n"
      "Output: -1\n\n**Constraints**\n1 <= len(coins) <= 12, 1 <= coins[i] <= 100, "
      "0 <= amount <= 10^4\n\n```python\nclass Solution:\n"
      "    def fewestCoins(self, coins: list[int], amount: int) -> int:\n```\n"
    ),
    "correct": [
      "class Solution:\n    def fewestCoins(self, coins, amount):\n"
      "        best = [0] + [amount + 1] * amount\n        for t in range(1, amount + 1):\n"
      "            for c in coins:\n                if c <= t:\n"
      "                    best[t] = min(best[t], best[t - c] + 1)\n"
      "        return best[amount] if best[amount] <= amount else -1\n"
    ],
    "wrong": [
      "class Solution:\n    def fewestCoins(self, coins, amount):\n        used = 0\n"
      "        for c in sorted(coins, reverse=True):\n            used += amount // c\n"
      "            amount %= c\n        return used if amount == 0 else -1\n",
      "from functools import lru_cache\n\n\nclass Solution:\n"
      "    def fewestCoins(self, coins, amount):\n        @lru_cache(maxsize=None)\n"
      "        def fewest(total):\n            if total == 0:\n                return 0\n"
      "            return min(fewest(total - c) + 1 for c in coins if c <= total)\n\n"
      "        return fewest(amount)\n",
    ],
    "inputs": ["[[1, 3, 4], 6]", "[[2], 3]", "[[5], 0]", "[[1, 5, 6, 9], 11]"],
    "generator": "import json, random\nrandom.seed(int(input()))\n"
    "coins = sorted(random.sample(range(1, 15), random.randint(1, 4)))\n"
    "print(json.dumps([coins, random.randint(0, 40)]))\n",
    "validator": "import json\ncoins, amount = json.loads(input())\n"
    "assert 1 <= len(coins) <= 12 and all(1 <= c <= 100 for c in coins)\n"
    "assert 0 <= amount <= 10**4\n",
  },
  {
    "title": "Mountain Peaks",
    "kind": "stdio",
    "statement": (
      "Heights h_1..h_n of a ridge are given. A peak is a position strictly higher than both "
      "of its neighbours; the two ends are never peaks. Print the number of peaks.\n\n## "
      "Input\nn (1 <= n <= 10^5), then n integers (0 <= h_i <= 10^9).\n\n## Output\nOne "
      "integer.\n\n## Example 1\nInput:\n5\n1 3 2 4 1\nOutput:\n2\n\n## Example 2\nInput:\n"
      "3\n5 1 5\nOutput:\n0\n"
    ),
    "correct": [
      "n = int(input())\nh = list(map(int, input().split()))\n"
      "print(sum(h[i - 1] < h[i] > h[i + 1] for i in range(1, n - 1)))\n"
    ],
    "wrong": [
      "n = int(input())\nh = [-1] + list(map(int, input().split())) + [-1]\n"
      "print(sum(h[i - 1] < h[i] > h[i + 1] for i in range(1, n + 1)))\n",
      "n = int(input())\nh = list(map(int, input().split()))\n"
      "print(sum(h[i - 1] < h[i] > h[i + 1] for i in range(1, n - 1)) + h[n])\n",
    ],
    "inputs": ["5\n1 3 2 4 1", "3\n5 1 5", "1\n7", "2\n1 2"],
    "generator": "import random\nrandom.seed(int(input()))\nn = random.randint(1, 12)\nprint(n)\n"
    "print(*[random.randint(0, 5) for _ in range(n)])\n",
    "validator": "n = int(input())\nh = list(map(int, input().split()))\n"
    "assert 1 <= n <= 10**5 and len(h) == n and all(0 <= x <= 10**9 for x in h)\n",
  },
  {
    "title": "Calm Lantern Pairs Again",
    "kind": "stdio",
    "statement": PAIRS_STATEMENT.replace("Along the river", "Along the canal"),
    "correct": [PAIRS_OK, PAIRS_BRUTE],
    "wrong": [PAIRS_WRONG, PAIRS_CRASH],
    "inputs": ["4 3\n1 2 3 3", "2 2\n1 1", "3 5\n5 10 15"],
    "generator": PAIRS_GEN,
    "validator": PAIRS_VAL,
  },
  {
    "title": "Close Readings",
    "kind": "stdio",
    "statement": (
      "Check if in given list of numbers, are any two numbers closer to each other than "
      "given threshold. Print YES or NO.\n\n## Input\nn and t (2 <= n <= 1000, 1 <= t <= 100), "
      "then n integers.\n\n## Output\nYES or NO.\n\n## Example 1\nInput:\n3 2\n1 5 6\nOutput:\n"
      "YES\n\n## Example 2\nInput:\n2 1\n1 3\nOutput:\nNO\n"
    ),
    "correct": [
      "n, t = map(int, input().split())\na = sorted(map(int, input().split()))\n"
      "print('YES' if any(y - x < t for x, y in zip(a, a[1:])) else 'NO')\n"
    ],
    "wrong": [
      "n, t = map(int, input().split())\na = list(map(int, input().split()))\n"
      "print('YES' if any(abs(y - x) < t for x, y in zip(a, a[1:])) else 'NO')\n"
    ],
    "inputs": ["3 2\n1 5 6", "2 1\n1 3", "3 3\n1 9 3"],
    "generator": "import random\nrandom.seed(int(input()))\nn = random.randint(2, 8)\n"
    "print(n, random.randint(1, 5))\nprint(*[random.randint(0, 30) for _ in range(n)])\n",
    "validator": "n, t = map(int, input().split())\na = list(map(int, input().split()))\n"
    "assert 2 <= n <= 1000 and 1 <= t <= 100 and len(a) == n\n",
  },
]
