"""Serve the sandboxed judge over HTTP: SandboxFusion's `/run_code` API plus our `/judge`.

python -m launch.judge_serve [--port=8080] [--host=127.0.0.1] [--workers=N] [--token=SECRET]

Point the `sandbox-fusion` client (`set_sandbox_endpoint("http://HOST:PORT")`) or verl's
sandbox reward (`sandbox_fusion_url=http://HOST:PORT/run_code`) at it. Endpoints and the
deviations from SandboxFusion: xcoder_jax/judge/service.py. Binds to loopback unless told
otherwise; with --token every request but /v1/ping needs `Authorization: Bearer SECRET`.
Every output checker the project registers (the judge's own and evaluation's `livecodebench`)
is known to the service, so a remote judge grades as a local one does.
"""

from __future__ import annotations

import logging

from absl import flags

from launch import common

_HOST = flags.DEFINE_string("host", "127.0.0.1", "Address to listen on (0.0.0.0: all).")
_PORT = flags.DEFINE_integer("port", 8080, "Port to listen on (SandboxFusion's is 8080).")
_WORKERS = flags.DEFINE_integer("workers", None, "Judge workers; default two per core.")
_TOKEN = flags.DEFINE_string("token", None, "Bearer token clients must send; default: none.")
_MAX_CODE = flags.DEFINE_integer("max_code_bytes", 1 << 20, "Largest program accepted.")
_MAX_STDIN = flags.DEFINE_integer(
  "max_stdin_bytes", 64 << 20, "Largest stdin (all tests) accepted."
)


def main(argv):
  del argv
  from aiohttp import web

  from xcoder_jax.eval import lcb_grading  # noqa: F401  (registers the `livecodebench` checker)
  from xcoder_jax.judge.pool import Judge
  from xcoder_jax.judge.service import JudgeService, ServiceLimits

  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
  with common.user_errors("judge_serve"):
    if _WORKERS.value is not None and _WORKERS.value < 1:
      raise ValueError(f"--workers must be >= 1, got {_WORKERS.value}")
    if min(_MAX_CODE.value, _MAX_STDIN.value) < 1:
      raise ValueError("--max_code_bytes and --max_stdin_bytes must be >= 1")
    judge = Judge(workers=_WORKERS.value)
    judge.warm_up()
    limits = ServiceLimits(max_code_bytes=_MAX_CODE.value, max_stdin_bytes=_MAX_STDIN.value)
  with judge, common.listening(_HOST.value, _PORT.value):
    web.run_app(
      JudgeService(judge, limits, _TOKEN.value).app(),
      host=_HOST.value,
      port=_PORT.value,
      access_log=None,
      print=lambda _: logging.info("judging on http://%s:%d", _HOST.value, _PORT.value),
    )


if __name__ == "__main__":
  common.run(main, "judge_serve")
