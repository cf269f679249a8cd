"""Short warm-up demo tasks (part 1 of 3), original, in task_bank.py's format.

The demo needs about fifty verified tasks so that a held-out quarter still gives ten
evaluation problems and a tiny model has something to learn from; these are deliberately easy
(one- to five-line correct solutions) so that many fit in the demo's few seconds. As in
task_bank.py, every task has two plausible wrong solutions that fail on different inputs (so
that the two correct candidates win every vote) and one invalid direct input.
"""

GEN = "import random\nrandom.seed(int(input()))\n"
JSON_GEN = "import json, random\nrandom.seed(int(input()))\n"


def statement(story: str, given: str, wanted: str, *examples: tuple[str, str]) -> str:
  """A stdio statement laid out like task_bank's: story, Input, Output, then the examples."""
  text = f"{story}\n\n## Input\n{given}\n\n## Output\n{wanted}\n"
  for number, (example_in, example_out) in enumerate(examples, 1):
    text += f"\n## Example {number}\nInput:\n{example_in}\nOutput:\n{example_out}\n"
  return text


def stdio(title, text, correct, wrong, inputs, generator, validator) -> dict:
  """A stdio task dict; the generator body gets the seed-reading prologue."""
  return {
    "title": title,
    "kind": "stdio",
    "statement": text,
    "correct": correct,
    "wrong": wrong,
    "inputs": inputs,
    "generator": GEN + generator,
    "validator": validator,
  }


