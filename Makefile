# kimflow — `make run` starts the app, `make test` proves it. Both work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench install clean translations

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/kimflow db upgrade
	$(BIN)/kimflow deploy bpmn forms
	$(BIN)/kimflow demo    # demo accounts and fictional cases; adds cases only to a database without any
	$(BIN)/kimflow serve --host 127.0.0.1 --port 5000

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy workflows

pytest: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks

clean:
	rm -rf $(VENV) instance .mypy_cache .ruff_cache .pytest_cache

# After changing German texts in service/: extract them, merge into the English catalogue, translate the new
# entries in service/translations/en/LC_MESSAGES/messages.po, then compile (tests check nothing is missing).
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -o service/translations/messages.pot --no-location --omit-header .
	$(BIN)/pybabel update -i service/translations/messages.pot -d service/translations --no-wrap
	$(BIN)/pybabel compile -d service/translations
