# The two commands of a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := portal
# `make run PORT=5005`: the server, the URLs printed and the links in mails follow the port
# (PORTAL_BASE_URL, when set, wins: behind a proxy the public address is not the port).
PORT ?= 5000
BASE_URL := $(or $(PORTAL_BASE_URL),http://127.0.0.1:$(PORT))

.PHONY: install run test test-fast lint format bench translations-extract translations-update \
	translations-compile browser clean screenshots

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
	@echo "  Consent portal:      $(BASE_URL)/luxe/"
	@echo "  Admin console:       $(BASE_URL)/admin/"
	@$(BIN)/flask admins ensure-demo
	@echo "  Sign up to Camille:  $(BASE_URL)/luxe/join/camille"
	@echo "  Mailbox (dev mail):  $(BASE_URL)/dev/mailbox/"
	@echo "  API reference:       $(BASE_URL)/api/v1/docs"
	@echo "  Demo API key (new each run, the last one stops working):"
	@echo "    $$($(BIN)/flask api-clients demo-key --group luxe)"
	@echo
	PORTAL_BASE_URL=$(BASE_URL) $(BIN)/flask outbox work & worker=$$!; \
		$(BIN)/flask webhooks work & hooks=$$!; trap "kill $$worker $$hooks" EXIT; \
		PORTAL_BASE_URL=$(BASE_URL) $(BIN)/flask run --host 127.0.0.1 --port $(PORT)

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

# Screenshots of every page in English at 1366 and 390 px, into screenshots/ (git-ignored):
# the browser walk of every page, writing what it sees.
screenshots: install browser
	rm -rf screenshots
	PORTAL_SCREENSHOTS=screenshots PORTAL_WALK_LANGUAGES=en PORTAL_TEST_DATABASES=sqlite \
		$(BIN)/pytest -p no:xdist -q tests/browser/test_every_page.py
	@echo "Screenshots in screenshots/"

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
