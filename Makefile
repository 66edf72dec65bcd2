# Everyday commands. `./kit` does the setup (apt packages, .venv) for the two README commands.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint format typecheck unit integration browser security faults faults-short load bench bench-labels printers messages

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

# gettext catalogs (issue 14, item 5; docs/translations.md): collect every message id of each UI
# into its messages.pot, then merge it into the vi and en messages.po that translators edit.
PYBABEL := $(BIN)/pybabel
BABEL_KEYWORDS := -k t -k tn:1,2 -k translate -k translate_plural:1,2
BABEL_EXTRACT := $(PYBABEL) extract --add-comments=TRANSLATORS: --add-location=file --sort-output \
	--no-wrap --project=ocop-edge-kit $(BABEL_KEYWORDS)
BABEL_UPDATE := $(PYBABEL) update --no-fuzzy-matching --ignore-obsolete --no-wrap

messages:
	$(BABEL_EXTRACT) -F edge_agent/web/babel.cfg -o edge_agent/web/translations/messages.pot edge_agent/web
	$(BABEL_UPDATE) -i edge_agent/web/translations/messages.pot -d edge_agent/web/translations
	$(BABEL_EXTRACT) -F sync_server/babel.cfg -o sync_server/web/translations/messages.pot sync_server
	$(BABEL_UPDATE) -i sync_server/web/translations/messages.pot -d sync_server/web/translations
