# Two entry points: `make demo` and `make test`. Each creates .venv itself on a fresh machine.

# The first of these that runs and is Python >= 3.11 ($(1): the minor versions accepted).
PYENV_ROOT ?= $(HOME)/.pyenv
find_python = $(firstword $(foreach p,$(2),$(shell $(p) -c 'import sys; sys.exit(f"{sys.version_info[0]}.{sys.version_info[1]}" not in "$(1)".split())' >/dev/null 2>&1 && command -v $(p))))
# Any Python >= 3.11 on PATH or under pyenv will do (PYTHON=/path/to/python to choose).
PYTHON ?= $(call find_python,3.11 3.12 3.13 3.14,python3.11 python3.12 python3.13 python3 python $(wildcard $(PYENV_ROOT)/versions/3.1[1-9]*/bin/python3))
# The matrix legs (see `matrix`): Python 3.13, and the oldest supported Django and Flask.
PYTHON313 ?= $(call find_python,3.13,python3.13 $(wildcard $(PYENV_ROOT)/versions/3.13*/bin/python3.13))
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The reference SDK (a test-only dependency) registers a pydantic plugin that imports Logfire into every
# process that builds a model; our commands, tests and demos do not need it.
export PYDANTIC_DISABLE_PLUGINS := __all__

.PHONY: demo test lint typecheck unit logfire-suite matrix bench bench-all clean e2e-deps postgres-deps screenshot

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "no Python >= 3.11 found; set PYTHON=/path/to/python"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,server,postgres,django,flask]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python example_projects/demo.py

# The README's screenshot of the console (docs/console-variable-page.png), taken by its browser test.
screenshot: $(STAMP)
	REMOTEVARS_UPDATE_SCREENSHOT=1 $(BIN)/python -m pytest -q tests/e2e/test_console.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy tests/typing_checks.py
	$(BIN)/mypy --strict example_projects/demo.py benchmarks/bench_get.py benchmarks/bench_propagation.py \
		benchmarks/bench_regex.py benchmarks/bench_server.py benchmarks/bench_console.py benchmarks/bench_scaleout.py
	cd example_projects/django_site && ../../$(BIN)/mypy --strict manage.py support_site helpdesk
	cd example_projects/flask_app && ../../$(BIN)/mypy --strict support_app

# Two test processes (pytest-xdist): most tests wait on servers and subprocesses, so two halve the wall time
# on two cores. `PYTEST_WORKERS=0` runs them in one process.
PYTEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS))

unit: $(STAMP)
	$(BIN)/python -m pytest $(XDIST)

test: e2e-deps postgres-deps lint typecheck unit logfire-suite matrix

# The Logfire SDK 5.4.0's own variables tests against remotevars through a thin shim (a few seconds; the
# SDK's source release is fetched with pip into build/, never vendored). See docs/compatibility.md.
logfire-suite: $(STAMP)
	$(BIN)/python tests/logfire_suite/run.py

# The test matrix, next to the main run (Python of .venv, latest Django and Flask): the core, CLI and adapter
# tests on Python 3.13, and the adapter tests on Django 4.2 and Flask 2.3. Each leg has its venv under .venvs/.
# A leg whose interpreter is missing is skipped with a message, except in CI (CI=true), where it fails.
MATRIX := .venvs
MATRIX_TEST_DEPS := 'pytest>=8' 'pytest-timeout>=2.3' 'pytest-django>=4.8' 'gunicorn>=22' 'pydantic-handlebars>=0.2' 'trio>=0.25' 'pytest-xdist>=3.5'
OLD_FRAMEWORKS := 'Django>=4.2,<4.3' 'Flask>=2.3,<2.4' 'Werkzeug>=2.3.7,<3'

$(MATRIX)/py313/.installed: pyproject.toml
	$(PYTHON313) -m venv $(MATRIX)/py313
	$(MATRIX)/py313/bin/python -m pip install --quiet -e '.[server,django,flask]' $(MATRIX_TEST_DEPS)
	@touch $@

$(MATRIX)/oldest/.installed: pyproject.toml
	$(PYTHON) -m venv $(MATRIX)/oldest
	$(MATRIX)/oldest/bin/python -m pip install --quiet -e '.[server,django,flask]' $(MATRIX_TEST_DEPS) $(OLD_FRAMEWORKS)
	@touch $@

matrix: $(STAMP) $(MATRIX)/oldest/.installed
	@if [ -n "$(PYTHON313)" ]; then $(MAKE) --no-print-directory $(MATRIX)/py313/.installed; \
	elif [ "$$CI" = true ]; then echo 'matrix: no Python 3.13 found (set PYTHON313=...)'; exit 2; \
	else echo 'matrix: no Python 3.13 found, the 3.13 leg is skipped (set PYTHON313=... to run it)'; fi
	@echo '--- Django 4.2 / Flask 2.3 ---'
	$(MATRIX)/oldest/bin/python -m pytest -q -p no:cacheprovider $(XDIST) tests/django tests/flask
	@if [ -n "$(PYTHON313)" ]; then echo '--- Python 3.13 ---'; \
		$(MATRIX)/py313/bin/python -m pytest -q -p no:cacheprovider $(XDIST) tests/core tests/cli tests/django tests/flask; fi

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

# The PostgreSQL store's tests start a throwaway cluster with Debian's binaries (initdb, pg_ctl). As root on a machine
# without them, install the postgresql package quietly; without it those tests skip, and fail in CI (CI=true).
postgres-deps:
	@if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo 'installing postgresql for the PostgreSQL store tests (apt-get)'; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
				>/dev/null 2>&1 || echo 'could not install postgresql: its tests will skip (and fail in CI)'; \
		else echo 'postgresql missing (installing needs root and apt-get): its tests will skip (and fail in CI)'; fi; \
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
	$(BIN)/python benchmarks/bench_scaleout.py
	$(BIN)/python benchmarks/bench_django.py
	$(BIN)/python benchmarks/bench_flask.py
	$(BIN)/python benchmarks/bench_regex.py
	$(BIN)/python benchmarks/bench_console.py

clean:
	rm -rf $(VENV) $(MATRIX) $(REFVENV) .mypy_cache .ruff_cache .pytest_cache .demo build/logfire-suite
