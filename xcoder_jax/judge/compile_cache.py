"""A cache of compiled C++ binaries shared by the judge's workers (see `CompileCache`)."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading

from xcoder_jax.fileio import atomic_write


class CompileCache:
  """Compiled C++ binaries by hash of (compile command, source), shared by a judge's workers.

  RL batches hold many copies of one program (identical rollouts, a reference solution judged
  again), and `g++ -O2` costs far more than the runs. A binary is what the compiler made of
  that exact source in a fresh sandbox before any of the program ran, so it is as trusted as
  a fresh compile, and it only ever runs inside sandboxes. Files live in a private (0700)
  directory in the judge's temp area, written atomically; the least recently used go once
  the total passes ``max_bytes``. Compiles of one key are serialized, so a worker that needs
  a binary another worker is compiling waits for it instead of compiling it again.
  """

  def __init__(self, directory: str | None = None, max_bytes: int = 256 << 20):
    if directory is None:
      directory = tempfile.mkdtemp(prefix="xcoder-judge-cpp-cache-")
      atexit.register(shutil.rmtree, directory, True)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    self.directory, self.max_bytes = directory, max_bytes
    self.hits = self.misses = 0
    self._lock = threading.Lock()
    self._claims: dict[str, list] = {}  # key -> [lock, waiters]; gone when nobody waits

  @staticmethod
  def key(compile_command: list[str], source: str) -> str:
    return hashlib.sha256(json.dumps([compile_command, source]).encode()).hexdigest()

  @contextlib.contextmanager
  def claim(self, key: str):
    """Yields the cached binary (None: compile it now and ``put`` it); holds the key meanwhile."""
    with self._lock:
      claim = self._claims.setdefault(key, [threading.Lock(), 0])
      claim[1] += 1
    try:
      with claim[0]:
        binary = self._read(key)
        with self._lock:
          if binary is None:
            self.misses += 1
          else:
            self.hits += 1
        yield binary
    finally:
      with self._lock:
        claim[1] -= 1
        if not claim[1]:
          del self._claims[key]

  def _read(self, key: str) -> bytes | None:
    path = os.path.join(self.directory, key)
    try:
      with open(path, "rb") as binary_file:
        binary = binary_file.read()
      os.utime(path)  # recently used: evicted last
    except FileNotFoundError:
      return None
    return binary

  def put(self, key: str, binary: bytes) -> None:
    if len(binary) > self.max_bytes:
      return
    with self._lock:
      with atomic_write(os.path.join(self.directory, key), "wb") as binary_file:
        binary_file.write(binary)
      entries = [entry for entry in os.scandir(self.directory) if not entry.name.startswith(".")]
      entries.sort(key=lambda entry: entry.stat().st_mtime_ns)
      total = sum(entry.stat().st_size for entry in entries)
      for entry in entries:
        if total <= self.max_bytes:
          break
        total -= entry.stat().st_size
        os.unlink(entry.path)


_shared_cache: list[CompileCache] = []
_shared_cache_lock = threading.Lock()


def shared_compile_cache() -> CompileCache:
  """The process's compile cache, made on first use (every Judge shares it by default)."""
  with _shared_cache_lock:
    if not _shared_cache:
      _shared_cache.append(CompileCache())
    return _shared_cache[0]
