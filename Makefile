# Every target runs inside the project's own virtual environment in .venv, created on demand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PRESET ?= ring8-reference
HOST ?= 127.0.0.1
PORT ?= 8050

.PHONY: deps install install-dev run train test test-engine test-browser test-scenarios test-distributed test-load test-lessons test-protocol \
	lint bench browser services clean lessons

# The pinned dependencies alone (the Dockerfile caches this layer before the sources arrive).
$(VENV)/.deps: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# ganscope itself, editable: the `ganscope` and `gancore` commands, imports from anywhere. Its
# build uses the setuptools that torch and dash brought (no download).
$(VENV)/.installed: $(VENV)/.deps pyproject.toml
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

deps: $(VENV)/.deps

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## make run: install, then start the dashboard on http://127.0.0.1:8050
run: install
	$(VENV)/bin/ganscope --host $(HOST) --port $(PORT)

## make train: train a preset from the command line (PRESET=name STEPS=n)
train: install
	$(VENV)/bin/gancore train --preset $(PRESET) --steps $${STEPS:-2000}

browser:
	bash tools/ensure_debian.sh chromium=chromium chromedriver=chromium-driver

## make services: Debian's redis-server for the distributed-backend tests, when missing
services:
	bash tools/ensure_debian.sh redis-server=redis-server

## make test: install everything (Debian's chromium, chromium-driver and redis-server too, when
## missing), then lint and the whole suite, real-browser tests included, the load checks not.
test: install-dev services browser
	$(PY) -m ruff check gancore app bench tests examples
	$(PY) -m mypy
	GANSCOPE_REQUIRE_BROWSER=1 GANSCOPE_REQUIRE_SERVICES=1 $(PY) -m pytest \
		-m "not load and not lessons and not distributed and not protocol and not scenario" \
		--durations=15

## make test-scenarios: the end-to-end scenarios of 10 s or more each (marker "scenario": a
## class of six, a queue, an example script, presenter mode at three sizes, 19 spectators, a
## full disk; about 8 minutes, so apart from make test, which takes about 12)
test-scenarios: install-dev services browser
	GANSCOPE_REQUIRE_BROWSER=1 GANSCOPE_REQUIRE_SERVICES=1 $(PY) -m pytest \
		-m "scenario and not load and not lessons and not distributed and not protocol" \
		--durations=15

## make test-engine: the suite without the real-browser tests (no chromium needed)
test-engine: install-dev services
	GANSCOPE_REQUIRE_SERVICES=1 $(PY) -m pytest -m "not browser and not load and not lessons"

## make test-browser: only the real-browser tests
test-browser: install-dev services browser
	GANSCOPE_REQUIRE_BROWSER=1 GANSCOPE_REQUIRE_SERVICES=1 $(PY) -m pytest -m "browser and not lessons"

## make test-distributed: the Redis + Celery backend with real services (marker "distributed":
## tests/distributed and the watch link through Redis; about 5 minutes, so apart from make test)
test-distributed: install-dev services browser
	GANSCOPE_REQUIRE_BROWSER=1 GANSCOPE_REQUIRE_SERVICES=1 $(PY) -m pytest -m "distributed and not load"

## make test-load: the classroom load checks (marker "load")
test-load: install-dev services browser
	GANSCOPE_REQUIRE_BROWSER=1 GANSCOPE_REQUIRE_SERVICES=1 $(PY) -m pytest -m load

## make test-lessons: the lessons measured to hold (tests/test_lessons_period.py HELD), problem and
## remedy presets for a class period on seeds 0-2 (marker "lessons", 2 processes); figures in
## test-artifacts/lessons-period.md. Any lesson: gancore lessons-period --only SLUG
test-lessons: install-dev
	$(PY) -m pytest -m lessons -s tests/test_lessons_period.py

## make test-protocol: the benchmarks' full protocols at full length (marker "protocol"; the
## default suite runs them short), e.g. bench-modes' GAN against PacGAN4 for 6,000 steps
test-protocol: install-dev
	$(PY) -m pytest -m protocol

lint: install-dev
	$(PY) -m ruff check gancore app bench tests examples
	$(PY) -m mypy

## make lessons: train each classroom lesson's problem and remedy presets (2 processes) and write
## one side-by-side GIF per lesson into docs/lessons/ (about 5-10 minutes)
lessons: install
	$(PY) -m gancore lessons-gifs docs/lessons

bench: install-dev
	$(PY) -m bench.train_throughput
	$(PY) -m bench.worker_share

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
