# Every target creates .venv on first use, so a fresh clone needs only Python and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow lint typecheck bench soak clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/k8s-monitor demo

lint: $(STAMP)
	$(BIN)/ruff check k8s_monitor tests
	$(BIN)/ruff format --check k8s_monitor tests
	$(BIN)/lint-imports
	$(BIN)/vulture k8s_monitor --min-confidence 100

typecheck: $(STAMP)
	$(BIN)/mypy k8s_monitor

test: lint typecheck
	$(BIN)/pytest -n 2 --dist loadgroup

test-slow: $(STAMP)
	$(BIN)/pytest -m slow

bench: $(STAMP)
	$(BIN)/python -m tests.bench

soak: $(STAMP)
	$(BIN)/python -m tests.bench.soak --cycles 500

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
