"""Fixtures for the server tests: a real server on 127.0.0.1 and httpx clients with each kind of key."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from remotevars.server import Operations, SQLiteStore, Store
from tests.pgcluster import PostgresCluster, PostgresUnavailable, postgres_cluster
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


@pytest.fixture(scope='session')
def postgres() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL server for the session (tests/pgcluster.py).

    Skipped when it cannot start here, except in CI (``CI`` set), where that fails the tests.
    """
    try:
        import psycopg  # noqa: F401 - the postgres extra

        with postgres_cluster() as cluster:
            yield cluster
    except (PostgresUnavailable, ModuleNotFoundError) as exc:
        if os.environ.get('CI'):
            pytest.fail(f'PostgreSQL is required in CI and could not start: {exc}')
        pytest.skip(f'PostgreSQL unavailable: {exc}')


@pytest.fixture
def postgres_url(postgres: PostgresCluster) -> str:
    """The URL of a new, empty PostgreSQL database."""
    return postgres.create_database()


@pytest.fixture(params=['sqlite', 'postgresql'])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store of each backend (the storage suite runs once per backend)."""
    opened: Store
    if request.param == 'sqlite':
        opened = SQLiteStore(tmp_path / 'store.sqlite3')
    else:
        from remotevars.server._postgres import PostgresStore

        opened = PostgresStore(request.getfixturevalue('postgres_url'))
    yield opened
    opened.close()


@pytest.fixture
def ops(store: Store) -> Operations:
    """The write operations over ``store``, with a clock that ticks one second per write."""
    ticks = itertools.count()
    return Operations(store, clock=lambda: f'2026-01-01T00:00:{next(ticks) % 60:02d}+00:00')
