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

# Attacks from inside the sandbox, one program per language (TypeScript runs as JavaScript):
# the input is "SECRET CANARY PORT" (a host file, a world-writable host file, a port
# listening on the host's loopback). Each prints what happened: read, write and connect must
# be denied, and spawning detached `sleep 300` processes in a loop must hit the process cap
# (the test then checks that none of them outlived the run).
ATTACK_OUTPUT = "read:denied\nwrite:denied\nnet:denied\nbomb:capped\n"
ATTACK_PROGRAMS = {
  "python": """
import socket, subprocess, sys
secret, canary, port = sys.stdin.readline().split()
for name, attack in (
    ("read", lambda: open(secret).read()),
    ("write", lambda: open(canary, "w").write("owned")),
    ("net", lambda: socket.create_connection(("127.0.0.1", int(port)), timeout=1)),
):
    try:
        attack()
        print(name + ":succeeded")
    except OSError:
        print(name + ":denied")
for _ in range(500):
    try:
        subprocess.Popen(["/usr/bin/sleep", "300"], start_new_session=True)
    except OSError:
        print("bomb:capped")
        break
else:
    print("bomb:uncapped")
""",
  "cpp": """
#include <arpa/inet.h>
#include <cstdio>
#include <fcntl.h>
#include <iostream>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
int main() {
  std::string secret, canary; int port;
  std::cin >> secret >> canary >> port;
  std::cout << (open(secret.c_str(), O_RDONLY) < 0 ? "read:denied" : "read:succeeded") << "\\n";
  std::cout << (open(canary.c_str(), O_WRONLY) < 0 ? "write:denied" : "write:succeeded") << "\\n";
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{}; address.sin_family = AF_INET; address.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  bool connected = fd >= 0 && connect(fd, (sockaddr*)&address, sizeof address) == 0;
  std::cout << (connected ? "net:succeeded" : "net:denied") << std::endl;
  for (int i = 0; i < 500; i++) {
    pid_t pid = fork();
    if (pid < 0) { std::cout << "bomb:capped" << std::endl; return 0; }
    if (pid == 0) { setsid(); execl("/usr/bin/sleep", "sleep", "300", (char*)nullptr); _exit(1); }
  }
  std::cout << "bomb:uncapped" << std::endl;
}
""",
  "java": """
import java.io.*;
import java.net.*;
import java.nio.file.*;
import java.util.*;
public class Main {
  public static void main(String[] args) {
    Scanner in = new Scanner(System.in);
    String secret = in.next(), canary = in.next();
    int port = in.nextInt();
    try { Files.readAllBytes(Paths.get(secret)); System.out.println("read:succeeded"); }
    catch (IOException e) { System.out.println("read:denied"); }
    try { Files.write(Paths.get(canary), "owned".getBytes()); System.out.println("write:succeeded"); }
    catch (IOException e) { System.out.println("write:denied"); }
    try (Socket socket = new Socket("127.0.0.1", port)) { System.out.println("net:succeeded"); }
    catch (IOException e) { System.out.println("net:denied"); }
    System.out.flush();
    for (int i = 0; i < 500; i++) {
      try { new ProcessBuilder("/usr/bin/sleep", "300").start(); }
      catch (Throwable e) { System.out.println("bomb:capped"); System.out.flush(); Runtime.getRuntime().halt(0); }
    }
    System.out.println("bomb:uncapped");
  }
}
""",
  "javascript": """
const fs = require("fs"), net = require("net"), child = require("child_process");
const [secret, canary, port] = fs.readFileSync(0, "utf8").trim().split(/\\s+/);
const attempt = (name, attack) => {
  try { attack(); console.log(name + ":succeeded"); } catch (e) { console.log(name + ":denied"); }
};
attempt("read", () => fs.readFileSync(secret));
attempt("write", () => fs.writeFileSync(canary, "owned"));
const socket = net.connect(Number(port), "127.0.0.1");
socket.on("connect", () => { console.log("net:succeeded"); process.exit(0); });
socket.on("error", () => {
  console.log("net:denied");
  for (let i = 0; i < 500; i++) {
    const sleeper = child.spawn("/usr/bin/sleep", ["300"], { detached: true, stdio: "ignore" });
    sleeper.on("error", () => {});
    if (sleeper.pid === undefined) { console.log("bomb:capped"); process.exit(0); }
  }
  console.log("bomb:uncapped");
  process.exit(0);
});
""",
  "php": """<?php
[$secret, $canary, $port] = explode(" ", trim(fgets(STDIN)));
echo @file_get_contents($secret) === false ? "read:denied\\n" : "read:succeeded\\n";
echo @file_put_contents($canary, "owned") === false ? "write:denied\\n" : "write:succeeded\\n";
echo @fsockopen("127.0.0.1", intval($port), $code, $message, 1) === false ? "net:denied\\n" : "net:succeeded\\n";
$sleepers = [];
for ($i = 0; $i < 500; $i++) {
  $sleeper = @proc_open(["/usr/bin/sleep", "300"], [], $pipes);
  if ($sleeper === false) { echo "bomb:capped\\n"; exit(0); }
  $sleepers[] = $sleeper;
}
echo "bomb:uncapped\\n";
""",
  "csharp": """
using System;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
class Program {
  static void Main() {
    string[] words = Console.ReadLine().Trim().Split(' ');
    try { File.ReadAllText(words[0]); Console.WriteLine("read:succeeded"); }
    catch (Exception) { Console.WriteLine("read:denied"); }
    try { File.WriteAllText(words[1], "owned"); Console.WriteLine("write:succeeded"); }
    catch (Exception) { Console.WriteLine("write:denied"); }
    try { new TcpClient("127.0.0.1", int.Parse(words[2])); Console.WriteLine("net:succeeded"); }
    catch (Exception) { Console.WriteLine("net:denied"); }
    for (int i = 0; i < 500; i++) {
      try { Process.Start(new ProcessStartInfo("/usr/bin/sleep", "300") { UseShellExecute = false }); }
      catch (Exception) { Console.WriteLine("bomb:capped"); Console.Out.Flush(); Environment.Exit(0); }
    }
    Console.WriteLine("bomb:uncapped");
  }
}
""",
  "bash": """
read secret canary port
cat "$secret" >/dev/null 2>&1 && echo read:succeeded || echo read:denied
(echo owned >"$canary") 2>/dev/null && echo write:succeeded || echo write:denied
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && echo net:succeeded || echo net:denied
# bash's own fork retries for seconds when the cap is reached; setsid -f and xargs do not
if seq 500 | xargs -n1 -P1 setsid -f /usr/bin/sleep 300 >/dev/null 2>&1; then
  echo bomb:uncapped
else
  echo bomb:capped
fi
""",
  "go": """
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
)

func main() {
	var secret, canary, port string
	fmt.Scan(&secret, &canary, &port)
	if _, err := os.ReadFile(secret); err != nil {
		fmt.Println("read:denied")
	} else {
		fmt.Println("read:succeeded")
	}
	if err := os.WriteFile(canary, []byte("owned"), 0o666); err != nil {
		fmt.Println("write:denied")
	} else {
		fmt.Println("write:succeeded")
	}
	if _, err := net.Dial("tcp", "127.0.0.1:"+port); err != nil {
		fmt.Println("net:denied")
	} else {
		fmt.Println("net:succeeded")
	}
	for i := 0; i < 500; i++ {
		if err := exec.Command("/usr/bin/sleep", "300").Start(); err != nil {
			fmt.Println("bomb:capped")
			return
		}
	}
	fmt.Println("bomb:uncapped")
}
""",
  "rust": """
use std::io::Read;
fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let words: Vec<&str> = input.split_whitespace().collect();
    let denied = |ok: bool| if ok { "succeeded" } else { "denied" };
    println!("read:{}", denied(std::fs::read(words[0]).is_ok()));
    println!("write:{}", denied(std::fs::write(words[1], "owned").is_ok()));
    let address = format!("127.0.0.1:{}", words[2]);
    println!("net:{}", denied(std::net::TcpStream::connect(address).is_ok()));
    for _ in 0..500 {
        if std::process::Command::new("/usr/bin/sleep").arg("300").spawn().is_err() {
            println!("bomb:capped");
            return;
        }
    }
    println!("bomb:uncapped");
}
""",
}
