"""Fixtures of the console tests: one server per module (each test works on variables of its own), browsers."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest

from tests.server.console.consoleutil import ALICE, KEYS, VIEWER, Browser, assistant_body, fresh_client
from tests.serverutil import RunningServer, running_server

_names = itertools.count()


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The server in a thread with named keys alice (write) and viewer (read), plus the unnamed test keys."""
    with running_server(
        tmp_path_factory.mktemp('console') / 'db.sqlite3', keys=KEYS, keepalive_interval=0.2
    ) as running:
        yield running


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    """An API client with the (unnamed) write key: how the tests set things up and look at the result."""
    with fresh_client(server.url, server.write_key) as client:
        yield client


@pytest.fixture
def name(api: httpx.Client) -> str:
    """A fresh variable of this test: labels production (v1) and canary (v2), rollout 0.9/0.1, one override."""
    variable = f'assistant_{next(_names)}'
    api.post('/v1/variables/', json=assistant_body(variable)).raise_for_status()
    return variable


@pytest.fixture
def alice(server: RunningServer) -> Iterator[Browser]:
    """A browser signed in with alice's write key."""
    browser = Browser(server.url)
    assert browser.sign_in(ALICE).status_code == 303
    yield browser
    browser.close()


@pytest.fixture
def viewer(server: RunningServer) -> Iterator[Browser]:
    """A browser signed in with the read key."""
    browser = Browser(server.url)
    assert browser.sign_in(VIEWER).status_code == 303
    yield browser
    browser.close()


@pytest.fixture
def stranger(server: RunningServer) -> Iterator[Browser]:
    """A browser that never signed in."""
    browser = Browser(server.url)
    yield browser
    browser.close()
