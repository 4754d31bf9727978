"""Fixtures for the server tests: a real server on 127.0.0.1 and httpx clients with each kind of key."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from remotevars.server import Operations, SQLiteStore, Store
from tests.serverutil import RunningServer, api_client, running_server


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh SQLite path."""
    return tmp_path / 'variables.sqlite3'


@pytest.fixture
def server(db_path: Path) -> Iterator[RunningServer]:
    """The server in a background thread, keepalives every 0.2 s."""
    with running_server(db_path, keepalive_interval=0.2) as running:
        yield running


def _client(server: RunningServer, key: str | None) -> httpx.Client:
    return api_client(server.url, key)


@pytest.fixture
def writer(server: RunningServer) -> Iterator[httpx.Client]:
    """A client holding the write key."""
    with _client(server, server.write_key) as client:
        yield client


@pytest.fixture
def reader(server: RunningServer) -> Iterator[httpx.Client]:
    """A client holding the read key."""
    with _client(server, server.read_key) as client:
        yield client


@pytest.fixture
def anonymous(server: RunningServer) -> Iterator[httpx.Client]:
    """A client without a key."""
    with _client(server, None) as client:
        yield client


@pytest.fixture(params=['sqlite'])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store of each backend (the storage suite runs once per backend)."""
    assert request.param == 'sqlite'
    opened = SQLiteStore(tmp_path / 'store.sqlite3')
    yield opened
    opened.close()


@pytest.fixture
def ops(store: Store) -> Operations:
    """The write operations over ``store``, with a clock that ticks one second per write."""
    ticks = itertools.count()
    return Operations(store, clock=lambda: f'2026-01-01T00:00:{next(ticks) % 60:02d}+00:00')
