"""Judging one submission: set up its sandbox once, run each test, turn results into verdicts."""

import base64
import dataclasses
import functools
import json
import marshal
import secrets
import signal

from xcoder_jax.judge import checkers, languages
from xcoder_jax.judge.compile_cache import CompileCache, shared_compile_cache
from xcoder_jax.judge.sandbox import JudgeError, Sandbox, SandboxDied
from xcoder_jax.judge.types import (
  Outcome,
  SpecialJudge,
  Submission,
  SubmissionResult,
  TestCase,
  TestKind,
  Verdict,
  check_tests,
)
from xcoder_jax.judge.zygote import Zygote

Language = languages.Language
PYTHON = languages.get("python")

_EXCERPT_CHARS = 2000
_RUN_RESULT_KEYS = {
  "exit_code",
  "signal",
  "stopped_by",
  "wall_s",
  "cpu_s",
  "max_rss_kb",
  "stdout",
  "stdout_overflow",
  "stderr",
  "report",
  "check_report",
}
_ANSWER_SLACK_S = 10.0  # how much longer than a run's wall limit the judge waits for an answer
# Larger binaries are not cached: sent back as base64 they would pass the answer size cap.
_MAX_CACHED_BINARY_BYTES = 64 << 20
_CHECKER_MEMORY_MB = 512  # a special judge's own memory limit
_HOST_MARGIN_S = 0.25  # what the judge's own clocks allow beyond a limit (fork, clean-up)


@dataclasses.dataclass(frozen=True)
class RunLimits:
  """Per-run limits beyond the submission's time and memory."""

  wall_factor: float = 2.0  # wall limit = wall_factor * time limit + 1 s (sleep, I/O waits)
  output_mb: int = 16
  max_processes: int = 32  # tasks (processes and threads) of the sandbox user
  max_open_files: int = 256
  stack_mb: int = 64
  compile_time_s: float = 30.0
  compile_memory_mb: int = 2048

  def for_run(self, time_limit_s: float, memory_mb: int, language: Language = PYTHON) -> dict:
    limits = {
      "cpu_s": time_limit_s,
      "wall_s": self.wall_factor * time_limit_s + 1.0,
      "memory_bytes": memory_mb << 20,
      "output_bytes": self.output_mb << 20,
      "fsize_bytes": self.output_mb << 20,
      "nproc": max(self.max_processes, language.tasks),
      "nofile": self.max_open_files,
      "stack_bytes": self.stack_mb << 20,
    }
    if language.resident_memory:
      limits["resident_bytes"] = memory_mb << 20
      limits["address_space_bytes"] = (memory_mb + language.address_space_mb) << 20
    return limits

  def for_compile(self, language: Language, time_s: float | None = None) -> dict:
    """A compile's limits: ``time_s`` CPU seconds (default ``compile_time_s``)."""
    limits = self.for_run(time_s or self.compile_time_s, self.compile_memory_mb, language)
    limits.update(output_bytes=1 << 20, fsize_bytes=256 << 20)
    return limits


def validate(submission: Submission) -> None:
  """Refuses malformed submissions before anything runs, saying what to fix."""
  kind = TestKind(submission.kind)
  language = languages.get(submission.lang)
  if kind != TestKind.STDIO and not language.in_harness:
    raise ValueError(f"{kind.value} tests need lang='python'")
  if isinstance(submission.checker, SpecialJudge):
    languages.get(submission.checker.lang)
  if kind != TestKind.STDIO and not submission.fn_name:
    raise ValueError(f"{kind.value} tests need fn_name (the entry point)")
  if not isinstance(submission.checker, SpecialJudge):
    checkers.get(submission.checker)
  elif kind != TestKind.STDIO:
    raise ValueError("a special judge reads stdout: it works with stdio tests only")
  if kind == TestKind.CHECK and submission.checker != "exact":
    raise ValueError("check tests decide by their own asserts: leave checker at 'exact'")
  if kind in (TestKind.LEETCODE, TestKind.FUNCTION) and submission.checker != "exact":
    if checkers.float_tolerance(submission.checker) is None:
      raise ValueError(
        f"checker {submission.checker!r} compares text; {kind.value} tests compare "
        "returned values: use 'exact' or float[:TOL]"
      )
  if submission.time_limit_s <= 0 or submission.memory_mb <= 0:
    raise ValueError("time_limit_s and memory_mb must be positive")
  if submission.compile_time_s is not None and submission.compile_time_s <= 0:
    raise ValueError("compile_time_s must be positive (or None: the judge's own limit)")
  if submission.capture_output and (
    kind == TestKind.CHECK or isinstance(submission.checker, SpecialJudge)
  ):
    raise ValueError(
      "capture_output works with stdio, leetcode and function tests and "
      "the default checker (it compares nothing)"
    )
  check_tests(submission.tests, kind, submission.capture_output)


