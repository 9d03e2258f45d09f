# crossbound: every target works from a fresh clone; it creates or updates .venv itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint typecheck unit integration sysdeps readme clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Debian packages the tool tests use: prometheus + promtool (scrape and alert-rule tests), kcat (an
# independent Kafka client). Installed only when missing.
sysdeps:
	@if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null || ! command -v kcat >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus kcat >/dev/null; \
	fi

demo: $(STAMP)
	$(BIN)/crossbound demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -m "not integration and not tools"

integration: $(STAMP) sysdeps
	$(BIN)/pytest -m "integration or tools"

test: $(STAMP) sysdeps lint typecheck
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# README's scenario table (between <!-- scenarios:begin/end -->) is generated from rulesets/.
readme: $(STAMP)
	$(BIN)/python -m crossbound.catalogue_view --write-readme

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis
