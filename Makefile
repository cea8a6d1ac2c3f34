# Havre — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint bench clean lock

# The Debian packages are checked on every run (a few `command -v`, installed only when
# missing); the Python packages again only when the lock, pyproject.toml or the script change.
# Havre's own modules are byte-compiled on every run (only what changed; ~0.1 s): an editable
# install has no bytecode, and where PYTHONDONTWRITEBYTECODE is set every command would
# compile its ~150 modules again (~0.25 s of each CLI call).
setup: $(STAMP)
	@scripts/system-deps.sh
	@$(PY) -m compileall -q src >/dev/null

$(STAMP): requirements.lock pyproject.toml scripts/setup-python.sh
	@scripts/setup-python.sh
	@touch $(STAMP)

demo: setup
	$(VENV)/bin/havre demo

test: setup
	@scripts/run-tests.sh

test-fast: setup
	$(PY) -m pytest -q -x -m "not slow and not spark and not browser"

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) havre-home .pytest_cache .mypy_cache .ruff_cache

lock:
	scripts/lock.sh
