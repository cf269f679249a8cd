"""Entry point inside the sandbox: ``python3 -I -S /judge/harness/__main__.pyc zygote SITE_PATH
MODE TMPFS_BYTES`` starts a judge worker's zygote (MODE "isolated", or "unsafe" for the
no-sandbox opt-out), which forks a sandbox and fork server per solution (see zygote.py);
``... __main__.pyc candidate SITE_PATH`` is check mode's freshly exec'd candidate interpreter.

-S skips ``site`` (its .pth files and sitecustomize cost ~3.5 ms per sandbox start); what a
program could need from it is restored here: the interpreter's site-packages directories
(SITE_PATH, os.pathsep-separated, captured by the judge from the same interpreter) and the
builtins exit/quit/help/copyright/credits/license. -I leaves the script's directory off
sys.path, so the package's parent goes first on it; every harness module is imported now,
before any run changes sys.path or the cwd.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path += [path for path in sys.argv[2].split(os.pathsep) if path and path not in sys.path]
from harness import program, zygote  # noqa: E402

program.provide_site_builtins()
if sys.argv[1] == "candidate":
  program.serve_candidate()
else:
  candidate = [sys.executable, "-I", "-S", os.path.abspath(__file__), "candidate", sys.argv[2]]
  zygote.serve(sys.argv[3] == "isolated", int(sys.argv[4]), candidate)