TASKS = [
  stdio(
    "Thermometer Swing",
    statement(
      "A weather station high on a mountain logs one temperature per hour, and at night the "
      "readings often fall below zero. Its daily bulletin reports the swing of the day: the "
      "warmest reading minus the coldest one.",
      "The first line holds n (1 <= n <= 100), the number of readings. The second line holds "
      "the n readings t_i (-50 <= t_i <= 50).",
      "Print the swing as a single integer.",
      ("4\n3 -2 7 0", "9"),
      ("1\n-5", "0"),
    ),
    [
      "input()\nt = list(map(int, input().split()))\nprint(max(t) - min(t))\n",
      "input()\nt = sorted(map(int, input().split()))\nprint(t[-1] - t[0])\n",
    ],
    [
      "input()\nt = list(map(int, input().split()))\nprint(t[-1] - t[0])\n",
      "input()\nt = [abs(int(x)) for x in input().split()]\nprint(max(t) - min(t))\n",
    ],
    ["4\n3 -2 7 0", "1\n-5", "3\n-50 50 0", "2\n10 60"],
    "n = random.randint(1, 10)\nprint(n)\nprint(*[random.randint(-50, 50) for _ in range(n)])\n",
    "n = int(input())\nt = list(map(int, input().split()))\n"
    "assert 1 <= n <= 100 and len(t) == n and all(-50 <= x <= 50 for x in t)\n",
  ),
  stdio(
    "Ferry Crossings",
    statement(
      "A small river ferry carries at most k cars per crossing, and one crossing in either "
      "direction takes m minutes. It starts on the bank where n cars wait and must bring all of "
      "them across; after dropping the last load it stays on the far bank.",
      "One line with three integers n, k and m (1 <= n, k <= 1000, 1 <= m <= 60).",
      "Print the number of minutes until the last car reaches the far bank.",
      ("5 2 10", "50"),
      ("3 3 7", "7"),
    ),
    [
      "n, k, m = map(int, input().split())\ntrips = (n + k - 1) // k\nprint((2 * trips - 1) * m)\n",
      "n, k, m = map(int, input().split())\ntrips = -(-n // k)\nprint(2 * trips * m - m)\n",
    ],
    [
      "n, k, m = map(int, input().split())\ntrips = n // k\nprint((2 * trips - 1) * m)\n",
      "n, k, m = map(int, input().split())\ntrips = (n + k - 1) // k\nprint(2 * trips * m)\n",
    ],
    ["5 2 10", "3 3 7", "1 1 1", "0 4 5"],
    "print(random.randint(1, 30), random.randint(1, 8), random.randint(1, 60))\n",
    "n, k, m = map(int, input().split())\n"
    "assert 1 <= n <= 1000 and 1 <= k <= 1000 and 1 <= m <= 60\n",
  ),
  stdio(
    "Loudest Minute",
    statement(
      "A noise meter in a reading room stores one loudness value per minute; minutes are "
      "numbered from 1. The librarian asks at which minute the noise first reached the highest "
      "level of the whole session.",
      "The first line contains n (1 <= n <= 1000). The second line contains n loudness values "
      "v_i (0 <= v_i <= 120).",
      "Print the earliest minute whose value equals the maximum.",
      ("5\n30 45 12 45 8", "2"),
      ("3\n9 9 9", "1"),
    ),
    [
      "input()\nv = list(map(int, input().split()))\nprint(v.index(max(v)) + 1)\n",
      "n = int(input())\nv = list(map(int, input().split()))\nbest = 0\nfor i in range(n):\n"
      "    if v[i] > v[best]:\n        best = i\nprint(best + 1)\n",
    ],
    [
      "input()\nv = list(map(int, input().split()))\nprint(v.index(max(v)))\n",
      "n = int(input())\nv = list(map(int, input().split()))\nprint(n - v[::-1].index(max(v)))\n",
    ],
    ["5\n30 45 12 45 8", "3\n9 9 9", "1\n0", "2\n5"],
    "n = random.randint(1, 10)\nprint(n)\nprint(*[random.randint(0, 6) for _ in range(n)])\n",
    "n = int(input())\nv = list(map(int, input().split()))\n"
    "assert 1 <= n <= 1000 and len(v) == n and all(0 <= x <= 120 for x in v)\n",
  ),
  stdio(
    "Ticket Window",
    statement(
      "At a ticket window n people stand in line. Serving the i-th person takes s_i seconds; "
      "the clerk starts at second 0 and serves everybody strictly in order without any pause. "
      "Your friend is the k-th person in the line.",
      "The first line contains n and k (1 <= k <= n <= 1000). The second line contains the n "
      "service times s_i (1 <= s_i <= 600).",
      "Print the second at which the clerk finishes serving your friend.",
      ("4 3\n5 2 8 1", "15"),
      ("2 1\n7 3", "7"),
    ),
    ["n, k = map(int, input().split())\ns = list(map(int, input().split()))\nprint(sum(s[:k]))\n"],
    [
      "n, k = map(int, input().split())\ns = list(map(int, input().split()))\n"
      "print(sum(s[:k - 1]))\n",
      "n, k = map(int, input().split())\ns = list(map(int, input().split()))\n"
      "print(k * s[k - 1])\n",
    ],
    ["4 3\n5 2 8 1", "2 1\n7 3", "3 3\n1 1 1", "3 4\n1 2 3"],
    "n = random.randint(1, 8)\nprint(n, random.randint(1, n))\n"
    "print(*[random.randint(1, 20) for _ in range(n)])\n",
    "n, k = map(int, input().split())\ns = list(map(int, input().split()))\n"
    "assert 1 <= k <= n <= 1000 and len(s) == n and all(1 <= x <= 600 for x in s)\n",
  ),
  stdio(
    "Bus Load Peak",
    statement(
      "A city bus leaves the depot empty and visits n stops in order. At stop i, first a_i "
      "passengers get off and then b_i passengers get on. To choose a vehicle, the operator "
      "needs the largest number of passengers that are ever on board at the same time.",
      "The first line contains n (1 <= n <= 100). Each of the next n lines contains a_i and "
      "b_i (0 <= a_i, b_i <= 50); nobody leaves who is not on board.",
      "Print the largest load.",
      ("3\n0 4\n2 5\n6 1", "7"),
      ("2\n0 0\n0 0", "0"),
    ),
    [
      "load = best = 0\nfor _ in range(int(input())):\n    a, b = map(int, input().split())\n"
      "    load += b - a\n    best = max(best, load)\nprint(best)\n"
    ],
    [
      "load = 0\nfor _ in range(int(input())):\n    a, b = map(int, input().split())\n"
      "    load += b - a\nprint(load)\n",
      "best = 0\nfor _ in range(int(input())):\n    a, b = map(int, input().split())\n"
      "    best = max(best, b)\nprint(best)\n",
    ],
    ["3\n0 4\n2 5\n6 1", "2\n0 0\n0 0", "1\n0 9", "2\n0 1\n3 0"],
    "n = random.randint(1, 8)\nprint(n)\nload = 0\nfor _ in range(n):\n"
    "    a = random.randint(0, load)\n    b = random.randint(0, 9)\n    load += b - a\n"
    "    print(a, b)\n",
    "n = int(input())\nassert 1 <= n <= 100\nload = 0\nfor _ in range(n):\n"
    "    a, b = map(int, input().split())\n    assert 0 <= a <= 50 and 0 <= b <= 50 and a <= load\n"
    "    load += b - a\n",
  ),
  stdio(
    "Mirror Sentence",
    statement(
      "A puzzle magazine prints its secret messages backwards word by word: every word keeps "
      "its own spelling, but the last word comes first, the second-to-last word second, and so "
      "on. Turn a line into that mirrored order.",
      "One line with 1 to 50 words of lowercase English letters, separated by single spaces.",
      "Print the same words in reverse order, separated by single spaces.",
      ("meet me at noon", "noon at me meet"),
      ("hello", "hello"),
    ),
    ["print(*input().split()[::-1])\n", "print(' '.join(reversed(input().split())))\n"],
    [
      "print(input()[::-1])\n",
      "w = input().split()\nprint(*(w[-1:] + w[:-1]))\n",
    ],
    ["meet me at noon", "hello", "a b c d e", "Two Words"],
    "print(' '.join(''.join(random.choice('abcde') for _ in range(random.randint(1, 5)))\n"
    "               for _ in range(random.randint(1, 8))))\n",
    "w = input().split(' ')\n"
    "assert 1 <= len(w) <= 50 and all(x and all('a' <= ch <= 'z' for ch in x) for x in w)\n",
  ),
  stdio(
    "Sock Drawer",
    statement(
      "After laundry day a drawer holds n single socks, each tagged with a colour number. Two "
      "socks of the same colour make a wearable pair, and a sock can be part of at most one "
      "pair. How many pairs can be put together?",
      "The first line contains n (1 <= n <= 1000). The second line contains the n colour "
      "numbers (1 <= c_i <= 100).",
      "Print the largest number of pairs.",
      ("7\n1 2 1 2 1 3 2", "2"),
      ("4\n5 5 5 5", "2"),
    ),
    [
      "from collections import Counter\ninput()\nc = Counter(input().split())\n"
      "print(sum(v // 2 for v in c.values()))\n",
      "input()\ns = input().split()\nprint(sum(s.count(x) // 2 for x in set(s)))\n",
    ],
    [
      "from collections import Counter\ninput()\nc = Counter(input().split())\n"
      "print(sum(v >= 2 for v in c.values()))\n",
      "print(int(input()) // 2)\n",
    ],
    ["7\n1 2 1 2 1 3 2", "4\n5 5 5 5", "1\n9", "3\n1 2"],
    "n = random.randint(1, 15)\nprint(n)\nprint(*[random.randint(1, 4) for _ in range(n)])\n",
    "n = int(input())\nc = list(map(int, input().split()))\n"
    "assert 1 <= n <= 1000 and len(c) == n and all(1 <= x <= 100 for x in c)\n",
  ),
  stdio(
    "Checkered Floor",
    statement(
      "Tiles on a huge checkered floor are addressed by row r and column c, both counted from 1 "
      "starting at one corner. The corner tile (1, 1) is white, and any two tiles sharing a "
      "side have different colours.",
      "One line with r and c (1 <= r, c <= 10^9).",
      "Print WHITE or BLACK: the colour of tile (r, c).",
      ("1 1", "WHITE"),
      ("2 5", "BLACK"),
    ),
    [
      "r, c = map(int, input().split())\nprint('WHITE' if (r + c) % 2 == 0 else 'BLACK')\n",
      "r, c = map(int, input().split())\nprint(['WHITE', 'BLACK'][(r - c) % 2])\n",
    ],
    [
      "r, c = map(int, input().split())\nprint('WHITE' if r * c % 2 else 'BLACK')\n",
      "r, c = map(int, input().split())\nprint('WHITE' if r % 2 == c % 2 else 'black')\n",
    ],
    ["1 1", "3 8", "1000000000 1", "0 5"],
    "print(random.randint(1, 20), random.randint(1, 20))\n",
    "r, c = map(int, input().split())\nassert 1 <= r <= 10**9 and 1 <= c <= 10**9\n",
  ),
  stdio(
    "Station Clock",
    statement(
      "A station clock shows the time as HH:MM in 24-hour format. The next train is due in m "
      "minutes. What will the clock show when it arrives? After 23:59 the clock goes on with "
      "00:00.",
      "The first line contains the current time HH:MM (from 00:00 to 23:59). The second line "
      "contains m (0 <= m <= 10000).",
      "Print the arrival time as HH:MM, with two digits for the hours and two for the minutes.",
      ("09:45\n30", "10:15"),
      ("23:50\n20", "00:10"),
    ),
    [
      "h, mm = map(int, input().split(':'))\nt = (h * 60 + mm + int(input())) % 1440\n"
      "print(f'{t // 60:02d}:{t % 60:02d}')\n"
    ],
    [
      "h, mm = map(int, input().split(':'))\nt = h * 60 + mm + int(input())\n"
      "print(f'{t // 60:02d}:{t % 60:02d}')\n",
      "h, mm = map(int, input().split(':'))\nt = (h * 60 + mm + int(input())) % 1440\n"
      "print(f'{t // 60}:{t % 60}')\n",
    ],
    ["09:45\n30", "23:50\n20", "00:00\n0", "24:10\n5"],
    "print(f'{random.randint(0, 23):02d}:{random.randint(0, 59):02d}')\n"
    "print(random.randint(0, 3000))\n",
    "h, mm = input().split(':')\nm = int(input())\nassert len(h) == len(mm) == 2\n"
    "assert 0 <= int(h) <= 23 and 0 <= int(mm) <= 59 and 0 <= m <= 10000\n",
  ),
  stdio(
    "Step Goal",
    statement(
      "A fitness band counts the steps walked on each of n days. A day is a success when the "
      "count reaches the daily goal g or goes beyond it. Report how many days were a success.",
      "The first line contains n and g (1 <= n <= 365, 1 <= g <= 10^5). The second line "
      "contains the n step counts (0 <= s_i <= 10^5).",
      "Print the number of successful days.",
      ("5 6000\n5999 6000 12000 300 6001", "3"),
      ("2 10\n1 2", "0"),
    ),
    ["n, g = map(int, input().split())\nprint(sum(int(x) >= g for x in input().split()))\n"],
    [
      "n, g = map(int, input().split())\nprint(sum(int(x) > g for x in input().split()))\n",
      "n, g = map(int, input().split())\ns = list(map(int, input().split()))\ndays = 0\n"
      "while days < n and s[days] >= g:\n    days += 1\nprint(days)\n",
    ],
    ["5 6000\n5999 6000 12000 300 6001", "2 10\n1 2", "1 1\n1", "2 5\n-1 7"],
    "n = random.randint(1, 10)\nprint(n, random.randint(1, 10))\n"
    "print(*[random.randint(0, 12) for _ in range(n)])\n",
    "n, g = map(int, input().split())\ns = list(map(int, input().split()))\n"
    "assert 1 <= n <= 365 and 1 <= g <= 10**5\n"
    "assert len(s) == n and all(0 <= x <= 10**5 for x in s)\n",
  ),
  stdio(
    "Rainy Streak",
    statement(
      "A weather diary marks each day with R for rain or S for sunshine. The diarist wants to "
      "know the longest stretch of consecutive rainy days she has recorded.",
      "One line: a string of 1 to 1000 characters, each of them R or S.",
      "Print the length of the longest run of R, or 0 when there is no rainy day at all.",
      ("SRRSRRRS", "3"),
      ("SSS", "0"),
    ),
    [
      "print(max(len(run) for run in input().split('S')))\n",
      "best = cur = 0\nfor ch in input():\n    cur = cur + 1 if ch == 'R' else 0\n"
      "    best = max(best, cur)\nprint(best)\n",
    ],
    [
      "print(input().count('R'))\n",
      "best = cur = 0\nfor ch in input():\n    if ch == 'R':\n        cur += 1\n    else:\n"
      "        best = max(best, cur)\n        cur = 0\nprint(best)\n",
    ],
    ["SRRSRRRS", "SSS", "R", "RRXS"],
    "print(''.join(random.choice('RS') for _ in range(random.randint(1, 20))))\n",
    "s = input()\nassert 1 <= len(s) <= 1000 and set(s) <= set('RS')\n",
  ),
  stdio(
    "Coin Jar",
    statement(
      "A child empties a coin jar holding q quarters (25 cents each), d dimes (10 cents), n "
      "nickels (5 cents) and p pennies (1 cent). Write down the total value in dollars, with "
      "exactly two digits after the decimal point.",
      "One line with four integers q, d, n and p (each between 0 and 10^4).",
      "Print the total as D.CC, for instance 3.07 for three dollars and seven cents.",
      ("4 2 1 3", "1.28"),
      ("0 0 1 2", "0.07"),
    ),
    [
      "q, d, n, p = map(int, input().split())\nc = 25 * q + 10 * d + 5 * n + p\n"
      "print(f'{c // 100}.{c % 100:02d}')\n",
      "q, d, n, p = map(int, input().split())\nc = 25 * q + 10 * d + 5 * n + p\n"
      "print('%d.%02d' % divmod(c, 100))\n",
    ],
    [
      "q, d, n, p = map(int, input().split())\nc = 25 * q + 10 * d + 5 * n + p\n"
      "print(f'{c // 100}.{c % 100}')\n",
      "q, d, n, p = map(int, input().split())\nc = 25 * q + 10 * d + 5 * n\n"
      "print(f'{c // 100}.{c % 100:02d}')\n",
    ],
    ["4 2 1 3", "0 0 1 2", "0 0 0 0", "1 2 3"],
    "print(*[random.randint(0, 12) for _ in range(4)])\n",
    "v = list(map(int, input().split()))\nassert len(v) == 4 and all(0 <= x <= 10**4 for x in v)\n",
  ),
  stdio(
    "Cinema Seat",
    statement(
      "Every row of a cinema hall has w seats, and the seats are numbered without gaps: row 1 "
      "holds seats 1 to w from left to right, row 2 holds seats w + 1 to 2w, and so on. Given a "
      "seat number s, find where the seat is.",
      "One line with w and s (1 <= w <= 1000, 1 <= s <= 10^6).",
      "Print two integers: the row of seat s and its place within that row, both from 1.",
      ("10 23", "3 3"),
      ("8 16", "2 8"),
    ),
    [
      "w, s = map(int, input().split())\nprint((s - 1) // w + 1, (s - 1) % w + 1)\n",
      "w, s = map(int, input().split())\nr, c = divmod(s - 1, w)\nprint(r + 1, c + 1)\n",
    ],
    [
      "w, s = map(int, input().split())\nprint(s // w + 1, s % w)\n",
      "w, s = map(int, input().split())\nprint(-(-s // w), s % w + 1)\n",
    ],
    ["10 23", "8 16", "1 1", "5 0"],
    "w = random.randint(1, 6)\n"
    "print(w, random.choice([random.randint(1, 40), w * random.randint(1, 6)]))\n",
    "w, s = map(int, input().split())\nassert 1 <= w <= 1000 and 1 <= s <= 10**6\n",
  ),
  stdio(
    "Glove Factory",
    statement(
      "A factory sewed one batch of left gloves and one batch of right gloves, and stamped every "
      "glove with its size. A left and a right glove of equal size are sold together as a pair, "
      "and no glove can be sold twice.",
      "The first line lists the sizes of the left gloves, the second line the sizes of the "
      "right gloves; each line has 1 to 1000 integers between 1 and 20.",
      "Print the largest number of pairs that can be sold.",
      ("7 8 8 9\n8 8 8 7", "3"),
      ("1 1\n2", "0"),
    ),
    [
      "from collections import Counter\nleft = Counter(input().split())\n"
      "right = Counter(input().split())\nprint(sum((left & right).values()))\n",
      "a = input().split()\nb = input().split()\n"
      "print(sum(min(a.count(x), b.count(x)) for x in set(a)))\n",
    ],
    [
      "a = set(input().split())\nb = set(input().split())\nprint(len(a & b))\n",
      "a = input().split()\nb = input().split()\nprint(min(len(a), len(b)))\n",
    ],
    ["7 8 8 9\n8 8 8 7", "1 1\n2", "5\n5", "3 21\n3"],
    "for _ in range(2):\n    print(*[random.randint(1, 4) for _ in range(random.randint(1, 8))])\n",
    "for _ in range(2):\n    g = list(map(int, input().split()))\n"
    "    assert 1 <= len(g) <= 1000 and all(1 <= x <= 20 for x in g)\n",
  ),
]
