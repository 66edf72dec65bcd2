# Everyday commands. `./kit` does the setup (apt packages, .venv) for the two README commands.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint format typecheck unit integration browser security faults faults-short load bench bench-labels printers

install:
	$(BIN)/python -m pip install -e '.[test]' || (python3 -m venv $(VENV) && $(BIN)/python -m pip install -e '.[test]')

demo:
	./kit demo

test:
	./kit test

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format:
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

typecheck:
	$(BIN)/mypy

unit:
	$(BIN)/python -m pytest tests/unit

integration:
	$(BIN)/python -m pytest tests/integration

browser:
	$(BIN)/python -m pytest tests/browser

# Issue 12: each attack replayed against real processes (docs/security.md).
security:
	$(BIN)/python -m pytest tests/security

# Fault-injection suite (issue #3): real processes, real Mosquitto, ≥ 200 faults over ≥ 20,000 events.
faults:
	$(BIN)/python -m tests.faults.run

faults-short:
	$(BIN)/python -m tests.faults.run --faults 30 --events 3000

# National load test (issue 8): 2,000 simulated devices, nominal then 10x; see docs/load-test.md.
load:
	$(BIN)/python -m tests.load.run

# Every benchmark of issue #8 beside its baseline (docs/benchmarks.md): table + bench/results.json.
bench:
	$(BIN)/python -m bench

# Label rendering speed against a naive qrcode+PIL baseline (issue #5); prints ratios.
bench-labels:
	$(BIN)/python -m bench.labels --check

printers:
	$(BIN)/python -m pytest tests/integration/test_printers.py
