"""Running programs in the judge in capture mode (full outputs, nothing compared).

The task -> submission rule lives in the library (`xcoder_jax.judge.tasks`), shared with the
RL reward; SynthSmith's stages call it through these names.
"""

from xcoder_jax.judge.tasks import capture_submission as submission
from xcoder_jax.judge.tasks import outputs

__all__ = ["outputs", "submission"]
