"""C++ and Go answers of three demo tasks, for the demo's solutions in several languages:
per task title and language, a correct program and a plausible wrong one (the same slips as
the task's wrong Python answers). The scripted author answers other tasks' C++ and Go
requests without code, as a teacher with nothing to offer would."""

SOLUTIONS = {
  "February Extra Day": {
    "cpp": (
      '#include <cstdio>\nint main() {\n  long long y;\n  scanf("%lld", &y);\n'
      "  bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);\n"
      '  puts(leap ? "YES" : "NO");\n}\n',
      '#include <cstdio>\nint main() {\n  long long y;\n  scanf("%lld", &y);\n'
      '  puts(y % 4 == 0 ? "YES" : "NO");\n}\n',
    ),
    "go": (
      'package main\n\nimport "fmt"\n\nfunc main() {\n\tvar y int64\n\tfmt.Scan(&y)\n'
      '\tif y%4 == 0 && (y%100 != 0 || y%400 == 0) {\n\t\tfmt.Println("YES")\n\t} else {\n'
      '\t\tfmt.Println("NO")\n\t}\n}\n',
      'package main\n\nimport "fmt"\n\nfunc main() {\n\tvar y int64\n\tfmt.Scan(&y)\n'
      '\tif y%4 == 0 {\n\t\tfmt.Println("YES")\n\t} else {\n\t\tfmt.Println("NO")\n\t}\n}\n',
    ),
  },
  "Raffle Multiples": {
    "cpp": (
      '#include <cstdio>\nint main() {\n  long long l, r, d;\n  scanf("%lld %lld %lld", &l, &r, &d);\n'
      '  printf("%lld\\n", r / d - (l - 1) / d);\n}\n',
      '#include <cstdio>\nint main() {\n  long long l, r, d;\n  scanf("%lld %lld %lld", &l, &r, &d);\n'
      '  printf("%lld\\n", r / d - l / d);\n}\n',
    ),
    "go": (
      'package main\n\nimport "fmt"\n\nfunc main() {\n\tvar l, r, d int64\n'
      "\tfmt.Scan(&l, &r, &d)\n\tfmt.Println(r/d - (l-1)/d)\n}\n",
      'package main\n\nimport "fmt"\n\nfunc main() {\n\tvar l, r, d int64\n'
      "\tfmt.Scan(&l, &r, &d)\n\tfmt.Println(r/d - l/d)\n}\n",
    ),
  },
  "Coin Jar": {
    "cpp": (
      '#include <cstdio>\nint main() {\n  long long q, d, n, p;\n  scanf("%lld %lld %lld %lld", &q, &d, &n, &p);\n'
      '  long long c = 25 * q + 10 * d + 5 * n + p;\n  printf("%lld.%02lld\\n", c / 100, c % 100);\n}\n',
      '#include <cstdio>\nint main() {\n  long long q, d, n, p;\n  scanf("%lld %lld %lld %lld", &q, &d, &n, &p);\n'
      '  long long c = 25 * q + 10 * d + 5 * n + p;\n  printf("%lld.%lld\\n", c / 100, c % 100);\n}\n',
    ),
    "go": (
      'package main\n\nimport "fmt"\n\nfunc main() {\n\tvar q, d, n, p int64\n'
      "\tfmt.Scan(&q, &d, &n, &p)\n\tc := 25*q + 10*d + 5*n + p\n"
      '\tfmt.Printf("%d.%02d\\n", c/100, c%100)\n}\n',
      'package main\n\nimport "fmt"\n\nfunc main() {\n\tvar q, d, n, p int64\n'
      "\tfmt.Scan(&q, &d, &n, &p)\n\tc := 25*q + 10*d + 5*n + p\n"
      '\tfmt.Printf("%d.%d\\n", c/100, c%100)\n}\n',
    ),
  },
}
