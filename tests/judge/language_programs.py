"""One program per judge language that does what its input says, so that one compile covers
every verdict: ``double N`` prints 2N, ``crash`` fails at run time, ``spin`` never ends,
``hog`` keeps allocating (and touching) memory; plus a source that does not compile."""

VERDICT_PROGRAMS = {
  "python": """
import sys
command = sys.stdin.readline().split()
if command[0] == "double":
    print(2 * int(command[1]))
elif command[0] == "crash":
    raise ValueError("asked to crash")
elif command[0] == "spin":
    while True:
        pass
else:
    blocks = []
    while True:
        blocks.append(bytearray(16 << 20))
""",
  "cpp": """
#include <cstdio>
#include <cstring>
#include <vector>
int main() {
  char command[16]; long long n = 0;
  if (scanf("%15s %lld", command, &n) < 1) return 3;
  if (!strcmp(command, "double")) { printf("%lld\\n", 2 * n); return 0; }
  if (!strcmp(command, "crash")) { int* p = nullptr; return *(volatile int*)p; }
  if (!strcmp(command, "spin")) { volatile unsigned long x = 0; for (;;) x++; }
  std::vector<std::vector<char>> blocks;
  for (;;) blocks.emplace_back(16 << 20, 1);
}
""",
  "java": """
import java.util.*;
public class Main {
  public static void main(String[] args) {
    Scanner in = new Scanner(System.in);
    String command = in.next();
    if (command.equals("double")) { System.out.println(2 * in.nextLong()); return; }
    if (command.equals("crash")) { throw new IllegalStateException("asked to crash"); }
    if (command.equals("spin")) { long x = 0; while (true) { x++; } }
    List<long[]> blocks = new ArrayList<>();
    while (true) { long[] block = new long[2 << 20]; Arrays.fill(block, 1); blocks.add(block); }
  }
}
""",
  "javascript": """
const [command, n] = require("fs").readFileSync(0, "utf8").trim().split(/\\s+/);
if (command === "double") {
  console.log(String(2 * Number(n)));
} else if (command === "crash") {
  throw new Error("asked to crash");
} else if (command === "spin") {
  for (;;) {}
} else {
  const blocks = [];  // Buffers live outside the JavaScript heap: only RSS bounds them
  for (;;) blocks.push(Buffer.alloc(16 << 20, 1));
}
""",
  "typescript": """
import * as fs from "fs";
const [command, n]: string[] = fs.readFileSync(0, "utf8").trim().split(/\\s+/);
if (command === "double") {
  console.log(String(2 * Number(n)));
} else if (command === "crash") {
  throw new Error("asked to crash");
} else if (command === "spin") {
  for (;;) {}
} else {
  const blocks: number[][] = [];
  for (;;) blocks.push(new Array(1 << 20).fill(1.5));
}
""",
  "php": """<?php
$command = explode(" ", trim(fgets(STDIN)));
if ($command[0] === "double") { echo 2 * intval($command[1]), "\\n"; exit(0); }
if ($command[0] === "crash") { throw new Exception("asked to crash"); }
if ($command[0] === "spin") { $x = 0; while (true) { $x++; } }
$blocks = [];
while (true) { $blocks[] = str_repeat("x", 16 << 20); }
""",
  "csharp": """
using System;
using System.Collections.Generic;
class Program {
  static void Main() {
    string[] command = Console.ReadLine().Trim().Split(' ');
    if (command[0] == "double") { Console.WriteLine(2 * long.Parse(command[1])); return; }
    if (command[0] == "crash") { throw new InvalidOperationException("asked to crash"); }
    if (command[0] == "spin") { long x = 0; while (true) { x++; } }
    var blocks = new List<byte[]>();
    while (true) { var block = new byte[16 << 20]; for (int i = 0; i < block.Length; i += 4096) block[i] = 1; blocks.Add(block); }
  }
}
""",
  "bash": """
read command n
case "$command" in
  double) echo $((2 * n)) ;;
  crash) exit 3 ;;
  spin) while :; do :; done ;;
  *) blocks=x; while :; do blocks="$blocks$blocks"; done ;;
esac
""",
  "go": """
package main

import "fmt"

func main() {
	var command string
	var n int64
	fmt.Scan(&command, &n)
	switch command {
	case "double":
		fmt.Println(2 * n)
	case "crash":
		panic("asked to crash")
	case "spin":
		for x := 0; ; x++ {
		}
	default:
		var blocks [][]byte
		for {
			block := make([]byte, 16<<20)
			for i := range block {
				block[i] = 1
			}
			blocks = append(blocks, block)
		}
	}
}
""",
  "rust": """
use std::io::Read;
fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let words: Vec<&str> = input.split_whitespace().collect();
    match words[0] {
        "double" => println!("{}", 2 * words[1].parse::<i64>().unwrap()),
        "crash" => panic!("asked to crash"),
        "spin" => { let mut x: u64 = 1; loop { x = x.wrapping_mul(3); if x == 0 { println!("0"); } } }
        _ => { let mut blocks = Vec::new(); loop { blocks.push(vec![1u8; 16 << 20]); } }
    }
}
""",
}

# Sources that do not compile (a type error for TypeScript); None: the language has no
# compile step, so broken source is a runtime error there.
BROKEN_PROGRAMS = {
  "python": "def f(:\n",
  "cpp": "int main( {",
  "java": "public class Main { void f( }",
  "javascript": None,
  "typescript": 'const x: number = "text";\nconsole.log(x);\n',
  "php": None,
  "csharp": "class Program { static void Main( }",
  "bash": None,
  "go": "package main\nfunc main() { undefined() }\n",
  "rust": 'fn main() { let x: i32 = "text"; }\n',
}
