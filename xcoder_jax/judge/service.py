"""The sandboxed judge as an HTTP service (`python -m launch.judge_serve`).

Two APIs on one aiohttp app:
- SandboxFusion's `POST /run_code` and `GET /v1/ping`, as its server defines them, so the
  `sandbox-fusion` client package and code written for it (verl's sandbox rewards) work
  unchanged: request `code`, `language`, `compile_timeout`, `run_timeout`, `memory_limit_MB`,
  `stdin`, `files`, `fetch_files`; answer `status` (Success / Failed / SandboxError),
  `message`, `compile_result` and `run_result` (`status` Finished / Error /
  TimeLimitExceeded, `execution_time`, `return_code`, `stdout`, `stderr`), `files`. A
  compile error has no `run_result`. Python has no compile step there: a syntax error is a
  run that exits 1 with the error on stderr, as CPython reports it.
- `POST /judge`: one program and many tests in our own verdict schema (`Submission` fields,
  tests as TESTS.jsonl records), for our own clients.
Bad requests (malformed JSON, a missing or mistyped field, an unknown language, code or stdin
above the size limits, a timeout out of range) get a 422 JSON answer naming the field; the
server answers every request and never runs anything outside the sandbox.

`files` (relative path -> base64) are placed in the run's directory before it starts and
`fetch_files` come back base64 in the answer's `files`, regular files only (a path the run
turned into a symlink, a directory or a pipe, or one it never wrote, is left out).

Deviations from SandboxFusion: the languages are the judge's ten (languages.py; SandboxFusion's
names such as `nodejs` and `csharp` are aliases there); the
compile step's memory is the judge's own (`RunLimits.compile_memory_mb`); `compile_timeout`
is CPU seconds (wall: twice that plus 1 s), like `run_timeout`; the files sent in count
against the stdin size limit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
from typing import Any

from aiohttp import web

from xcoder_jax.judge import languages
from xcoder_jax.judge.pool import Judge
from xcoder_jax.judge.types import (
  Outcome,
  SpecialJudge,
  Submission,
  SubmissionResult,
  TestCase,
  TestKind,
  Verdict,
  check_files,
)

log = logging.getLogger(__name__)

MAX_TIMEOUT_S = 60.0
MAX_MEMORY_MB = 16384


@dataclasses.dataclass(frozen=True)
class ServiceLimits:
  """What one request may ask for."""

  max_code_bytes: int = 1 << 20
  max_stdin_bytes: int = 64 << 20
  max_tests: int = 1000


class FieldError(ValueError):
  """A request field is missing, mistyped or out of range: a 422 naming it."""

  def __init__(self, field: str, problem: str):
    super().__init__(f"{field}: {problem}")
    self.field = field


def _field(body: dict, name: str, kind: type | tuple, default: Any = ..., check=None) -> Any:
  if name not in body or (body[name] is None and default is not ...):
    if default is ...:
      raise FieldError(name, "missing")
    return default
  value = body[name]
  if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
    raise FieldError(name, f"must be {_names(kind)}, got a boolean")
  if not isinstance(value, kind):
    raise FieldError(name, f"must be {_names(kind)}, got {type(value).__name__}")
  if check is not None and (problem := check(value)):
    raise FieldError(name, problem)
  return value


def _names(kind) -> str:
  kinds = kind if isinstance(kind, tuple) else (kind,)
  return " or ".join(
    {str: "a string", int: "an integer", float: "a number"}.get(k, k.__name__) for k in kinds
  )


def _seconds(value: float) -> str:
  return (
    "" if 0 < value <= MAX_TIMEOUT_S else f"must be in (0, {MAX_TIMEOUT_S:g}] seconds, got {value}"
  )


def _language(value: str) -> str:
  """SandboxFusion's language names (nodejs, csharp, go, ...) are the table's names or aliases."""
  try:
    languages.get(value)
  except ValueError as error:
    return str(error)
  return ""


def _size(limit: int):
  return lambda value: "" if len(value.encode()) <= limit else f"larger than the {limit}-byte limit"


def _memory(value: int) -> str:
  return "" if 1 <= value <= MAX_MEMORY_MB else f"must be in [1, {MAX_MEMORY_MB}] MB, got {value}"


def _files(limit: int):
  def check(value: dict) -> str:
    try:
      check_files(value, (), "files")
    except ValueError as error:
      return str(error).removeprefix("files: ")
    # Valid base64 (checked above) of n bytes is 4 * ceil(n / 3) characters, "=" padded.
    size = sum(len(c) // 4 * 3 - c[-2:].count("=") for c in value.values())
    return "" if size <= limit else f"{size} bytes in all, larger than the {limit}-byte limit"

  return check


def _paths(value: list) -> str:
  try:
    check_files({}, value, "fetch_files")
  except ValueError as error:
    return str(error).removeprefix("fetch_files: ")
  return ""


def run_code_submission(body: dict, limits: ServiceLimits) -> Submission:
  """A SandboxFusion run_code request as a capture-mode submission (one test: its stdin)."""
  code = _field(body, "code", str, check=_size(limits.max_code_bytes))
  language = _field(body, "language", str, check=_language)
  compile_timeout = _field(body, "compile_timeout", (int, float), 10, check=_seconds)
  run_timeout = _field(body, "run_timeout", (int, float), 10, check=_seconds)
  memory_mb = _field(body, "memory_limit_MB", int, 1024, check=_memory)
  stdin = _field(body, "stdin", str, "", check=_size(limits.max_stdin_bytes))
  files = _field(body, "files", dict, {}, check=_files(limits.max_stdin_bytes))
  fetch_files = _field(body, "fetch_files", list, [], check=_paths)
  return Submission(
    code,
    [TestCase(input=stdin, files=files, fetch_files=tuple(fetch_files))],
    lang=languages.get(language).name,
    time_limit_s=float(run_timeout),
    compile_time_s=float(compile_timeout),
    memory_mb=memory_mb,
    capture_output=True,
  )


def run_code_response(submission: Submission, verdict: Verdict) -> dict[str, Any]:
  """Our verdict of a capture-mode run in SandboxFusion's answer schema."""
  outcome = verdict.verdict
  if outcome == Outcome.JUDGE_ERROR:
    return _answer("SandboxError", verdict.message, None, None)
  compile_result = None
  if languages.get(submission.lang).compile:  # SandboxFusion reports a compile step only there
    failed = outcome == Outcome.COMPILE_ERROR
    compile_result = _command("Finished", None, int(failed), "", verdict.message if failed else "")
    if failed:
      return _answer("Failed", "", compile_result, None)
  if outcome == Outcome.COMPILE_ERROR:  # Python: the interpreter reports it and exits 1
    run_result = _command("Finished", verdict, 1, "", verdict.message)
  elif outcome == Outcome.TIME_LIMIT:
    run_result = _command("TimeLimitExceeded", verdict, None, verdict.stdout, verdict.stderr)
  else:
    code = verdict.exit_code if verdict.signal is None else -verdict.signal
    if code is None:  # stopped by the judge (memory or output limit) without an exit status
      code = -9
    full = outcome == Outcome.ACCEPTED and verdict.output is not None
    run_result = _command(
      "Finished", verdict, code, verdict.output if full else verdict.stdout, verdict.stderr
    )
  success = run_result["status"] == "Finished" and run_result["return_code"] == 0
  told_by_the_run = (Outcome.ACCEPTED, Outcome.RUNTIME_ERROR, Outcome.COMPILE_ERROR)
  message = "" if outcome in told_by_the_run else verdict.message
  status = "Success" if success else "Failed"
  return _answer(status, message, compile_result, run_result, verdict.files)


