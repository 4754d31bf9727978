"""Django test set-up: configure settings from the test project before collection, plus shared fixtures.

The settings come from ``project/rv_project/settings.py`` (the same module the ``manage.py`` and
gunicorn subprocesses use) through ``settings.configure()``, so no ``DJANGO_SETTINGS_MODULE`` leaks into
the other test directories. Everything skips when Django or pytest-django is absent.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).parent / 'project'
HAVE_DJANGO = (
    importlib.util.find_spec('django.conf') is not None and importlib.util.find_spec('pytest_django') is not None
)
#: The variables the test project declares (an app's variables.py and a REMOTEVARS_MODULES module).
PROJECT_VARIABLES = ('banner_text', 'max_items', 'agent_config', 'checkout_flow', 'extra_flag')
_DISCOVERY_MODULES = ('rv_shop.variables', 'rv_extra_vars')


def pytest_configure(config: pytest.Config) -> None:
    if not HAVE_DJANGO:
        return
    import django
    from django.conf import settings

    if settings.configured:
        return
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    project_settings = importlib.import_module('rv_project.settings')
    settings.configure(**{name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()})
    django.setup()


def wait_until(condition: Callable[[], Any], timeout: float = 5.0, message: str = 'condition') -> Any:
    """Return the first truthy value of ``condition()``; raises AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout}s waiting for {message}')
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def _project_variables_registered() -> None:
    """Re-declare the project's variables if another suite cleared the default client's registry."""
    if not HAVE_DJANGO:
        return
    import remotevars

    client = remotevars.get_client()
    if any(client.get_variable(name) is None for name in PROJECT_VARIABLES):
        for name in _DISCOVERY_MODULES:
            importlib.reload(importlib.import_module(name))


@pytest.fixture(scope='session')
def vars_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The variables server on 127.0.0.1 (a thread of this process), shared by the Django tests."""
    from tests.serverutil import running_server

    with running_server(tmp_path_factory.mktemp('django-server') / 'vars.sqlite3', keepalive_interval=1.0) as server:
        yield server


@pytest.fixture
def remote(vars_server: Any) -> Iterator[Any]:
    """Point the settings at the server for one test and opt in to it (test runs are hermetic otherwise);
    the client connects, and is shut down after."""
    from django.test import override_settings

    import remotevars
    from django_remotevars.test import live_variables

    with (
        override_settings(REMOTEVARS_BASE_URL=vars_server.url, REMOTEVARS_API_KEY=vars_server.read_key),
        live_variables(),
    ):
        yield vars_server
    assert remotevars.get_client().status().kind == 'none'


def seed(server: Any, name: str, value: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Create or replace a variable on the server; returns its read shape."""
    from tests.serverutil import seed_variable, variable_body

    return seed_variable(server.url, server.write_key, variable_body(name, value, **kwargs))


def served_version(name: str, label: str = 'production') -> int | None:
    """Return the version of ``label`` of ``name`` in the default client's live snapshot (None if absent)."""
    import remotevars

    compiled = remotevars.get_client()._snapshot.lookup(name)
    if compiled is None or label not in compiled.targets:
        return None
    return compiled.targets[label][1]


def wait_for_version(name: str, version: int | None, label: str = 'production', timeout: float = 5.0) -> None:
    """Wait until the default client serves ``version`` of ``name``'s ``label``."""
    wait_until(lambda: served_version(name, label) == version, timeout, f'{name}@{label} v{version}')


#: Subprocesses skip pydantic plugins: the reference SDK installed for the benchmarks registers one whose
#: import costs every process a noticeable start-up time.
SUBPROCESS_ENV = {'PYDANTIC_DISABLE_PLUGINS': '__all__'}


def manage(*args: str, env: dict[str, str] | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``python manage.py ARGS`` of the test project as a real subprocess."""
    environment = {**os.environ, **SUBPROCESS_ENV, **(env or {})}
    environment.pop('DJANGO_SETTINGS_MODULE', None)
    return subprocess.run(
        [sys.executable, str(PROJECT / 'manage.py'), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=str(PROJECT),
        check=False,
        stdin=subprocess.DEVNULL,
    )