def _excerpt(data: bytes, from_end: bool = False) -> str:
  text = data.decode("utf-8", "replace")
  return text[-_EXCERPT_CHARS:] if from_end else text[:_EXCERPT_CHARS]


def _nonce_records(report: str, nonce: str | None) -> list[dict]:
  """Records carrying this run's nonce (None: records without one).

  In call modes the nonce only tags the harness's record; a program that finds it can
  write a record of its own, but all a record claims there is a return value, which the
  judge compares here. Check mode does not rely on it (see harness/check.py).
  """
  decoder, records, position = json.JSONDecoder(), [], 0
  while position < len(report):
    try:
      record, position = decoder.raw_decode(report, position)
    except json.JSONDecodeError:
      break
    if isinstance(record, dict) and record.get("nonce") == nonce:
      records.append(record)
  return records


def _signal_name(number: int) -> str:
  try:
    return signal.Signals(number).name
  except ValueError:
    return f"signal {number}"


def classify_failure(
  result: dict, limits: dict, language: Language = PYTHON
) -> tuple[Outcome, str] | None:
  """The verdict of a run that broke a limit or crashed; None when it ran to completion."""
  stopped_by, sig, stderr = result["stopped_by"], result["signal"], result["stderr_text"]
  if stopped_by in ("cpu", "wall") or sig == signal.SIGXCPU:
    return Outcome.TIME_LIMIT, f"{stopped_by or 'cpu'} time limit exceeded"
  if result["cpu_s"] > limits["cpu_s"]:
    return Outcome.TIME_LIMIT, f"used {result['cpu_s']:.2f}s of CPU"
  # Measured outside the sandbox (sandbox.py), whatever its server says; the margins cover
  # the server's own work around a run.
  if result["host_cpu_s"] > limits["cpu_s"] * 1.05 + _HOST_MARGIN_S:
    return Outcome.TIME_LIMIT, f"the sandbox used {result['host_cpu_s']:.2f}s of CPU"
  if result["host_wall_s"] > limits["wall_s"] + _HOST_MARGIN_S:
    return Outcome.TIME_LIMIT, f"the run took {result['host_wall_s']:.2f}s of wall time"
  if stopped_by == "output" or sig == signal.SIGXFSZ:
    return Outcome.OUTPUT_LIMIT, "output (or a written file) exceeded the size cap"
  if stopped_by == "memory":
    return Outcome.MEMORY_LIMIT, "resident memory exceeded the limit"
  peak_bytes = result["max_rss_kb"] * 1024
  if "resident_bytes" in limits and peak_bytes > limits["resident_bytes"]:
    return Outcome.MEMORY_LIMIT, f"peak resident memory {peak_bytes >> 20} MiB"
  failed = sig is not None or result["exit_code"] != 0
  if '"memory_error": true' in result["report"] or (
    failed and any(marker in stderr for marker in language.oom_markers)
  ):
    return Outcome.MEMORY_LIMIT, "allocation failed at the memory limit"
  near_limit = peak_bytes >= 0.8 * limits["memory_bytes"]
  if sig in (signal.SIGSEGV, signal.SIGABRT, signal.SIGKILL, signal.SIGBUS) and near_limit:
    return Outcome.MEMORY_LIMIT, f"{_signal_name(sig)} with peak memory near the limit"
  if sig is not None:
    return Outcome.RUNTIME_ERROR, f"killed by {_signal_name(sig)}"
  if result["exit_code"] != 0:
    return Outcome.RUNTIME_ERROR, f"exit code {result['exit_code']}"
  if any(marker in stderr for marker in language.failure_markers):
    return Outcome.RUNTIME_ERROR, "the runtime reported a failure (e.g. a failed assertion)"
  return None


