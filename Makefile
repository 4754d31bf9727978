# Two entry points: `make demo` and `make test`. Each creates .venv itself on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The reference SDK (a test-only dependency) registers a pydantic plugin that imports Logfire into every
# process that builds a model; our commands, tests and demos do not need it.
export PYDANTIC_DISABLE_PLUGINS := __all__

.PHONY: demo test lint typecheck unit bench bench-all clean e2e-deps

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,server,django,flask]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python example_projects/demo.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy tests/typing_checks.py
	$(BIN)/mypy --strict example_projects/demo.py benchmarks/bench_get.py benchmarks/bench_propagation.py \
		benchmarks/bench_server.py
	cd example_projects/django_site && ../../$(BIN)/mypy --strict manage.py support_site helpdesk
	cd example_projects/flask_app && ../../$(BIN)/mypy --strict support_app

unit: $(STAMP)
	$(BIN)/python -m pytest

test: e2e-deps lint typecheck unit

# The browser tests drive Debian's chromium through chromedriver. As root on a machine without them, install
# both quietly; anything that goes wrong only makes those tests skip (they say why), never fails the run.
e2e-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo 'installing chromium and chromium-driver for the browser tests (apt-get)'; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
				>/dev/null 2>&1 || echo 'could not install chromium: the browser tests will skip'; \
		else echo 'chromium or chromedriver missing (installing needs root and apt-get): the browser tests will skip'; fi; \
	fi

# Benchmarks (never part of `make test`). bench_get.py compares with the reference SDK when .refvenv exists.
BENCH_ARGS ?=
REFVENV := .refvenv
$(REFVENV)/bin/python: benchmarks/reference-requirements.txt
	$(PYTHON) -m venv $(REFVENV)
	$(REFVENV)/bin/python -m pip install --quiet -r benchmarks/reference-requirements.txt

bench: $(STAMP) $(REFVENV)/bin/python
	$(BIN)/python benchmarks/bench_get.py $(BENCH_ARGS)

bench-all: bench
	$(BIN)/python benchmarks/bench_propagation.py
	$(BIN)/python benchmarks/bench_server.py
	$(BIN)/python benchmarks/bench_django.py
	$(BIN)/python benchmarks/bench_flask.py

clean:
	rm -rf $(VENV) $(REFVENV) .mypy_cache .ruff_cache .pytest_cache .demo
