"""Short warm-up demo tasks (part 2 of 3): strings, grids and tallies; see task_bank_short.py."""

from data_pipeline.demo.task_bank_short import statement, stdio

TASKS = [
  stdio(
    "Robot Way Home",
    statement(
      "A floor-cleaning robot starts at its charging dock and runs a program of single-cell "
      "moves: U (up), D (down), L (left) and R (right). When the program ends, its owner wants "
      "to know how many grid moves the robot needs to walk straight back to the dock.",
      "One line: the program, 1 to 10^5 characters from U, D, L and R.",
      "Print |x| + |y| for the robot's final offset (x, y) from the dock.",
      ("UURDL", "1"),
      ("LLLD", "4"),
    ),
    [
      "s = input()\nprint(abs(s.count('R') - s.count('L')) + abs(s.count('U') - s.count('D')))\n",
      "x = y = 0\nfor ch in input():\n    x += (ch == 'R') - (ch == 'L')\n"
      "    y += (ch == 'U') - (ch == 'D')\nprint(abs(x) + abs(y))\n",
    ],
    [
      "s = input()\nprint(abs(s.count('R') - s.count('L') + s.count('U') - s.count('D')))\n",
      "print(len(input()))\n",
    ],
    ["UURDL", "LLLD", "R", "UXD"],
    "print(''.join(random.choice('UDLR') for _ in range(random.randint(1, 15))))\n",
    "s = input()\nassert 1 <= len(s) <= 10**5 and set(s) <= set('UDLR')\n",
  ),
  stdio(
    "Curved Grades",
    statement(
      "A teacher adds k bonus points to every exam score, but a score can never exceed 100 "
      "after the bonus. She then announces the class average of the new scores, rounded down "
      "to a whole number.",
      "The first line contains n and k (1 <= n <= 100, 0 <= k <= 100). The second line "
      "contains the n original scores, each from 0 to 100.",
      "Print the rounded-down average after the bonus.",
      ("3 10\n95 80 40", "80"),
      ("2 0\n3 4", "3"),
    ),
    [
      "n, k = map(int, input().split())\ns = [min(100, int(x) + k) for x in input().split()]\n"
      "print(sum(s) // n)\n"
    ],
    [
      "n, k = map(int, input().split())\ns = [int(x) + k for x in input().split()]\n"
      "print(sum(s) // n)\n",
      "n, k = map(int, input().split())\ns = [min(100, int(x) + k) for x in input().split()]\n"
      "print(round(sum(s) / n))\n",
    ],
    ["3 10\n95 80 40", "2 0\n3 4", "1 100\n100", "2 5\n101 3"],
    "n = random.randint(1, 8)\nprint(n, random.randint(0, 30))\n"
    "print(*[random.randint(40, 100) for _ in range(n)])\n",
    "n, k = map(int, input().split())\ns = list(map(int, input().split()))\n"
    "assert 1 <= n <= 100 and 0 <= k <= 100\n"
    "assert len(s) == n and all(0 <= x <= 100 for x in s)\n",
  ),
  stdio(
    "Diagonal Tablet",
    statement(
      "A clay tablet carries an n by n square of numbers. Its main diagonal runs from the "
      "top-left corner down to the bottom-right corner; the scribe who made it wants the sum of "
      "the numbers lying on that diagonal.",
      "The first line contains n (1 <= n <= 100). Each of the next n lines contains n integers "
      "between -1000 and 1000.",
      "Print the sum of the main diagonal.",
      ("3\n1 2 3\n4 5 6\n7 8 10", "16"),
      ("1\n-4", "-4"),
    ),
    [
      "n = int(input())\nprint(sum(int(input().split()[i]) for i in range(n)))\n",
      "n = int(input())\ng = [input().split() for _ in range(n)]\n"
      "print(sum(int(g[i][i]) for i in range(n)))\n",
    ],
    [
      "n = int(input())\ng = [input().split() for _ in range(n)]\n"
      "print(sum(int(g[i][n - 1 - i]) for i in range(n)))\n",
      "n = int(input())\ng = [input().split() for _ in range(n)]\n"
      "print(sum(int(g[i][i]) + int(g[i][n - 1 - i]) for i in range(n)))\n",
    ],
    ["3\n1 2 3\n4 5 6\n7 8 10", "1\n-4", "2\n0 0\n0 0", "2\n1 2\n3"],
    "n = random.randint(1, 5)\nprint(n)\nfor _ in range(n):\n"
    "    print(*[random.randint(-9, 9) for _ in range(n)])\n",
    "n = int(input())\nassert 1 <= n <= 100\nfor _ in range(n):\n"
    "    row = list(map(int, input().split()))\n"
    "    assert len(row) == n and all(-1000 <= x <= 1000 for x in row)\n",
  ),
  stdio(
    "Round Champions",
    statement(
      "A quiz league keeps a table with r rows, one per player, and c columns, one per round: "
      "the entry in row i and column j is what player i scored in round j. For every round, "
      "the league wants the best score anyone achieved in it.",
      "The first line contains r and c (1 <= r, c <= 100). Each of the next r lines contains c "
      "integers from 0 to 1000.",
      "Print c integers separated by spaces: the maximum of each column, from left to right.",
      ("2 3\n4 9 1\n7 2 1", "7 9 1"),
      ("1 2\n5 6", "5 6"),
    ),
    [
      "r, c = map(int, input().split())\ng = [list(map(int, input().split())) for _ in range(r)]\n"
      "print(*[max(col) for col in zip(*g)])\n",
      "r, c = map(int, input().split())\ng = [list(map(int, input().split())) for _ in range(r)]\n"
      "print(*[max(g[i][j] for i in range(r)) for j in range(c)])\n",
    ],
    [
      "r, c = map(int, input().split())\ng = [list(map(int, input().split())) for _ in range(r)]\n"
      "print(*[max(row) for row in g])\n",
      "r, c = map(int, input().split())\ng = [list(map(int, input().split())) for _ in range(r)]\n"
      "print(*[max(g[0][j], g[-1][j]) for j in range(c)])\n",
    ],
    ["2 3\n4 9 1\n7 2 1", "1 2\n5 6", "3 1\n0\n0\n0", "2 2\n1 2\n3"],
    "r, c = random.randint(1, 5), random.randint(1, 5)\nprint(r, c)\nfor _ in range(r):\n"
    "    print(*[random.randint(0, 20) for _ in range(c)])\n",
    "r, c = map(int, input().split())\nassert 1 <= r <= 100 and 1 <= c <= 100\nfor _ in range(r):\n"
    "    row = list(map(int, input().split()))\n"
    "    assert len(row) == c and all(0 <= x <= 1000 for x in row)\n",
  ),
  stdio(
    "Alternating Ledger",
    statement(
      "An old shop ledger alternates between money taken in and money paid out: its first "
      "entry is income, the second an expense, the third income again, and so on to the end. "
      "Work out the shop's net result, total income minus total expenses.",
      "The first line contains n (1 <= n <= 1000). The second line contains the n entries "
      "a_i (0 <= a_i <= 10^6).",
      "Print the net result; it may be negative.",
      ("4\n10 3 5 8", "4"),
      ("1\n7", "7"),
    ),
    [
      "input()\na = list(map(int, input().split()))\nprint(sum(a[0::2]) - sum(a[1::2]))\n",
      "input()\n"
      "print(sum(x if i % 2 == 0 else -x for i, x in enumerate(map(int, input().split()))))\n",
    ],
    [
      "input()\na = list(map(int, input().split()))\nprint(sum(a[1::2]) - sum(a[0::2]))\n",
      "n = int(input())\na = list(map(int, input().split()))\n"
      "print(sum(a[i] - a[i + 1] for i in range(0, n - 1, 2)))\n",
    ],
    ["4\n10 3 5 8", "1\n7", "3\n0 0 0", "2\n5 -1"],
    "n = random.randint(1, 9)\nprint(n)\nprint(*[random.randint(0, 50) for _ in range(n)])\n",
    "n = int(input())\na = list(map(int, input().split()))\n"
    "assert 1 <= n <= 1000 and len(a) == n and all(0 <= x <= 10**6 for x in a)\n",
  ),
  stdio(
    "Shelf Label Codes",
    statement(
      "A warehouse robot prints compact shelf labels. A word is written as blocks, one block "
      "for each maximal group of equal neighbouring letters: the letter followed by the size of "
      "its group. For example, ppqrrr becomes p2q1r3.",
      "One line: a word of 1 to 1000 lowercase English letters.",
      "Print the compact label of the word.",
      ("kkkmkk", "k3m1k2"),
      ("x", "x1"),
    ),
    [
      "from itertools import groupby\n"
      "print(''.join(f'{k}{len(list(g))}' for k, g in groupby(input())))\n",
      "s = input()\nout, i = '', 0\nwhile i < len(s):\n    j = i\n"
      "    while j < len(s) and s[j] == s[i]:\n        j += 1\n    out += s[i] + str(j - i)\n"
      "    i = j\nprint(out)\n",
    ],
    [
      "from itertools import groupby\nout = ''\nfor k, g in groupby(input()):\n"
      "    n = len(list(g))\n    out += k + (str(n) if n > 1 else '')\nprint(out)\n",
      "s = input()\nprint(''.join(c + str(s.count(c)) for c in dict.fromkeys(s)))\n",
    ],
    ["kkkmkk", "x", "abc", "aB"],
    "print(''.join(random.choice('abc') * random.randint(1, 3)"
    " for _ in range(random.randint(2, 7))))\n",
    "s = input()\nassert 1 <= len(s) <= 1000 and all('a' <= ch <= 'z' for ch in s)\n",
  ),
  stdio(
    "Shouting in Chat",
    statement(
      "Moderators of a chat room treat a word typed entirely in capital letters as shouting. "
      "Given one message, count how many of its words are shouted. Words consist of English "
      "letters only and are separated by single spaces.",
      "One line: the message, with 1 to 100 words.",
      "Print the number of shouted words.",
      ("WHY is THIS so Slow", "2"),
      ("calm down", "0"),
    ),
    [
      "print(sum(w.isupper() for w in input().split()))\n",
      "print(sum(w == w.upper() for w in input().split()))\n",
    ],
    [
      "print(sum(w[0].isupper() for w in input().split()))\n",
      "print(sum(ch.isupper() for ch in input()))\n",
    ],
    ["WHY is THIS so Slow", "calm down", "Q", "NO  way"],
    "print(' '.join(''.join(random.choice('aAbB') for _ in range(random.randint(1, 3)))\n"
    "               for _ in range(random.randint(1, 6))))\n",
    "import string\nw = input().split(' ')\n"
    "assert 1 <= len(w) <= 100 and all(x and set(x) <= set(string.ascii_letters) for x in w)\n",
  ),
  stdio(
    "Lamp Row Changes",
    statement(
      "A row of lamps is written as a string of 0 (off) and 1 (on). An electrician walks along "
      "the row with a tester that clicks every time the next lamp is in a different state from "
      "the one before it. How many clicks does she hear?",
      "One line: a string of 1 to 10^5 characters, each 0 or 1.",
      "Print the number of neighbouring lamp pairs in different states.",
      ("0011010", "4"),
      ("1", "0"),
    ),
    [
      "s = input()\nprint(sum(a != b for a, b in zip(s, s[1:])))\n",
      "s = input()\nprint(sum(s[i] != s[i - 1] for i in range(1, len(s))))\n",
    ],
    [
      "from itertools import groupby\nprint(len(list(groupby(input()))))\n",
      "s = input()\nprint(sum(s[i] != s[i + 1] for i in range(len(s) - 2)))\n",
    ],
    ["0011010", "1", "1111", "01a"],
    "print(''.join(random.choice('01') for _ in range(random.randint(1, 12))))\n",
    "s = input()\nassert 1 <= len(s) <= 10**5 and set(s) <= set('01')\n",
  ),
  stdio(
    "Candy Drawer",
    statement(
      "A teacher shares c candies among k children: every child receives the same amount, as "
      "large as possible. The candies that cannot be shared fairly go back into the drawer of "
      "her desk.",
      "One line with c and k (0 <= c <= 10^9, 1 <= k <= 10^9).",
      "Print two integers: the candies each child gets and the candies returned to the drawer.",
      ("17 5", "3 2"),
      ("4 9", "0 4"),
    ),
    [
      "c, k = map(int, input().split())\nprint(*divmod(c, k))\n",
      "c, k = map(int, input().split())\nprint(c // k, c - c // k * k)\n",
    ],
    [
      "c, k = map(int, input().split())\nprint(round(c / k), c % k)\n",
      "c, k = map(int, input().split())\nprint(c // k, k - c % k)\n",
    ],
    ["17 5", "4 9", "0 3", "5 0"],
    "print(random.randint(0, 60), random.randint(1, 12))\n",
    "c, k = map(int, input().split())\nassert 0 <= c <= 10**9 and 1 <= k <= 10**9\n",
  ),
  stdio(
    "February Extra Day",
    statement(
      "In the Gregorian calendar, February gets a 29th day in years divisible by 4, with one "
      "exception: a year divisible by 100 gets it only when it is divisible by 400 as well. "
      "Decide whether year y has a 29 February.",
      "One line with the year y (1 <= y <= 10^5).",
      "Print YES or NO.",
      ("2024", "YES"),
      ("1900", "NO"),
    ),
    [
      "y = int(input())\nprint('YES' if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 'NO')\n",
      "import calendar\nprint('YES' if calendar.isleap(int(input())) else 'NO')\n",
    ],
    [
      "y = int(input())\nprint('YES' if y % 4 == 0 else 'NO')\n",
      "y = int(input())\nprint('YES' if y % 4 == 0 and y % 100 != 0 else 'NO')\n",
    ],
    ["2024", "1900", "2000", "0"],
    "print(random.choice([random.randint(1, 3000), random.randint(1, 30) * 100,"
    " random.randint(1, 9) * 400]))\n",
    "y = int(input())\nassert 1 <= y <= 10**5\n",
  ),
  stdio(
    "Torn Page",
    statement(
      "A notebook has pages numbered from 1 to n, and exactly one page has been torn out. You "
      "get the numbers of the n - 1 pages that are left, in no particular order. Which page is "
      "gone?",
      "The first line contains n (2 <= n <= 10^5). The second line contains n - 1 distinct "
      "page numbers between 1 and n.",
      "Print the number of the torn-out page.",
      ("5\n3 1 5 2", "4"),
      ("2\n1", "2"),
    ),
    [
      "n = int(input())\nprint(n * (n + 1) // 2 - sum(map(int, input().split())))\n",
      "n = int(input())\nprint(*(set(range(1, n + 1)) - set(map(int, input().split()))))\n",
    ],
    [
      "n = int(input())\nprint(n * (n - 1) // 2 - sum(map(int, input().split())))\n",
      "n = int(input())\na = sorted(map(int, input().split()))\nprint(a[-1] + 1)\n",
    ],
    ["5\n3 1 5 2", "2\n1", "3\n3 2", "4\n1 2 2"],
    "n = random.randint(2, 12)\np = list(range(1, n + 1))\nrandom.shuffle(p)\nprint(n)\n"
    "print(*p[1:])\n",
    "n = int(input())\na = list(map(int, input().split()))\n"
    "assert 2 <= n <= 10**5 and len(a) == n - 1 == len(set(a))\n"
    "assert all(1 <= x <= n for x in a)\n",
  ),
  stdio(
    "Uphill Energy",
    statement(
      "A hiker follows a trail through checkpoints with altitudes h_1, ..., h_n. Going from "
      "one checkpoint to a higher next one costs one energy unit per metre gained, while going "
      "down or staying level costs nothing.",
      "The first line contains n (1 <= n <= 1000). The second line contains the altitudes "
      "h_i (0 <= h_i <= 10^4).",
      "Print the energy spent between the first checkpoint and the last.",
      ("5\n100 150 120 130 130", "60"),
      ("3\n9 5 1", "0"),
    ),
    [
      "input()\nh = list(map(int, input().split()))\n"
      "print(sum(max(0, b - a) for a, b in zip(h, h[1:])))\n"
    ],
    [
      "input()\nh = list(map(int, input().split()))\n"
      "print(sum(abs(b - a) for a, b in zip(h, h[1:])))\n",
      "input()\nh = list(map(int, input().split()))\nprint(max(0, h[-1] - h[0]))\n",
    ],
    ["5\n100 150 120 130 130", "3\n9 5 1", "1\n42", "2\n5 -3"],
    "n = random.randint(1, 10)\nprint(n)\nprint(*[random.randint(0, 20) for _ in range(n)])\n",
    "n = int(input())\nh = list(map(int, input().split()))\n"
    "assert 1 <= n <= 1000 and len(h) == n and all(0 <= x <= 10**4 for x in h)\n",
  ),
  stdio(
    "Class Captain",
    statement(
      "A class elects its captain: each of the n ballots carries one candidate's name. The name "
      "written on the most ballots wins; if several names share the top count, the one that "
      "comes first alphabetically wins.",
      "The first line contains n (1 <= n <= 1000). Each of the next n lines contains a name of "
      "1 to 10 lowercase English letters.",
      "Print the winner's name.",
      ("5\nmia\nleo\nmia\nleo\nzoe", "leo"),
      ("1\nkai", "kai"),
    ),
    [
      "from collections import Counter\nc = Counter(input() for _ in range(int(input())))\n"
      "print(min(c, key=lambda name: (-c[name], name)))\n"
    ],
    [
      "from collections import Counter\nc = Counter(input() for _ in range(int(input())))\n"
      "print(c.most_common(1)[0][0])\n",
      "from collections import Counter\nn = int(input())\nnames = [input() for _ in range(n)]\n"
      "c = Counter(names[:-1])\nprint(min(c, key=lambda name: (-c[name], name)))\n",
    ],
    ["5\nmia\nleo\nmia\nleo\nzoe", "1\nkai", "3\nab\nab\nb", "2\nAnn\nbo"],
    "n = random.randint(1, 9)\nprint(n)\nfor _ in range(n):\n"
    "    print(random.choice(['ana', 'bo', 'cy', 'di']))\n",
    "n = int(input())\nassert 1 <= n <= 1000\nfor _ in range(n):\n    s = input()\n"
    "    assert 1 <= len(s) <= 10 and all('a' <= ch <= 'z' for ch in s)\n",
  ),
  stdio(
    "Two Cheapest Gifts",
    statement(
      "A shop window displays n gifts with prices p_i. You want to buy two of them (two "
      "different items, which may still have the same price) and spend as little money as "
      "possible.",
      "The first line contains n (2 <= n <= 1000). The second line contains the n prices "
      "(1 <= p_i <= 1000).",
      "Print the smallest total price of two different gifts.",
      ("4\n8 3 5 3", "6"),
      ("3\n10 1 7", "8"),
    ),
    [
      "input()\np = sorted(map(int, input().split()))\nprint(p[0] + p[1])\n",
      "import heapq\ninput()\nprint(sum(heapq.nsmallest(2, map(int, input().split()))))\n",
    ],
    [
      "input()\nprint(2 * min(map(int, input().split())))\n",
      "input()\np = sorted(set(map(int, input().split())))\nprint(p[0] + p[1])\n",
    ],
    ["4\n8 3 5 3", "3\n10 1 7", "2\n5 5", "1\n4"],
    "n = random.randint(2, 8)\nprint(n)\nprint(*[random.randint(1, 9) for _ in range(n)])\n",
    "n = int(input())\np = list(map(int, input().split()))\n"
    "assert 2 <= n <= 1000 and len(p) == n and all(1 <= x <= 1000 for x in p)\n",
  ),
  stdio(
    "Conveyor Belt Ticks",
    statement(
      "Boxes stand on a circular conveyor belt with n slots, one box per slot. On every tick "
      "each box moves one slot to the right, and the box in the last slot moves round to the "
      "first slot. Show the order of the boxes after k ticks.",
      "The first line contains n and k (1 <= n <= 1000, 0 <= k <= 10^9). The second line "
      "contains the n box labels, integers from 1 to 10^6, from the first slot to the last.",
      "Print the n labels in slot order after k ticks.",
      ("5 2\n1 2 3 4 5", "4 5 1 2 3"),
      ("3 7\n9 8 7", "7 9 8"),
    ),
    [
      "n, k = map(int, input().split())\na = input().split()\nk %= n\n"
      "print(*(a[n - k:] + a[:n - k]))\n",
      "from collections import deque\nn, k = map(int, input().split())\n"
      "d = deque(input().split())\n"
      "d.rotate(k % n)\nprint(*d)\n",
    ],
    [
      "n, k = map(int, input().split())\na = input().split()\nprint(*(a[-k:] + a[:-k]))\n",
      "n, k = map(int, input().split())\na = input().split()\nk %= n\nprint(*(a[k:] + a[:k]))\n",
    ],
    ["5 2\n1 2 3 4 5", "3 7\n9 8 7", "1 100\n6", "2 1\n1 2 3"],
    "n = random.randint(1, 8)\nprint(n, random.randint(0, 20))\n"
    "print(*random.sample(range(1, 50), n))\n",
    "n, k = map(int, input().split())\na = list(map(int, input().split()))\n"
    "assert 1 <= n <= 1000 and 0 <= k <= 10**9\n"
    "assert len(a) == n and all(1 <= x <= 10**6 for x in a)\n",
  ),
]
