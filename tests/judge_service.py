"""A real `launch.judge_serve` process for tests, started and stopped by the test itself."""

import contextlib
import os
import subprocess
import sys
import tempfile
import time

import requests

from ports import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def judge_service(*flags: str, workers: int = 2):
  """Yields (url, process) of a judge service on a free loopback port; stops it after."""
  port = free_port()
  with tempfile.TemporaryFile("w+") as log:
    process = subprocess.Popen(
      [
        sys.executable,
        "-m",
        "launch.judge_serve",
        f"--port={port}",
        f"--workers={workers}",
        *flags,
      ],
      cwd=ROOT,
      stdout=log,
      stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
      deadline = time.monotonic() + 60
      while not _answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
          log.seek(0)
          raise RuntimeError("launch.judge_serve did not come up:\n" + log.read()[-4000:])
        time.sleep(0.1)
      yield url, process
    finally:
      process.terminate()
      try:
        process.wait(timeout=30)
      except subprocess.TimeoutExpired:
        process.kill()


def _answers(url: str) -> bool:
  try:
    return requests.get(f"{url}/v1/ping", timeout=1).json() == "pong"
  except requests.RequestException:
    return False
