# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATABASE_URL ?= sqlite:///./var/callsettings.db
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1

.PHONY: run test lint typecheck pytest bench clean venv dev

# The stamp files make each step idempotent: they re-run only when pyproject.toml changes.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.installed-dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/.installed $@

venv: $(BIN)/.installed
dev: $(BIN)/.installed-dev

run: $(BIN)/.installed
	$(BIN)/callsettings serve --database-url $(DATABASE_URL) --host $(HOST) --port $(PORT) \
		--workers $(WORKERS) --demo

test: $(BIN)/.installed-dev lint typecheck pytest

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(BIN)/.installed-dev
	$(BIN)/mypy

pytest: $(BIN)/.installed-dev
	$(BIN)/pytest --cov=callsettings.engine --cov-branch --cov-fail-under=100 \
		--cov-report=term-missing:skip-covered $(PYTEST_ARGS)

bench: $(BIN)/.installed-dev
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
