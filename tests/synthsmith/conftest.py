"""One SynthSmith demo run per test session, shared by every module that reads its outputs
(the end-to-end tests and the DPO pair tests): the demo is the room's most costly fixture."""

import pytest

from configs.synthsmith import demo
from data_pipeline import pipeline


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("demo"))
  return out, pipeline.run(demo.get_config(), out)