class SubmissionRunner:
  """Runs submissions in sandboxes from one pool worker's zygote (one host uid)."""

  def __init__(
    self,
    zygote: Zygote,
    limits: RunLimits,
    prefork: bool = True,
    compile_cache: CompileCache | None = None,
  ):
    self.zygote, self.config = zygote, zygote.config
    self.limits, self.prefork = limits, prefork
    self.compile_cache = compile_cache or shared_compile_cache()

  def judge(self, submission: Submission) -> SubmissionResult:
    tests = list(submission.tests)
    special = submission.checker if isinstance(submission.checker, SpecialJudge) else None
    verdicts: list[Verdict] = []
    solution = _Program(
      self,
      submission.lang,
      submission.source,
      submission.memory_mb,
      TestKind(submission.kind),
      submission.compile_time_s,
    )
    checker = _Program(self, special.lang, special.source, _CHECKER_MEMORY_MB) if special else None
    try:
      for test in tests:
        verdict = self._judge_test(submission, test, solution, checker)
        verdicts.append(verdict)
        if verdict.verdict == Outcome.COMPILE_ERROR:
          verdicts += [verdict] * (len(tests) - len(verdicts))
          break
        if submission.early_exit and not verdict.accepted:
          break
    finally:
      solution.close()
      if checker:
        checker.close()
    return SubmissionResult(verdicts=verdicts, num_tests=len(tests))

  def _judge_test(
    self, submission: Submission, test: TestCase, solution: "_Program", checker: "_Program | None"
  ) -> Verdict:
    kind = TestKind(submission.kind)
    limits = self.limits.for_run(submission.time_limit_s, submission.memory_mb, solution.language)
    nonce = secrets.token_hex(16)
    request = {
      "op": "run",
      "mode": kind.value,
      "limits": limits,
      "nonce": nonce,
      "input": test.input.encode(),
    }
    if test.files:
      request["files"] = {path: base64.b64decode(data) for path, data in test.files.items()}
    if test.fetch_files:
      request["fetch"] = list(test.fetch_files)
    if kind in (TestKind.LEETCODE, TestKind.FUNCTION):
      request.update(fn_name=submission.fn_name, args_json=json.dumps(list(test.args)))
    elif kind == TestKind.CHECK:
      request.update(fn_name=submission.fn_name, check_source=test.check_source)
    try:
      result = solution.run(request)
    except SandboxDied as death:
      return Verdict(Outcome.RUNTIME_ERROR, message=str(death))
    except JudgeError as error:
      return Verdict(Outcome.JUDGE_ERROR, message=str(error))
    if "compile_error" in result:
      return Verdict(Outcome.COMPILE_ERROR, message=result["compile_error"])
    verdict = Verdict(
      Outcome.ACCEPTED,
      time_s=round(result["host_wall_s"], 4),
      cpu_s=round(result["host_cpu_s"], 4),
      stdout=_excerpt(result["stdout_bytes"]),
      stderr=_excerpt(result["stderr_bytes"], from_end=True),
      exit_code=result["exit_code"],
      signal=result["signal"],
      files={
        path.decode(): base64.b64encode(data).decode() for path, data in result.get("fetched", ())
      },
    )
    records = _nonce_records(result["report"], nonce)
    exec_failures = [r["exec_failed"] for r in records if "exec_failed" in r]
    # The nonce proves the harness wrote it only where no program code ever shared its
    # process: a C++ binary or the check-mode candidate is exec'd, a fresh address space.
    if exec_failures and (not solution.language.in_harness or kind == TestKind.CHECK):
      verdict.verdict, verdict.message = Outcome.JUDGE_ERROR, exec_failures[0]
      return verdict
    if kind == TestKind.CHECK:
      # Written by the check process only; the candidate never holds that pipe.
      records = _nonce_records(result["check_report"], None)[-1:]
      if records and "assertion_failed" in records[0] and result["stopped_by"] is None:
        verdict.verdict, verdict.message = Outcome.WRONG_ANSWER, "a check assertion failed"
        return verdict
    failure = classify_failure(result, limits, solution.language)
    if failure:
      verdict.verdict, verdict.message = failure
      return verdict
    if submission.capture_output:
      return _capture(verdict, kind, result, records)
    verdict.verdict, verdict.message = self._compare(
      submission, kind, test, result, records, checker
    )
    return verdict

  def _compare(self, submission, kind, test, result, records, checker):
    """Decides accepted/wrong_answer in the judge process (expected values stay here)."""
    if kind == TestKind.STDIO:
      output = result["stdout_bytes"].decode("utf-8", "replace")
      if checker is not None:
        return self._special_judge(checker, test, result["stdout_bytes"])
      if checkers.get(submission.checker)(output, test.output or ""):
        return Outcome.ACCEPTED, ""
      return Outcome.WRONG_ANSWER, "output differs from the expected output"
    if not records:
      return Outcome.RUNTIME_ERROR, "exited before the harness recorded a result"
    record = records[-1]
    if kind == TestKind.CHECK:
      if record.get("checked") is True:
        return Outcome.ACCEPTED, ""
      reason = record.get("check_error") or "the candidate stopped answering"
      return Outcome.RUNTIME_ERROR, f"checks did not complete: {reason}"
    tolerance = (
      checkers.float_tolerance(submission.checker) if isinstance(submission.checker, str) else None
    )
    expected = json.loads(json.dumps(test.expected))
    if checkers.values_equal(record.get("result"), expected, tolerance):
      return Outcome.ACCEPTED, ""
    return Outcome.WRONG_ANSWER, f"returned {json.dumps(record.get('result'))[:200]}"

  def _special_judge(self, checker: "_Program", test: TestCase, output: bytes):
    files = {
      "input.txt": test.input.encode(),
      "output.txt": output,
      "answer.txt": (test.output or "").encode(),
    }
    request = {
      "op": "run",
      "mode": "stdio",
      "input": b"",
      "limits": self.limits.for_run(10.0, _CHECKER_MEMORY_MB, checker.language),
      "files": files,
      "argv": list(files),
    }
    try:
      result = checker.run(request)
    except (SandboxDied, JudgeError) as error:
      return Outcome.JUDGE_ERROR, f"special judge failed: {error}"
    if "compile_error" in result:
      return Outcome.JUDGE_ERROR, f"special judge does not compile: {result['compile_error']}"
    if result["signal"] is None and result["exit_code"] == 0:
      return Outcome.ACCEPTED, ""
    if result["signal"] is None and result["exit_code"] in (1, 2):
      return Outcome.WRONG_ANSWER, _excerpt(result["stderr_bytes"], from_end=True)
    return Outcome.JUDGE_ERROR, (
      f"special judge crashed (exit {result['exit_code']}, signal {result['signal']})"
    )


