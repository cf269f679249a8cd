"""`cli`: runs a launcher in this process as its command line would, through `common.run`
(absl's flag parsing, ml_collections' --config file and overrides, the one-line error
handling), without the seconds a new Python process spends importing jax."""

import importlib
import sys

import pytest
from absl import flags

from launch import common

SHARED = ("launch.common", "launch.mesh_flags")  # defined once, kept between launchers


def _forget_launchers() -> None:
  """Unregisters every launcher's flags (and ml_collections' --config.* overrides) and drops
  the modules, so the next launcher defines its own flags afresh; all flags back to default."""
  values = flags.FLAGS
  for module, defined in list(values.flags_by_module_dict().items()):
    if module.startswith("launch.") and module not in SHARED:
      for flag in list(defined):
        if flag.name in values:
          delattr(values, flag.name)
      sys.modules.pop(module, None)
  for name in list(values):
    if name.startswith("config."):
      delattr(values, name)
  values.unparse_flags()


class Result:
  def __init__(self, code, out: str, err: str):
    self.code, self.out, self.err = code, out, err

  def assert_user_error(self, *expected: str) -> None:
    """Exit status 2 and one line on stderr, naming each of `expected`; no traceback."""
    lines = self.err.strip().splitlines()
    assert self.code == 2 and len(lines) == 1 and "Traceback" not in self.err, (self.code, self.err)
    assert all(text in lines[0] for text in expected), lines[0]


@pytest.fixture
def cli(monkeypatch, capfd):
  def run(name: str, *args: str) -> Result:
    _forget_launchers()
    launcher = importlib.import_module(f"launch.{name}")
    argv = [f"launch/{name}.py", *args]
    monkeypatch.setattr(sys, "argv", argv)  # ml_collections reads overrides from sys.argv
    capfd.readouterr()
    with pytest.raises(SystemExit) as exit_info:
      common.run(launcher.main, name, argv=argv)
    return Result(exit_info.value.code, *capfd.readouterr())

  yield run
  _forget_launchers()
