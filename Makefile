# Every target runs inside the project's own virtual environment in .venv, created on demand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PRESET ?= ring8-reference
HOST ?= 127.0.0.1
PORT ?= 8050

.PHONY: install install-dev run train test test-browser lint bench browser clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## make run: install, then start the dashboard on http://127.0.0.1:8050
run: install
	$(PY) -m app --host $(HOST) --port $(PORT)

## make train: train a preset from the command line (PRESET=name STEPS=n)
train: install
	$(PY) -m gancore train --preset $(PRESET) --steps $${STEPS:-2000}

browser:
	bash tools/ensure_chromium.sh

## make test: install everything and run lint + the suite. The real-browser tests of the
## dashboard (work in progress) run with `make test-browser` until they are proven on a clean
## checkout within CI's time budget.
test: install-dev
	$(PY) -m ruff check gancore app bench tests
	$(PY) -m pytest -m "not browser"

## make test-browser: install Debian's chromium + chromium-driver when missing, run the browser tests
test-browser: install-dev browser
	$(PY) -m pytest -m browser

lint: install-dev
	$(PY) -m ruff check gancore app bench tests

bench: install-dev
	$(PY) bench/train_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
