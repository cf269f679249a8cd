"""Sandboxed, exact, fast execution of untrusted programs against tests.

    from xcoder_jax import judge
    results = judge.run([judge.Submission(source, tests=[judge.TestCase("1 2", "3")])])
    results[0].verdicts[0].verdict  # Outcome.ACCEPTED

Used by SynthSmith (verdicts and output votes), RL (rewards) and evaluation.
"""

from xcoder_jax.judge.checkers import register as register_checker
from xcoder_jax.judge.languages import LANGUAGES, ToolchainMissing
from xcoder_jax.judge.pool import Judge, run
from xcoder_jax.judge.runner import RunLimits
from xcoder_jax.judge.sandbox import BWRAP_INSTALL_HINT, JudgeError, SandboxConfig
from xcoder_jax.judge.types import (
  Outcome,
  SpecialJudge,
  Submission,
  SubmissionResult,
  TestCase,
  TestKind,
  Verdict,
)

__all__ = [
  "BWRAP_INSTALL_HINT",
  "Judge",
  "JudgeError",
  "LANGUAGES",
  "Outcome",
  "RunLimits",
  "SandboxConfig",
  "SpecialJudge",
  "Submission",
  "SubmissionResult",
  "TestCase",
  "TestKind",
  "ToolchainMissing",
  "Verdict",
  "register_checker",
  "run",
]
