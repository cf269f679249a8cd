"""What runs inside each sandbox: the fork server and its runs (standard library only).

The judge compiles every module of this package once with the sandbox's own interpreter,
binds the compiled package read-only at /judge/harness and starts one
``python3 -I -S /judge/harness/__main__.pyc zygote ...`` per worker inside bubblewrap (see
sandbox.py). That zygote forks each solution's sandbox (fresh namespaces, /tmp and /proc, no
capabilities; zygote.py) in ~5 ms instead of ~20 ms for bubblewrap and a new interpreter.
The server there keeps one warm interpreter per solution and forks a fresh child per test:
the child gets a fresh private directory, its own session, rlimits, and either execs the
compiled C++ binary or runs the Python program in a clean ``__main__``. Between tests every
other process in the sandbox's PID namespace is killed (``kill(-1)``), so nothing a test
started survives into the next one.

The server is the sandbox's PID-namespace init and undumpable in every mode, so a run
(same uid) can neither trace it, read or write its memory or fds, nor stop or kill it; it
never holds expected outputs, and the judge parses its answers as JSON with a size cap and
a deadline and times the runs itself. In check mode it runs no user code in its own or the
check's process (see check.py).

Modules: ``__main__`` (entry point), ``zygote`` (a fresh sandbox per solution), ``server``
(control loop, setup, one run), ``program`` (the forked run and the check-mode candidate),
``supervise`` (caps, limits, killing leftovers), ``libc`` (prctl, unshare, mount, capset),
``check`` (the check process), ``wire`` (plain values between check and candidate),
``protocol`` (messages with the judge, also imported by the judge side).
Harness modules import each other relatively, so a run's working directory (first on its
sys.path) can never stand in for one.
"""
