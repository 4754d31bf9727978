"""Fixtures for the Flask extension's tests: config files, apps that are shut down after each test.

Flask is imported lazily so that, without Flask, each test module skips itself (``importorskip``)
instead of this file failing to import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from flask import Flask

HERE = Path(__file__).parent


@pytest.fixture
def make_app() -> Iterator[Callable[..., Flask]]:
    """Build demo apps (``flaskdemo.create_app``) or bare ones; every app's state is shut down after the test."""
    import flaskdemo
    from flask import Flask

    from flask_remotevars import EXTENSION_KEY

    apps: list[Flask] = []

    def make(config: Mapping[str, Any] | None = None, *, bare: bool = False) -> Flask:
        app = Flask('bare') if bare else flaskdemo.create_app(config)
        if bare:
            app.config.update(config or {})
        apps.append(app)
        return app

    yield make
    for app in apps:
        state = app.extensions.get(EXTENSION_KEY)
        if state is not None:
            state.shutdown()


@pytest.fixture(autouse=True)
def _demo_variables() -> Iterator[None]:
    """Register the demo variables on the default client for each test, and only for it.

    Other suites clear the default client's registry or expect it to hold only their own variables,
    so the registry is set up per test rather than once at import.
    """
    import flaskdemo

    import remotevars

    registry = remotevars.get_client()._registry
    for variable in flaskdemo.DEMO_VARIABLES:
        registry[variable.name] = variable
    yield
    for variable in flaskdemo.DEMO_VARIABLES:
        if registry.get(variable.name) is variable:
            del registry[variable.name]


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves threads running (watchers, refresh workers) behind."""
    before = set(threading.enumerate())
    yield
    deadline = threading.Event()
    leaked: list[threading.Thread] = []
    for _ in range(40):
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked:
            break
        deadline.wait(0.05)
    assert not leaked, f'threads left running: {leaked}'
