# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck locales extract update-catalogs compile-catalogs check-catalogs ci clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# runs the bot; with no BOT_TOKEN it explains what to do (the sandbox comes later)
run: $(STAMP) compile-catalogs
	$(BIN)/baoxue db upgrade
	$(BIN)/baoxue run

# the whole suite: lint, types on casework/, catalogs, tests (SQLite, or TEST_DATABASE_URL)
test: $(STAMP) compile-catalogs
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# --- translations (Babel): extract → update → compile; the tests fail on a stale catalog
extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k N_ -k n_:1,2 --no-location --sort-output \
	  --project=baoxue -o locales/messages.pot .

update-catalogs: extract
	$(BIN)/pybabel update -i locales/messages.pot -d locales -l zh_Hans --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel update -i locales/messages.pot -d locales -l en --no-fuzzy-matching --ignore-obsolete

compile-catalogs: $(STAMP)
	$(BIN)/pybabel compile -d locales --statistics 2>&1 | grep -v '^compiling' || true

locales: update-catalogs compile-catalogs

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
