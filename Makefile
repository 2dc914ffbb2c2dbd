# genoma — the two commands: `make demo` (set up + run the demo) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.genoma-installed
DEMO_OUT ?= demo-report
PYTEST_ARGS ?=

.PHONY: demo test install system-deps lint bench clean

$(STAMP): pyproject.toml
	@bash scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

demo: $(STAMP)
	$(BIN)/genoma demo -o $(DEMO_OUT) --force
	@echo "Open $(CURDIR)/$(DEMO_OUT)/report.html"

test: $(STAMP)
	@bash scripts/test-deps.sh
	PGSCALC_BIN=$${PGSCALC_BIN:-$(CURDIR)/.venv-peers/pgscalc/bin/pgscatalog-ancestry-adjust} \
	$(BIN)/python -m pytest -n $${GENOMA_TEST_WORKERS:-2} $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

bench: $(STAMP)
	bash benchmarks/run_all.sh

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache build dist
