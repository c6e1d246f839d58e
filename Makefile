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
# (tests/test_catalogs.py extracts with the same options: keep BABEL_EXTRACT in step with it)
CATALOG_LANGS := zh_Hans en
BABEL_EXTRACT := extract -F babel.cfg -k _ -k N_ -k n_:1,2 --no-location --sort-output \
  --ignore-dirs=".* _* tests" --project=baoxue

extract: $(STAMP)
	$(BIN)/pybabel $(BABEL_EXTRACT) -o locales/messages.pot .

# a language without a catalog yet is created with `pybabel init`, the others are merged
update-catalogs: extract
	@set -e; for lang in $(CATALOG_LANGS); do \
	  if [ -f locales/$$lang/LC_MESSAGES/messages.po ]; then \
	    echo "$(BIN)/pybabel update -l $$lang"; \
	    $(BIN)/pybabel update -i locales/messages.pot -d locales -l $$lang \
	      --no-fuzzy-matching --ignore-obsolete; \
	  else \
	    echo "$(BIN)/pybabel init -l $$lang"; \
	    $(BIN)/pybabel init -i locales/messages.pot -d locales -l $$lang; \
	  fi; \
	done

# fails (instead of hiding the error) when a catalog is missing or does not compile
compile-catalogs: $(STAMP)
	@set -e; for lang in $(CATALOG_LANGS); do \
	  test -f locales/$$lang/LC_MESSAGES/messages.po \
	    || { echo "locales/$$lang/LC_MESSAGES/messages.po is missing: run make update-catalogs" >&2; exit 1; }; \
	done
	@out=$$($(BIN)/pybabel compile -d locales --statistics 2>&1); rc=$$?; \
	  printf '%s\n' "$$out" | grep -v '^compiling' || true; exit $$rc

locales: update-catalogs compile-catalogs

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
