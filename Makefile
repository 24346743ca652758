# The two commands of a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := portal

.PHONY: install run test test-fast lint format bench translations-extract translations-update \
	translations-compile browser clean

$(BIN)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed translations-compile

translations-compile: $(BIN)/.installed
	$(BIN)/pybabel compile --directory translations --domain messages

translations-extract: $(BIN)/.installed
	$(BIN)/pybabel extract --mapping babel.cfg --keywords _l --keywords lazy_gettext \
		--no-location --sort-output --project portal --output-file translations/messages.pot .

translations-update: translations-extract
	$(BIN)/pybabel update --input-file translations/messages.pot --output-dir translations \
		--no-fuzzy-matching --ignore-obsolete

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
/usr/bin/chromium:
	apt-get update -q && apt-get install -y -q chromium

node_modules/axe-core/axe.min.js: package.json
	npm install --no-audit --no-fund --silent
	touch $@

browser: /usr/bin/chromium node_modules/axe-core/axe.min.js

run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask demo load
	@echo
	@echo "  Consent portal:      http://127.0.0.1:5000/luxe/"
	@echo "  Admin console:       http://127.0.0.1:5000/admin/"
	@$(BIN)/flask admins ensure-demo
	@echo "  Sign up to Camille:  http://127.0.0.1:5000/luxe/join/camille"
	@echo "  Mailbox (dev mail):  http://127.0.0.1:5000/dev/mailbox/"
	@echo "  API reference:       http://127.0.0.1:5000/api/v1/docs"
	@echo "  Demo API key (new each run, the last one stops working):"
	@echo "    $$($(BIN)/flask api-clients demo-key --group luxe)"
	@echo
	$(BIN)/flask outbox work & worker=$$!; trap "kill $$worker" EXIT; \
		$(BIN)/flask run --host 127.0.0.1 --port 5000

test: install browser
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --dist loadgroup --durations=25

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports

format: $(BIN)/.installed
	$(BIN)/ruff format portal tests bench

# Against PostgreSQL (PORTAL_BENCH_POSTGRES_URL); BENCH_ARGS=--quick for a reduced run, BENCH_ARGS="api load" for some.
/usr/bin/wrk:
	apt-get update -q && apt-get install -y -q wrk

bench: install /usr/bin/wrk
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
