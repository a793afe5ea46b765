# Two commands for a new user (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-doubling bench-spark clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

## demo: install into .venv, then validate the bundled sample claims
demo: $(STAMP)
	@echo "== edi63650 parse --format text fixtures/scs-*.837"
	@$(BIN)/edi63650 parse --format text fixtures/scs-professional.837 fixtures/scs-institutional.837
	@echo
	@echo "== edi63650 validate fixtures/scs-professional.837 fixtures/rulepack-institutional.837 --output-dir demo-out"
	@$(BIN)/edi63650 validate fixtures/scs-professional.837 fixtures/rulepack-institutional.837 --output-dir demo-out || true
	@echo "(the whole report: every finding in full; for a long one, pipe it through less)"
	@echo
	@echo "== the 277CA written for scs-professional.837 (demo-out/scs-professional.837.277)"
	@cat demo-out/scs-professional.837.277
	@echo "== also in demo-out/: .999, .json, .html and .accepted.837 for each input"

## lint: ruff and mypy (strict)
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

## test: lint, then the whole test suite
test: lint
	$(BIN)/pytest

## bench: throughput and peak memory against pyx12 on a 10,000-claim synthetic file, then
## the doubling check of the hostile input shapes
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/doubling.py

## bench-doubling: doubling each hostile input shape at most about doubles the time
bench-doubling: $(STAMP)
	$(BIN)/python benchmarks/doubling.py

## bench-spark: Spark local[2] against validate --jobs 2 and --jobs 1 on one directory
bench-spark: $(STAMP)
	$(BIN)/python benchmarks/bench_spark.py

clean:
	rm -rf $(VENV) dist build benchmarks/out demo-out .pytest_cache .mypy_cache .ruff_cache
