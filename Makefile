# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: system-deps run test lint typecheck locales extract update-catalogs compile-catalogs check-catalogs ci clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian packages the project uses: a CJK font for the PDFs, Chromium for the browser tests
SYSTEM_PACKAGES := fonts-wqy-microhei fonts-noto-color-emoji chromium
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get install -y -q $$missing >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q $$missing >/dev/null)); \
	  else echo "please install these Debian packages:$$missing" >&2; exit 1; fi; \
	fi

# the sandbox at http://127.0.0.1:8080 on the invented demo county (no token, no Telegram);
# it migrates and seeds its own database and refuses any other. The bot itself: baoxue run
run: $(STAMP) compile-catalogs
	$(BIN)/baoxue sandbox

# the whole suite: lint, strict types on every package and the benchmarks, catalogs, tests (SQLite, or TEST_DATABASE_URL)
test: $(STAMP) system-deps compile-catalogs
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
BABEL_EXTRACT := extract -F babel.cfg -k _ -k N_ -k n_:1,2 -k p_:1c,2 --no-location --sort-output \
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
