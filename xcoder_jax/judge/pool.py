"""The judge's front door: a pool of workers, one host uid each, judging batches."""

import concurrent.futures
import fcntl
import os
import queue
import tempfile
import weakref
from collections.abc import Sequence

from xcoder_jax.judge import languages
from xcoder_jax.judge.compile_cache import CompileCache, shared_compile_cache
from xcoder_jax.judge.runner import RunLimits, SubmissionRunner, validate
from xcoder_jax.judge.sandbox import JudgeError, SandboxConfig
from xcoder_jax.judge.types import Submission, SubmissionResult
from xcoder_jax.judge.zygote import Zygote


def default_workers(cpus: int) -> int:
  """Two workers per core: a worker's test passes through three processes in turn (judge,
  fork server, run), so one per core leaves cores idle at every hand-off."""
  return 2 * cpus


class Judge:
  """Judges batches of submissions on every core.

  Each worker owns a host uid (from ``uid_base`` on, when the judge runs as root), so that
  RLIMIT_NPROC is enforced and a run's processes are easy to find; no other Judge on the
  host, in this process or another, holds the same uid (see ``lease_uids``). A worker judges one
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
    self.workers = workers or default_workers(os.cpu_count() or 1)
    self.prefork = prefork
    # C++ binaries by source; by default one cache for every Judge of this process.
    self.compile_cache = compile_cache or shared_compile_cache()
    self._uids: list[int | None] = [None] * self.workers
    leases: list[int] = []
    if os.geteuid() == 0 and not self.config.unsafe_no_sandbox:
      self._uids, leases = lease_uids(self.config.uid_base, self.workers)
    # Worker slot i: host uid worker_uids()[i] and its zygote, one thread at a time.
    self._zygotes = [Zygote(self.config, uid) for uid in self._uids]
    self._free_slots = _slot_queue(self.workers)
    self._finalizer = weakref.finalize(self, _close_all, self._zygotes, leases)
    _live_judges.add(self)

  def close(self) -> None:
    """Ends every worker's zygote (and so every sandbox); the Judge can still run later,
    starting them again."""
    _close_all(self._zygotes)

  def __enter__(self) -> "Judge":
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()

  def warm_up(self) -> None:
    """Starts every worker's zygote now instead of at the worker's first submission."""
    for zygote in self._zygotes:
      zygote.start()

  def zygote_pids(self) -> list[int]:
    """The idle processes the workers keep between batches (bubblewrap and a zygote each)."""
    return [pid for zygote in self._zygotes for pid in zygote.pids()]

  def worker_uids(self) -> list[int | None]:
    """Each worker's host uid (None when the judge is not root: no uid switch)."""
    return list(self._uids)

  def run(self, batch: Sequence[Submission]) -> list[SubmissionResult]:
    """Judges every submission; results come back in the batch's order. Overlapping calls
    (from several threads) share the workers."""
    for submission in batch:
      validate(submission)
    for name in {submission.lang for submission in batch}:
      language = languages.get(name)
      if not language.in_harness:  # the interpreter is SandboxConfig.python, checked already
        languages.check_toolchain(language, dict(self.config.toolchains))

    def judge_one(submission: Submission) -> SubmissionResult:
      slot = self._free_slots.get()
      try:
        runner = SubmissionRunner(
          self._zygotes[slot], self.limits, self.prefork, self.compile_cache
        )
        return runner.judge(submission)
      finally:
        self._free_slots.put(slot)

    with concurrent.futures.ThreadPoolExecutor(self.workers) as executor:
      return list(executor.map(judge_one, batch))


def _slot_queue(workers: int) -> queue.Queue:
  slots: queue.Queue = queue.Queue()
  for slot in range(workers):
    slots.put(slot)
  return slots


def _close_all(zygotes: list[Zygote], leases: Sequence[int] = ()) -> None:
  for zygote in zygotes:
    zygote.close()
  for fd in leases:  # only when the Judge is gone: a closed Judge keeps its uids
    os.close(fd)


LEASE_DIR = os.path.join(tempfile.gettempdir(), "xcoder_judge_uids")
LEASE_SPAN = 1000  # uids tried from uid_base on


def lease_uids(base: int, count: int) -> tuple[list[int], list[int]]:
  """(uids, lock fds): `count` host uids from `base` on that no other Judge holds, each held by
  an exclusive flock on LEASE_DIR/<uid> until its fd closes (the Judge collected or its process
  gone, so a killed run leaves no stale lease). Two judges on one host (a trainer's and an
  evaluation's, or two test suites) never share a uid, so neither RLIMIT_NPROC nor the
  processes counted per uid mix their runs."""
  os.makedirs(LEASE_DIR, mode=0o700, exist_ok=True)
  uids: list[int] = []
  fds: list[int] = []
  for uid in range(base, base + LEASE_SPAN):
    fd = os.open(os.path.join(LEASE_DIR, str(uid)), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      os.close(fd)
      continue
    uids.append(uid)
    fds.append(fd)
    if len(uids) == count:
      return uids, fds
  for fd in fds:
    os.close(fd)
  raise JudgeError(
    f"no {count} free judge uids in {base}..{base + LEASE_SPAN - 1} (other judges hold them); "
    "close some judges or choose another SandboxConfig.uid_base"
  )


def _forget_in_child() -> None:
  """A process forked mid-run must not wait on the parent's busy worker slots."""
  for judge in list(_live_judges):
    judge._free_slots = _slot_queue(judge.workers)


_live_judges: "weakref.WeakSet[Judge]" = weakref.WeakSet()
os.register_at_fork(after_in_child=_forget_in_child)


def run(batch: Sequence[Submission], **judge_options) -> list[SubmissionResult]:
  """Judges a batch with a Judge built from ``judge_options`` (see Judge)."""
  with Judge(**judge_options) as judge:
    return judge.run(batch)
