"""THE language table: one row per language the judge runs.

A row says how a program in that language becomes something runnable (saved under which
file name, compiled by which command, which outputs the runs need) and how each run starts,
which toolchain it needs (and the Debian package that provides it), and how its memory
limit is enforced. The sandbox, the runner, the compile cache, the judge service's language
names and ``make install`` all read this table; adding a language is one row plus its rows
in ``tests/judge/language_programs.py`` (run by ``tests/judge/test_judge_languages.py``).

Memory: an address-space rlimit is exact and free, but the JVM, Node, Mono, Go and PHP
reserve far more address space than they use (a trivial Java program needs ~5.7 GiB of it),
so for those the limit is on resident memory, polled by the sandbox's supervisor (and the
run's peak RSS afterwards), with a generous address-space backstop; the runtime is also told
the limit (heap flags), so that it collects garbage before reaching it.

Commands are templates: ``{memory_mb}`` (the run's memory limit) and ``{main_class}`` (Java)
are filled in per submission. Executables are absolute paths: the sandbox's PATH is fixed.
"""

import dataclasses
import functools
import os
import re
import subprocess
from collections.abc import Mapping, Sequence

# Where `make install` puts the pinned TypeScript declarations (npm ci of the package.json
# beside this file), and where the sandbox sees them.
TYPESCRIPT_TYPES_DIR = os.path.join(os.path.dirname(__file__), "typescript", "node_modules")
_TYPES_IN_SANDBOX = "/judge-typescript/node_modules"


@dataclasses.dataclass(frozen=True)
class Language:
  """How the judge runs one language (see the module docstring)."""

  name: str
  aliases: tuple[str, ...]  # also the tags of its fenced code blocks in model answers
  title: str  # how prompts name it
  source_name: str  # the file the source is saved as (templated)
  run: tuple[str, ...]  # a run's argv; () = exec the compiled binary itself
  compile: tuple[str, ...] = ()  # () = no compile step (interpreted)
  outputs: tuple[str, ...] = ()  # file patterns the compile leaves for the runs
  toolchain: tuple[str, ...] = ()  # executables that must exist on the host
  version: tuple[str, ...] = ()  # prints the toolchain's version
  package: str = ""  # the Debian package(s) providing the toolchain
  resident_memory: bool = False  # enforce memory on RSS, not address space (see above)
  address_space_mb: int = 0  # with resident_memory: the backstop beyond the limit
  tasks: int = 0  # processes + threads the runtime itself needs (0: RunLimits' default)
  env: tuple[tuple[str, str], ...] = ()  # extra environment of compile and run
  sandbox_paths: tuple[tuple[str, str], ...] = ()  # (host, in sandbox) read-only binds
  oom_markers: tuple[str, ...] = ()  # stderr text of the runtime's out-of-memory error
  # stderr text of a failure the runtime reports without a failing exit status
  failure_markers: tuple[str, ...] = ()
  # Files the toolchain needs beyond the Debian package (pinned in the repository), and the
  # command that installs them
  pinned_paths: tuple[str, ...] = ()
  pinned_setup: str = ""

  @property
  def native(self) -> bool:
    """The compile makes one binary the runs exec directly (C++, Go, Rust)."""
    return bool(self.compile) and not self.run

  @property
  def in_harness(self) -> bool:
    """Python: compiled and run by the sandbox's own warm interpreter."""
    return self.name == "python"

  def fill(self, template: Sequence[str], source: str, memory_mb: int) -> list[str]:
    """``template`` with this submission's values (Java's class, the memory limit)."""
    values = {"memory_mb": memory_mb}
    if any("{main_class}" in part for part in template):
      values["main_class"] = java_main_class(source)
    return [part.format(**values) for part in template]

  def file_name(self, source: str) -> str:
    return self.fill([self.source_name], source, 0)[0]

  def environment(self, source: str, memory_mb: int) -> dict[str, str]:
    """The row's extra environment for this submission (compile and runs alike)."""
    values = self.fill([value for _, value in self.env], source, memory_mb)
    return dict(zip((name for name, _ in self.env), values))


