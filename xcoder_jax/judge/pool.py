"""The judge's front door: a pool of workers, one host uid each, judging batches."""

import concurrent.futures
import os
import queue
from collections.abc import Sequence

from xcoder_jax.judge.compile_cache import CompileCache, shared_compile_cache
from xcoder_jax.judge.runner import RunLimits, SubmissionRunner, validate
from xcoder_jax.judge.sandbox import SandboxConfig
from xcoder_jax.judge.types import Submission, SubmissionResult


class Judge:
  """Judges batches of submissions on every core.

  Each worker owns a host uid (``uid_base + i`` when the judge runs as root), so that
  RLIMIT_NPROC is enforced and a run's processes are easy to find. A worker judges one
  submission at a time in its own sandbox: one warm interpreter per submission, a fork
  per test.
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
      try:
        runner = SubmissionRunner(self.config, uid, self.limits, self.prefork, self.compile_cache)
        return runner.judge(submission)
      finally:
        free_uids.put(uid)

    # Worker threads outlive every sandbox they start (bwrap's --die-with-parent follows
    # the thread that spawned it), because each sandbox is closed inside judge_one.
    with concurrent.futures.ThreadPoolExecutor(self.workers) as executor:
      return list(executor.map(judge_one, batch))


def run(batch: Sequence[Submission], **judge_options) -> list[SubmissionResult]:
  """Judges a batch with a Judge built from ``judge_options`` (see Judge)."""
  return Judge(**judge_options).run(batch)
