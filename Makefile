# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean browser messages screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Migrate the embedded SQLite database under var/, load the demo once, serve the pages and the API on
# 127.0.0.1:8000.
run: $(STAMP)
	@echo "Carbon Inclusion Registry: http://127.0.0.1:8000/  (sign in with a key from var/demo-keys.json)"
	@$(BIN)/cir db upgrade
	@$(BIN)/cir demo --if-empty
	@$(BIN)/cir serve --host 127.0.0.1 --port 8000

# The browser tests drive Debian's Chromium (Playwright's own download is not reachable) and need CJK
# fonts for the Chinese pages: installed from Debian's packages when missing (as root, or with sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -q "Noto Sans CJK"; then \
		echo "installing chromium and fonts-noto-cjk"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

# The whole suite on SQLite, and on PostgreSQL when CIR_TEST_POSTGRES_URL is set or 127.0.0.1:5432 answers;
# the browser tests in tests/web/ fail, never skip, when Chromium cannot start.
test: $(STAMP) browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy registry methodologies trading verification netzero api web demo

bench: $(STAMP)
	$(BIN)/python bench/ledger.py

# After changing any text of the web pages: extract the strings and merge them into the Chinese catalogue.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -o web/locale/messages.pot --no-location --sort-output \
		--project "Carbon Inclusion Registry" --copyright-holder "Carbon Inclusion Registry contributors" .
	$(BIN)/pybabel update -i web/locale/messages.pot -d web/locale -l zh_CN --no-fuzzy-matching --ignore-obsolete

# Photographs of the main pages (both languages, one at a phone's width) for the README.
screenshots: $(STAMP) browser
	$(BIN)/python -m tests.web.screenshots docs/screenshots

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