_JAVA_OPTIONS = (
  "-Xlog:disable",  # the JVM logs warnings to stdout, which is the program's answer
  "-Xlog:all=warning:stderr",
  "-XX:+UseSerialGC",
  "-XX:TieredStopAtLevel=1",
  "-XX:ReservedCodeCacheSize=64m",
  "-Xss64m",
)
_JAVA_CLASSPATH = ".:/usr/share/java/javatuples.jar"  # MultiPL-E's Java tests use javatuples
_NODE_RUN = ("/usr/bin/node", "--max-old-space-size={memory_mb}", "--stack-size=16000")

LANGUAGES: tuple[Language, ...] = (
  Language(
    name="python",
    aliases=("python3", "py"),
    title="Python 3",
    source_name="solution.py",
    run=(),
    toolchain=("/usr/bin/python3",),
    version=("/usr/bin/python3", "--version"),
    package="python3",
  ),
  Language(
    name="cpp",
    aliases=("c++", "cpp17", "cc"),
    title="C++17",
    source_name="solution.cpp",
    compile=("/usr/bin/g++", "-O2", "-std=gnu++17", "-pipe", "-o", "solution", "solution.cpp"),
    run=(),
    outputs=("solution",),
    toolchain=("/usr/bin/g++",),
    version=("/usr/bin/g++", "--version"),
    package="g++",
    oom_markers=("std::bad_alloc",),
  ),
  Language(
    name="java",
    aliases=(),
    title="Java 17",
    source_name="{main_class}.java",
    compile=(
      "/usr/bin/javac",
      "-J-Xmx1g",
      "-J-XX:+UseSerialGC",
      "-encoding",
      "UTF8",
      "-cp",
      _JAVA_CLASSPATH,
      "{main_class}.java",
    ),
    outputs=("*.class",),
    run=(
      "/usr/bin/java",
      "-Xmx{memory_mb}m",
      *_JAVA_OPTIONS,
      "-ea",
      "-cp",
      _JAVA_CLASSPATH,
      "{main_class}",
    ),
    toolchain=("/usr/bin/javac", "/usr/bin/java", "/usr/share/java/javatuples.jar"),
    version=("/usr/bin/javac", "-version"),
    package="default-jdk-headless libjavatuples-java",
    resident_memory=True,
    address_space_mb=3072,
    tasks=96,
    sandbox_paths=(("/etc/java-17-openjdk", "/etc/java-17-openjdk"),),
    oom_markers=("java.lang.OutOfMemoryError",),
  ),
  Language(
    name="javascript",
    aliases=("js", "nodejs", "node"),
    title="JavaScript (Node.js)",
    source_name="solution.js",
    run=(*_NODE_RUN, "solution.js"),
    toolchain=("/usr/bin/node",),
    version=("/usr/bin/node", "--version"),
    package="nodejs",
    resident_memory=True,
    address_space_mb=4096,
    tasks=64,
    oom_markers=("JavaScript heap out of memory", "RangeError: Array buffer allocation failed"),
  ),
  Language(
    name="typescript",
    aliases=("ts",),
    title="TypeScript",
    source_name="solution.ts",
    compile=(
      "/usr/bin/node",
      "--max-old-space-size=1024",
      "/usr/share/nodejs/typescript/bin/tsc",
      "--target",
      "esnext",
      "--module",
      "commonjs",
      "--typeRoots",
      _TYPES_IN_SANDBOX + "/@types",
      "--types",
      "node",
      "solution.ts",
    ),
    outputs=("solution.js",),
    run=(*_NODE_RUN, "solution.js"),
    toolchain=("/usr/bin/node", "/usr/share/nodejs/typescript/bin/tsc"),
    version=("/usr/bin/tsc", "--version"),
    package="nodejs node-typescript",
    resident_memory=True,
    address_space_mb=4096,
    tasks=64,
    sandbox_paths=((TYPESCRIPT_TYPES_DIR, _TYPES_IN_SANDBOX),),
    oom_markers=("JavaScript heap out of memory", "RangeError: Array buffer allocation failed"),
    pinned_paths=(os.path.join(TYPESCRIPT_TYPES_DIR, "@types", "node", "package.json"),),
    pinned_setup="npm ci --prefix xcoder_jax/judge/typescript (make install does)",
  ),
  Language(
    name="php",
    aliases=(),
    title="PHP 8",
    source_name="solution.php",
    run=(
      "/usr/bin/php",
      "-n",
      "-d",
      "memory_limit={memory_mb}M",
      "-d",
      "display_errors=stderr",
      "-d",
      "error_reporting=E_ALL",
      "solution.php",
    ),
    toolchain=("/usr/bin/php",),
    version=("/usr/bin/php", "--version"),
    package="php-cli",
    resident_memory=True,
    address_space_mb=1024,
    oom_markers=("Allowed memory size of",),
  ),
  Language(
    name="csharp",
    aliases=("c#", "cs"),
    title="C#",
    source_name="solution.cs",
    compile=(
      "/usr/bin/mcs",
      "-d:DEBUG",
      "-optimize+",
      "-r:System.Numerics.dll",
      "-out:solution.exe",
      "solution.cs",
    ),
    outputs=("solution.exe",),
    run=("/usr/bin/mono", "solution.exe"),
    toolchain=("/usr/bin/mcs", "/usr/bin/mono"),
    version=("/usr/bin/mono", "--version"),
    package="mono-mcs mono-runtime",
    resident_memory=True,
    address_space_mb=2048,
    tasks=64,
    # A failed Debug.Assert (compiled with -d:DEBUG) only prints, to stderr with this
    # listener, and the program goes on to exit 0: the marker makes it a runtime error.
    env=(
      ("MONO_GC_PARAMS", "max-heap-size={memory_mb}m"),
      ("MONO_TRACE_LISTENER", "Console.Error"),
    ),
    sandbox_paths=(("/etc/mono", "/etc/mono"),),
    oom_markers=("System.OutOfMemoryException",),
    failure_markers=("System.Diagnostics.DefaultTraceListener.Fail",),
  ),
  Language(
    name="bash",
    aliases=("sh", "shell"),
    title="Bash",
    source_name="solution.sh",
    run=("/usr/bin/bash", "solution.sh"),
    toolchain=("/usr/bin/bash",),
    version=("/usr/bin/bash", "--version"),
    package="bash",
    oom_markers=("cannot allocate",),
  ),
  Language(
    name="go",
    aliases=("golang",),
    title="Go",
    source_name="solution.go",
    compile=("/usr/bin/go", "build", "-o", "solution", "solution.go"),
    outputs=("solution",),
    run=(),
    toolchain=("/usr/bin/go",),
    version=("/usr/bin/go", "version"),
    package="golang-go",
    resident_memory=True,
    address_space_mb=2048,
    tasks=64,
    env=(
      ("GOMAXPROCS", "1"),
      ("GOMEMLIMIT", "{memory_mb}MiB"),
      ("GO111MODULE", "off"),
    ),
    oom_markers=("runtime: out of memory",),
  ),
  Language(
    name="rust",
    aliases=("rs",),
    title="Rust",
    source_name="solution.rs",
    compile=("/usr/bin/rustc", "-O", "--edition", "2021", "-o", "solution", "solution.rs"),
    outputs=("solution",),
    run=(),
    toolchain=("/usr/bin/rustc",),
    version=("/usr/bin/rustc", "--version"),
    package="rustc",
    oom_markers=("memory allocation of",),
  ),
)