def _answer(
  status: str, message: str, compile_result, run_result, files: dict | None = None
) -> dict[str, Any]:
  return {
    "status": status,
    "message": message,
    "compile_result": compile_result,
    "run_result": run_result,
    "executor_pod_name": None,
    "files": files or {},
  }


def _command(status: str, verdict: Verdict | None, return_code, stdout: str, stderr: str) -> dict:
  """One step's result; `verdict` gives its wall and CPU seconds (None: not measured)."""
  return {
    "status": status,
    "execution_time": None if verdict is None else verdict.time_s,
    "cpu_time": None if verdict is None else verdict.cpu_s,
    "return_code": return_code,
    "stdout": stdout,
    "stderr": stderr,
  }


def judge_submission(body: dict, limits: ServiceLimits) -> Submission:
  """A `/judge` request (`submission_record`'s output): `source`, `lang`, `tests` (TESTS.jsonl
  records; in capture mode without expected outputs) and the optional `Submission` fields
  `kind`, `fn_name`, `time_limit_s`, `memory_mb`, `checker` (a name, or a special judge's
  `{"source", "lang"}`), `early_exit`, `capture_output`, `compile_time_s`."""
  source = _field(body, "source", str, check=_size(limits.max_code_bytes))
  lang = _field(body, "lang", str, "python", check=_language)
  kinds = {t.value for t in TestKind}
  kind = _field(
    body,
    "kind",
    str,
    TestKind.STDIO.value,
    check=lambda k: "" if k in kinds else f"unknown kind {k!r}",
  )
  capture = _field(body, "capture_output", bool, False)
  count_ok = lambda t: "" if 0 < len(t) <= limits.max_tests else f"give 1..{limits.max_tests} tests"  # noqa: E731
  tests = []
  for number, record in enumerate(_field(body, "tests", list, check=count_ok)):
    try:
      tests.append(TestCase.from_json(record, kind, f"tests[{number}]", capture_output=capture))
    except ValueError as error:
      raise FieldError("tests", str(error)) from None
  stdin_bytes = sum(len(t.input.encode()) for t in tests)
  if stdin_bytes > limits.max_stdin_bytes:
    raise FieldError(
      "tests", f"inputs total {stdin_bytes} bytes, above the {limits.max_stdin_bytes}-byte limit"
    )
  checker = _field(body, "checker", (str, dict), "exact")
  if isinstance(checker, dict):
    checker = SpecialJudge(
      _field(checker, "source", str, check=_size(limits.max_code_bytes)),
      _field(checker, "lang", str, "python", check=_language),
    )
  return Submission(
    source,
    tests,
    lang=languages.get(lang).name,
    kind=kind,
    fn_name=_field(body, "fn_name", str, None),
    time_limit_s=float(_field(body, "time_limit_s", (int, float), 10.0, check=_seconds)),
    memory_mb=_field(body, "memory_mb", int, 256, check=_memory),
    checker=checker,
    early_exit=_field(body, "early_exit", bool, False),
    capture_output=capture,
    compile_time_s=_optional_seconds(body, "compile_time_s"),
  )


