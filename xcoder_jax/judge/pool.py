"""The judge's front door: a pool of workers, one host uid each, judging batches."""

import concurrent.futures
import os
import queue
import threading
import weakref
from collections.abc import Sequence

from xcoder_jax.judge.compile_cache import CompileCache, shared_compile_cache
from xcoder_jax.judge.runner import RunLimits, SubmissionRunner, validate
from xcoder_jax.judge.sandbox import SandboxConfig
from xcoder_jax.judge.types import Submission, SubmissionResult
from xcoder_jax.judge.zygote import Zygote


class Judge:
  """Judges batches of submissions on every core.

  Each worker owns a host uid (``uid_base + i`` when the judge runs as root), so that
  RLIMIT_NPROC is enforced and a run's processes are easy to find. A worker judges one
  submission at a time in its own sandbox, forked by the worker's zygote (started on first
  use, kept until ``close``): one warm interpreter per submission, a fork per test.
  Use it as a context manager or call ``close``; a Judge that is garbage collected, or
  still open at exit, closes itself.
  """

  def __init__(
    self,
    config: SandboxConfig | None = None,
    limits: RunLimits | None = None,
    workers: int | None = None,
    prefork: bool = True,
    compile_cache: CompileCache | None = None,
  ):
    self.config = config or SandboxConfig()
    self.config.check()
    self.limits = limits or RunLimits()
    # Two workers per core: a worker's test passes through three processes in turn
    # (judge, fork server, run), so one per core leaves cores idle at every hand-off.
    self.workers = workers or 2 * (os.cpu_count() or 1)
    self.prefork = prefork
    # C++ binaries by source; by default one cache for every Judge of this process.
    self.compile_cache = compile_cache or shared_compile_cache()
    self._zygotes: dict[int | None, list[Zygote]] = {}
    self._zygotes_lock = threading.Lock()
    self._finalizer = weakref.finalize(self, _close_zygotes, self._zygotes)

  def close(self) -> None:
    """Ends every worker's zygote (and so every sandbox); the Judge can still run later."""
    _close_zygotes(self._zygotes)

  def __enter__(self) -> "Judge":
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()

  def warm_up(self) -> None:
    """Starts every worker's zygote now instead of at the worker's first submission."""
    taken = [(uid, self._take_zygote(uid)) for uid in self.worker_uids()]
    try:
      for _, zygote in taken:
        zygote.start()
    finally:
      for uid, zygote in taken:
        self._give_back(uid, zygote)

  def zygote_pids(self) -> list[int]:
    """The idle processes the workers keep between batches (bubblewrap and a zygote each)."""
    with self._zygotes_lock:
      return [pid for zygotes in self._zygotes.values() for z in zygotes for pid in z.pids()]

  def _take_zygote(self, uid: int | None) -> Zygote:
    """A zygote for ``uid`` that no other thread is using (two run() calls may overlap)."""
    with self._zygotes_lock:
      idle = self._zygotes.setdefault(uid, [])
      return idle.pop() if idle else Zygote(self.config, uid)

  def _give_back(self, uid: int | None, zygote: Zygote) -> None:
    with self._zygotes_lock:
      self._zygotes.setdefault(uid, []).append(zygote)

  def worker_uids(self) -> list[int | None]:
    if os.geteuid() != 0 or self.config.unsafe_no_sandbox:
      return [None] * self.workers
    return [self.config.uid_base + index for index in range(self.workers)]

  def run(self, batch: Sequence[Submission]) -> list[SubmissionResult]:
    """Judges every submission; results come back in the batch's order."""
    for submission in batch:
      validate(submission)
    free_uids: queue.Queue = queue.Queue()
    for uid in self.worker_uids():
      free_uids.put(uid)

    def judge_one(submission: Submission) -> SubmissionResult:
      uid = free_uids.get()
      zygote = self._take_zygote(uid)
      try:
        runner = SubmissionRunner(
          self.config, uid, self.limits, self.prefork, self.compile_cache, zygote
        )
        return runner.judge(submission)
      finally:
        self._give_back(uid, zygote)
        free_uids.put(uid)

    with concurrent.futures.ThreadPoolExecutor(self.workers) as executor:
      return list(executor.map(judge_one, batch))


def _close_zygotes(zygotes: dict) -> None:
  for idle in list(zygotes.values()):
    while idle:
      idle.pop().close()


def run(batch: Sequence[Submission], **judge_options) -> list[SubmissionResult]:
  """Judges a batch with a Judge built from ``judge_options`` (see Judge)."""
  with Judge(**judge_options) as judge:
    return judge.run(batch)