_BY_NAME: dict[str, Language] = {
  alias: row for row in LANGUAGES for alias in (row.name, *row.aliases)
}


def names() -> list[str]:
  return [row.name for row in LANGUAGES]


def get(name: str) -> Language:
  """The row for ``name`` or one of its aliases; an unknown name lists the supported ones."""
  row = _BY_NAME.get(name.lower() if isinstance(name, str) else name)
  if row is None:
    raise ValueError(f"unknown language {name!r}; supported: {', '.join(names())}")
  return row


class ToolchainMissing(ValueError):
  """A language's toolchain is not installed: a setup problem, never the program's fault."""


def check_toolchain(row: Language, overrides: Mapping[str, str] = {}) -> None:
  """Raises ToolchainMissing (one line: what is missing and how to get it)."""
  for path in toolchain(row, overrides) + list(row.pinned_paths):
    if os.path.exists(path):
      continue
    if path in row.pinned_paths:
      fix = f"run {row.pinned_setup}"
    elif path not in row.toolchain:
      fix = "point the toolchain override (--toolchain, SandboxConfig.toolchains) at it"
    else:
      fix = f"install Debian's {row.package} (make install does)"
    raise ToolchainMissing(f"{row.name}: {path} not found; {fix}")


def toolchain(row: Language, overrides: Mapping[str, str] = {}) -> list[str]:
  """The row's toolchain paths, the first replaced by ``overrides[row.name]`` when given."""
  paths = list(row.toolchain)
  if row.name in overrides:
    paths[0] = overrides[row.name]
  return paths


@functools.cache
def _identity(path: str) -> str:
  info = os.stat(os.path.realpath(path))
  return f"{os.path.realpath(path)}:{info.st_size}:{info.st_mtime_ns}"


def toolchain_identity(row: Language, overrides: Mapping[str, str] = {}) -> str:
  """Changes whenever the toolchain does (a package upgrade, other pinned files): part of the
  compile cache key."""
  paths = toolchain(row, overrides) + list(row.pinned_paths)
  return ";".join(_identity(path) for path in paths if os.path.exists(path))


def toolchain_version(row: Language) -> str:
  """The first line the row's version command prints, or why there is none."""
  if not os.path.exists(row.version[0]):
    return f"not installed (Debian: {row.package})"
  done = subprocess.run(row.version, capture_output=True, text=True, timeout=60)
  lines = (done.stdout or done.stderr).strip().splitlines()
  return lines[0] if lines else f"exit {done.returncode}"


def sandbox_binds() -> list[tuple[str, str]]:
  """Read-only binds every sandbox gets: each row's existing host paths (toolchain config)."""
  binds = []
  for row in LANGUAGES:
    binds += [(host, inside) for host, inside in row.sandbox_paths if os.path.exists(host)]
  return binds


_JAVA_PUBLIC_CLASS = re.compile(r"^\s*public\s+(?:final\s+|abstract\s+)*class\s+(\w+)", re.M)
_JAVA_MAIN = re.compile(
  r"\bclass\s+(\w+)[^{]*\{(?:(?!\bclass\b).)*?static\s+void\s+main\s*\(", re.S
)


def java_main_class(source: str) -> str:
  """The class a Java program runs as: the public top-level class (javac wants the file
  named after it), else the class declaring ``main``, else ``Main``."""
  public = _JAVA_PUBLIC_CLASS.search(source)
  if public:
    return public.group(1)
  declaring_main = _JAVA_MAIN.search(source)
  return declaring_main.group(1) if declaring_main else "Main"


def missing_packages() -> list[str]:
  """The Debian packages of every row whose toolchain is not installed (for make install)."""
  packages: list[str] = []
  for row in LANGUAGES:
    if not all(os.path.exists(path) for path in row.toolchain):
      packages += [name for name in row.package.split() if name not in packages]
  return packages


def describe() -> str:
  """The table in words: each language, its aliases, how memory is limited, its toolchain."""
  lines = []
  for row in LANGUAGES:
    memory = "resident" if row.resident_memory else "address space"
    aliases = ", ".join(row.aliases)
    lines.append(f"{row.name:<11} {aliases:<17} {memory:<14} {toolchain_version(row)}")
  return "\n".join(lines)