def _optional_seconds(body: dict, name: str) -> float | None:
  value = _field(body, name, (int, float), None, check=_seconds)
  return None if value is None else float(value)


def submission_record(submission: Submission) -> dict[str, Any]:
  """The `/judge` request of a submission (`judge_submission`'s inverse)."""
  kind = TestKind(submission.kind)
  checker = submission.checker
  if isinstance(checker, SpecialJudge):
    checker = {"source": checker.source, "lang": checker.lang}
  return {
    "source": submission.source,
    "lang": submission.lang,
    "kind": kind.value,
    "tests": [test.to_json(kind) for test in submission.tests],
    "fn_name": submission.fn_name,
    "time_limit_s": submission.time_limit_s,
    "memory_mb": submission.memory_mb,
    "checker": checker,
    "early_exit": submission.early_exit,
    "capture_output": submission.capture_output,
    "compile_time_s": submission.compile_time_s,
  }


def result_record(result: SubmissionResult) -> dict[str, Any]:
  """The `/judge` answer."""
  return {
    "verdicts": [v.to_json() for v in result.verdicts],
    "num_tests": result.num_tests,
    "accepted": result.accepted,
    "pass_fraction": result.pass_fraction,
  }


def result_from_record(record: dict) -> SubmissionResult:
  return SubmissionResult([Verdict.from_json(v) for v in record["verdicts"]], record["num_tests"])


class JudgeService:
  """The endpoints over one `Judge`; each request's runs go to the judge's workers from a
  thread, so the event loop keeps answering while programs run."""

  def __init__(
    self, judge: Judge, limits: ServiceLimits = ServiceLimits(), token: str | None = None
  ):
    self.judge, self.limits, self.token = judge, limits, token

  def app(self) -> web.Application:
    body_limit = self.limits.max_code_bytes + self.limits.max_stdin_bytes + (1 << 20)
    app = web.Application(middlewares=[self._errors], client_max_size=body_limit)
    app.router.add_get("/v1/ping", self.ping)
    app.router.add_post("/run_code", self.run_code)
    app.router.add_post("/judge", self.judge_batch)
    return app

  async def ping(self, request: web.Request) -> web.Response:
    del request
    return web.json_response("pong")

  async def run_code(self, request: web.Request) -> web.Response:
    submission = run_code_submission(await _json_body(request), self.limits)
    [result] = await self._run(submission)
    return web.json_response(run_code_response(submission, result.verdicts[0]))

  async def judge_batch(self, request: web.Request) -> web.Response:
    submission = judge_submission(await _json_body(request), self.limits)
    try:
      [result] = await self._run(submission)
    except ValueError as error:  # the judge's own validation (checker name, fn_name, ...)
      raise FieldError("request", str(error)) from None
    return web.json_response(result_record(result))

  async def _run(self, submission: Submission):
    return await asyncio.get_running_loop().run_in_executor(None, self.judge.run, [submission])

  @web.middleware
  async def _errors(self, request: web.Request, handler):
    if self.token is not None and request.path != "/v1/ping":
      given = request.headers.get("Authorization", "")
      if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
        return _error(401, "authorization", "missing or wrong bearer token")
    try:
      return await handler(request)
    except FieldError as error:
      return _error(422, error.field, str(error))
    except web.HTTPException as error:
      if error.status < 400:
        raise
      return _error(error.status, "request", error.reason or str(error))
    except Exception as error:  # a server-side failure: report it, keep serving
      log.exception("request to %s failed", request.path)
      return _error(500, "server", f"{type(error).__name__}: {error}")


async def _json_body(request: web.Request) -> dict:
  try:
    body = await request.json()
  except (json.JSONDecodeError, UnicodeDecodeError) as error:
    raise FieldError("body", f"not valid JSON: {error}") from None
  if not isinstance(body, dict):
    raise FieldError("body", f"must be a JSON object, got {type(body).__name__}")
  return body


def _error(status: int, field: str, message: str) -> web.Response:
  return web.json_response({"detail": [{"loc": ["body", field], "msg": message}]}, status=status)
