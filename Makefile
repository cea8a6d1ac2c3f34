# Havre — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system-deps

.PHONY: setup demo test test-fast lint bench clean lock

setup: $(STAMP) $(SYSTEM_STAMP)

$(STAMP): requirements.lock pyproject.toml scripts/setup-python.sh
	@scripts/setup-python.sh
	@touch $(STAMP)

$(SYSTEM_STAMP): scripts/system-deps.sh | $(STAMP)
	@scripts/system-deps.sh
	@touch $(SYSTEM_STAMP)

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