def _capture(verdict: Verdict, kind: TestKind, result: dict, records: list[dict]) -> Verdict:
  """Capture mode: the whole output of a completed run, compared with nothing."""
  if kind == TestKind.STDIO:
    verdict.output = result["stdout_bytes"].decode("utf-8", "replace")
  elif records:
    verdict.output = json.dumps(records[-1].get("result"), sort_keys=True)
  else:
    verdict.verdict = Outcome.RUNTIME_ERROR
    verdict.message = "exited before the harness recorded a result"
    return verdict
  verdict.message = "output captured, not compared"
  return verdict


class _Program:
  """A solution (or checker) bound to its sandbox: compiled once, restarted if it dies."""

  def __init__(
    self,
    runner: SubmissionRunner,
    lang: str,
    source: str,
    memory_mb: int,
    mode: TestKind = TestKind.STDIO,
    compile_time_s: float | None = None,
  ):
    self.runner, self.source, self.memory_mb, self.mode = runner, source, memory_mb, mode.value
    self.compile_time_s = compile_time_s
    self.language = languages.get(lang)
    self.sandbox: Sandbox | None = None
    self.compile_error: str | None = None

  def run(self, request: dict) -> dict:
    if self.compile_error is not None:
      return {"compile_error": self.compile_error}
    if self.sandbox is None:
      try:
        self._start()
      except (SandboxDied, JudgeError):
        self.close()
        raise
      if self.compile_error is not None:
        return {"compile_error": self.compile_error}
    timeout = request["limits"]["wall_s"] + _ANSWER_SLACK_S
    # Answers carry a per-request token that no run ever holds (the server is undumpable, the
    # check-mode candidate exec'd), so a forged or stale answer is refused.
    request = dict(request, token="t" + secrets.token_hex(16))  # sent as an identifier
    try:
      result = self.sandbox.request(request, timeout)
    except (SandboxDied, JudgeError):
      self.close()
      raise
    if result.get("token") != request["token"]:
      self.close()
      raise SandboxDied("the sandbox answered a forged or stale result")
    if not self.runner.prefork and self.language.in_harness:
      self.close()  # the no-prefork baseline: a fresh sandbox and interpreter per run
    if not _RUN_RESULT_KEYS <= result.keys():
      self.close()
      raise SandboxDied("the sandbox answered a malformed result")
    result["stdout_bytes"] = result.pop("stdout")
    result["stderr_bytes"] = result.pop("stderr")
    result["stderr_text"] = result["stderr_bytes"].decode("utf-8", "replace")
    result["report"] = result["report"].decode("utf-8", "replace")
    result["check_report"] = result["check_report"].decode("utf-8", "replace")
    return result

  def _start(self) -> None:
    self.sandbox = self.runner.zygote.spawn()
    language, overrides = self.language, dict(self.runner.config.toolchains)
    setup = {"op": "setup", "lang": language.name, "source": self.source, "mode": self.mode}
    if language.in_harness:
      self._setup(setup, 30.0)
      return
    fill = functools.partial(language.fill, source=self.source, memory_mb=self.memory_mb)
    setup.update(
      source_name=language.file_name(self.source),
      native=language.native,
      run_command=_use_overrides(fill(language.run), language, overrides),
      env=language.environment(self.source, self.memory_mb),
    )
    if not language.compile:
      self._setup(setup, 30.0)
      return
    command = _use_overrides(fill(language.compile), language, overrides)
    cache = self.runner.compile_cache
    key = cache.key(
      [language.name, languages.toolchain_identity(language, overrides), *command], self.source
    )
    with cache.claim(key) as packed:
      if packed is not None:
        self._setup(dict(setup, artefacts=marshal.loads(packed)), 30.0)
        return
      setup.update(
        limits=self.runner.limits.for_compile(language, self.compile_time_s),
        compile_command=command,
        outputs=list(language.outputs),
        return_bytes=min(cache.max_bytes, _MAX_CACHED_BINARY_BYTES),
      )
      artefacts = self._setup(setup, 30.0 + setup["limits"]["wall_s"])
      if artefacts and self.compile_error is None:
        cache.put(key, marshal.dumps([[name.decode(), data] for name, data in artefacts]))

  def _setup(self, setup: dict, timeout_s: float) -> list | None:
    """Sends the setup request; returns the compiled files when the server sent them."""
    response = self.sandbox.request(setup, timeout_s)
    if "compile_error" in response:
      self.compile_error = response["compile_error"].decode("utf-8", "replace")
    elif "compile_result" in response:
      self._check_compile(response["compile_result"], setup["limits"]["cpu_s"])
    return response.get("artefacts")

  def _check_compile(self, result: dict, cpu_limit_s: float) -> None:
    stderr = result["stderr"].decode("utf-8", "replace")
    if b"exec_failed" in result["report"]:
      raise JudgeError(
        f"cannot run the {self.language.name} compiler: "
        + result["report"].decode("utf-8", "replace")
      )
    # The compiler's own children (cc1plus, javac's JVM) may hit the CPU rlimit first and
    # make it exit with a message of its own: its CPU time, children included, tells.
    if result["cpu_s"] >= cpu_limit_s:
      self.compile_error = (
        f"compiler stopped (cpu: the {cpu_limit_s:g} s compile limit): {stderr[-_EXCERPT_CHARS:]}"
      )
    elif result["stopped_by"] or result["signal"] is not None:
      reason = result["stopped_by"] or _signal_name(result["signal"])
      self.compile_error = f"compiler stopped ({reason}): {stderr[-_EXCERPT_CHARS:]}"
    elif result["exit_code"] != 0:
      self.compile_error = stderr[-_EXCERPT_CHARS:] or f"exit code {result['exit_code']}"

  def close(self) -> None:
    if self.sandbox is not None:
      self.sandbox.close()
      self.sandbox = None


def _use_overrides(command: list[str], language: Language, overrides: dict) -> list[str]:
  """``command`` with the language's main tool replaced by the configured one, if any."""
  if language.name not in overrides:
    return command
  tool = language.toolchain[0]
  return [overrides[language.name] if part == tool else part for part in command]
