"""Entry point inside the sandbox: ``python3 -I /judge/harness/__main__.pyc MODE TMP_ROOT``
starts the fork server (MODE "isolated", or "unsafe" for the no-sandbox opt-out);
``... __main__.pyc candidate`` is check mode's freshly exec'd candidate interpreter.

-I leaves the script's directory off sys.path, so the package's parent goes first on it
here; every harness module is imported now, before any run changes sys.path or the cwd.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import program, server  # noqa: E402

if sys.argv[1] == "candidate":
  program.serve_candidate()
else:
  server.serve(sys.argv[1], sys.argv[2], entry=os.path.abspath(__file__))
