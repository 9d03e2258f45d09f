# crossbound: every target works from a fresh clone; it creates or updates .venv itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-secure test bench bench-scaling lint typecheck unit integration sysdeps kafka readme clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Debian packages the tests use: prometheus + promtool (scrape and alert-rule tests), kcat (an
# independent Kafka client), a Java runtime and Maven (Apache Kafka). Installed only when missing.
sysdeps:
	@if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null || ! command -v kcat >/dev/null \
	    || ! command -v java >/dev/null || ! command -v mvn >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    prometheus kcat openjdk-17-jre-headless maven >/dev/null; \
	fi

# Apache Kafka (the pinned version in src/crossbound/broker/kafka_dist/pom.xml) from Maven Central into
# ~/.cache/crossbound/kafka-<version>; a no-op when it is there. `crossbound broker --engine kafka` and
# the integration tests run it from there.
kafka: $(STAMP) sysdeps
	@$(BIN)/crossbound broker --engine kafka --fetch

demo: $(STAMP)
	$(BIN)/crossbound demo

# The demo across the trust boundary: its own Apache Kafka with SASL_SSL, SCRAM users and the registry's
# ACLs, signed records, forgery attempts and both audit logs verified (README, See the trust boundary).
demo-secure: $(STAMP) kafka
	$(BIN)/crossbound demo --secure

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -m "not integration and not tools"

integration: $(STAMP) sysdeps kafka
	$(BIN)/pytest -m "integration or tools"

test: $(STAMP) sysdeps kafka lint typecheck
	$(BIN)/pytest

bench: $(STAMP) kafka
	$(BIN)/python benchmarks/bench.py

# 1, 2 and 3 workers in one group on Tansu and Kafka, with the CPU the broker and this load generator took
# (benchmarks/scaling.py; about 7 minutes on 2 busy cores, so not part of `make bench`).
bench-scaling: $(STAMP) kafka
	$(BIN)/python benchmarks/scaling.py

# README's scenario table (between <!-- scenarios:begin/end -->) is generated from rulesets/.
readme: $(STAMP)
	$(BIN)/python scripts/update_readme.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis
