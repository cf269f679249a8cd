"""What the benchmarks say about the machine, without importing JAX (the judge benchmarks
keep their process small: every sandbox start copies it)."""

import os


def cpu_model() -> str:
  """The CPU model and this process's count of cores, as /proc/cpuinfo names it."""
  with open("/proc/cpuinfo") as cpuinfo:
    lines = cpuinfo.read().splitlines()
  for line in lines:
    if line.startswith("model name"):
      return f"{line.split(':', 1)[1].strip()} x {os.cpu_count()}"
  return "unknown CPU"


def worker_pid(_) -> int:
  """A process pool's job that only starts its worker (pool.map over range(workers))."""
  return os.getpid()
