"""Test setup: 8 virtual CPU devices for real mesh tests, float32 matmuls for exact parity,
a persistent compilation cache shared by the tests and their subprocesses."""

import os
import tempfile

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# One persistent compilation cache for the test process and every subprocess it starts (they
# inherit the environment): the tiny configs' steps compile once per suite, not per test.
os.environ.setdefault(
  "JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "xcoder_jax_test_compile_cache")
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
# float32 matmuls at full precision, in this process and in the subprocesses it starts.
os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")

import jax  # noqa: E402  (must come after XLA_FLAGS)
import pytest  # noqa: E402


def pytest_collection_modifyitems(config, items):
  """Files holding `slow` tests run first (their own order kept): with `make test`'s workers
  (pytest-xdist, one file per worker at a time) the long files start at once instead of
  leaving one worker finishing alone at the end."""
  slow_files = {item.path for item in items if item.get_closest_marker("slow")}
  items.sort(key=lambda item: item.path not in slow_files)


@pytest.fixture(scope="session")
def num_devices():
  return jax.device_count()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
  """One SynthSmith demo run per test session, shared by every room that reads its outputs
  (SynthSmith's end-to-end and DPO pair tests, the split and leak checks): the demo is the
  suite's most costly data fixture."""
  from configs.synthsmith import demo
  from data_pipeline import pipeline

  out = str(tmp_path_factory.mktemp("demo"))
  return out, pipeline.run(demo.get_config(), out)
