# Everything a developer or CI needs, from a fresh clone:
#   make run    set up, migrate, load the demo and serve on http://127.0.0.1:5000
#   make test   lint and the whole test suite on SQLite and on PostgreSQL (what CI runs)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# Links printed by the demo and sent in mails point here (override for a real address).
DECLARATION_PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
export DECLARATION_PUBLIC_BASE_URL
# The PostgreSQL pass of `make test`; .ci/run sets the same variable explicitly.
DECLARATION_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
DECLARATION_TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
export DECLARATION_TEST_REDIS_URL
PYTEST_ARGS ?=

.PHONY: run serve setup install assets translations migrate demo test test-fast test-sqlite \
        test-sqlite-rest test-browser \
        test-postgres test-second-lane test-engineio-frames test-deps test-js browser-deps \
        pdf-deps deployment-deps redis-deps \
        lint format bench clean help

help:
	@echo "make run         set up everything and serve the demo on http://$(HOST):$(PORT)"
	@echo "make test        lint + all tests on SQLite and PostgreSQL (what CI runs)"
	@echo "make test-fast   the quick tests on SQLite only (no slow suites)"
	@echo "make lint        ruff and mypy"
	@echo "make bench       the benchmarks (writes bench/results and docs/benchmarks.md)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

static/dist/app.js static/dist/editor.js static/dist/fonts/fonts.json &: node_modules/.installed $(wildcard static/src/*.js static/src/*.mjs static/src/*/*.js)
	npm run --silent build

install: $(VENV)/.installed node_modules/.installed

assets: static/dist/app.js static/dist/editor.js static/dist/fonts/fonts.json

CATALOGS := $(wildcard declaration/translations/*/LC_MESSAGES/messages.po)

translations: $(CATALOGS:.po=.mo)

declaration/translations/%/LC_MESSAGES/messages.mo: declaration/translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d declaration/translations -D messages -l $* 2>&1 | grep -v '^compiling' || true

setup: install assets translations

migrate: setup
	$(BIN)/declaration db upgrade

demo: migrate
	$(BIN)/declaration demo

run: demo
	$(BIN)/declaration serve --host $(HOST) --port $(PORT)

serve: setup
	$(BIN)/declaration serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Browser tests drive Debian's Chromium (never a browser downloaded by a test tool).
browser-deps:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# WeasyPrint subsets the PDF's fonts with HarfBuzz's subsetter (Debian's libharfbuzz-subset0;
# without it WeasyPrint warns, an error in the tests). The PDF tests turn first pages into
# PNG with poppler's pdftoppm (poppler-utils); `declaration verify` reads PDFs with pypdf.
pdf-deps:
	@(command -v pdftoppm >/dev/null && /sbin/ldconfig -p | grep -q 'libharfbuzz-subset\.so\.0') \
		|| (apt-get update -qq && apt-get install -y -qq poppler-utils libharfbuzz-subset0 >/dev/null)

# The fault tests (tests/faults, PostgreSQL pass) kill and restart a redis-server of their own
# on a free port, never the machine's Redis.
redis-deps:
	@command -v redis-server >/dev/null \
		|| (apt-get update -qq && apt-get install -y -qq redis-server >/dev/null)

# tests/ops/test_deployment.py checks the systemd unit of docs/deployment.md with
# `systemd-analyze verify` and its nginx site with `nginx -t`, and runs nginx with it, on
# free ports, in front of two server processes (Debian's nginx; the package's own service
# starts only where no policy-rc.d forbids it).
deployment-deps:
	@(command -v nginx >/dev/null || test -x /usr/sbin/nginx) && command -v systemd-analyze >/dev/null \
		|| (apt-get update -qq && apt-get install -y -qq nginx systemd >/dev/null)

test-js: node_modules/.installed
	node --test tests/js/

test-sqlite: setup browser-deps pdf-deps deployment-deps
	env -u DECLARATION_TEST_DATABASE_URL $(BIN)/pytest $(PYTEST_ARGS)

# The SQLite pass in two parts, for `make test`: the browser suite, and everything else.
test-sqlite-rest: setup pdf-deps deployment-deps
	env -u DECLARATION_TEST_DATABASE_URL $(BIN)/pytest -m 'not browser' $(PYTEST_ARGS)

test-browser: setup browser-deps pdf-deps
	env -u DECLARATION_TEST_DATABASE_URL $(BIN)/pytest -m browser $(PYTEST_ARGS)

# The PostgreSQL pass runs the tests that reach the database (marker `database`, see
# tests/conftest.py) in the suites whose outcome depends on it: storage, services, faults,
# operations, the command line, live connections, and the web and security tests of what
# the database counts, stores or enforces (throttles, sessions, lengths, stored addresses).
# The page, injection and fuzzing suites drive the same services and run on SQLite, as
# does the browser suite.
POSTGRES_SUITES := tests/storage tests/services tests/faults tests/ops tests/cli tests/realtime \
	tests/bench $(wildcard tests/test_*.py) tests/security/test_limits.py \
	tests/security/test_limits_live.py tests/security/test_ip_storage.py \
	tests/security/test_eviction_live.py tests/web/test_password_login_throttle.py \
	tests/web/test_login_link.py tests/web/test_credentials.py tests/web/test_request_transactions.py

test-postgres: setup pdf-deps deployment-deps redis-deps
	DECLARATION_TEST_DATABASE_URL='$(DECLARATION_TEST_DATABASE_URL)' $(BIN)/pytest \
		$(POSTGRES_SUITES) -m 'database and not browser' $(PYTEST_ARGS)

# The realtime tests against real server processes once more, with the frames left to
# engineio's writer greenlets (DECLARATION_DIRECT_FRAMES=0): the way back, should
# realtime/frames.py (which replaces a private driver table of python-engineio) not fit a
# new version. Only server processes (gevent) write frames directly; the in-process tests
# (threading) and the flood measurements would run the same code again.
test-engineio-frames: setup
	env -u DECLARATION_TEST_DATABASE_URL DECLARATION_DIRECT_FRAMES=0 $(BIN)/pytest tests/realtime \
		-m slow --ignore=tests/realtime/test_flood_live.py $(PYTEST_ARGS)

# Two lanes side by side (each pass's databases, ports and queue channels are its own;
# each waits on servers, browsers and the disk for much of its time): the SQLite pass
# without the browser suite, and the PostgreSQL passes followed by the browser suite on
# SQLite, which together take about as long. Each pass's output is printed whole when it
# ends. What apt installs comes first, one package manager at a time.
test: lint test-js test-deps
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite-rest test-second-lane

test-deps: setup browser-deps pdf-deps deployment-deps redis-deps

test-second-lane:
	$(MAKE) --no-print-directory test-postgres
	$(MAKE) --no-print-directory test-engineio-frames
	$(MAKE) --no-print-directory test-browser

test-fast: setup pdf-deps
	env -u DECLARATION_TEST_DATABASE_URL $(BIN)/pytest -m 'not slow' -x -q $(PYTEST_ARGS)

bench: setup
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules static/dist .pytest_cache .mypy_cache .ruff_cache
