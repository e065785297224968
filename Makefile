# Every target creates .venv on first use, so a fresh clone needs only Python and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Runtime dependencies (with the bedrock and mcp extras the image ships), pinned and hash-checked: the
# image and the venv install exactly these. `make lock` refreshes it after pyproject changes;
# `make lock LOCK_FLAGS=--upgrade` moves every pin to the newest release.
LOCK   := requirements.lock
LOCK_FLAGS ?=

.PHONY: demo test test-slow lint typecheck bench soak clean lock

# The locked runtime first, then the project and the dev tools (unpinned) around it;
# tests/unit/test_lock.py fails if the dev tools moved a locked pin.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Independent of $(STAMP): a stale lock may not install, and this is how it gets fixed.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'uv>=0.5'
	$(BIN)/uv pip compile pyproject.toml --extra bedrock --extra mcp --universal --python-version 3.11 \
	  --generate-hashes --custom-compile-command 'make lock' --quiet $(LOCK_FLAGS) \
	  --output-file $(LOCK)

demo: $(STAMP)
	$(BIN)/k8s-monitor demo

lint: $(STAMP)
	$(BIN)/ruff check k8s_monitor tests
	$(BIN)/ruff format --check k8s_monitor tests
	$(BIN)/lint-imports
	$(BIN)/vulture k8s_monitor --min-confidence 100

typecheck: $(STAMP)
	$(BIN)/mypy k8s_monitor

# The suite in parallel, then the benchmarks' fast forms on their own: a ratio measured while
# the other worker runs a heavy test says more about that test than about the code.
test: lint typecheck
	$(BIN)/pytest -n 2 --dist loadgroup -m 'not slow and not bench'
	$(BIN)/pytest -m 'bench and not slow'

test-slow: $(STAMP)
	$(BIN)/pytest -m slow

bench: $(STAMP)
	$(BIN)/python -m tests.bench

soak: $(STAMP)
	$(BIN)/python -m tests.bench.soak --cycles 500

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
