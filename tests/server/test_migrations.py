"""Schema migrations: a database written by the first release opens with everything in it; the runner's rules."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from remotevars.server import SQLiteStore
from remotevars.server._migrations import Migration, SchemaTooNew, migrate
from remotevars.server._sqlite import MIGRATIONS
from tests.serverutil import api_client, running_server

FIXTURES = Path(__file__).parent.parent / 'fixtures'


@pytest.fixture
def first_release_db(tmp_path: Path) -> Path:
    """A copy of the database the first release's server wrote (tests/fixtures/make_store_v1.py)."""
    copy = tmp_path / 'v1.sqlite3'
    shutil.copyfile(FIXTURES / 'store_v1.sqlite3', copy)
    return copy


def _schema_version(path: Path) -> str | None:
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    conn.close()
    return None if row is None else str(row[0])


def test_a_first_release_database_keeps_everything(first_release_db: Path) -> None:
    expected = json.loads((FIXTURES / 'store_v1_expected.json').read_text())
    assert _schema_version(first_release_db) is None  # the first release recorded no schema version
    with running_server(first_release_db) as server, api_client(server.url, server.write_key) as client:
        response = client.get('/v1/variables/')
        assert response.json() == expected['variables']
        assert response.headers['etag'] == expected['etag']  # clients holding it get 304, not a full fetch
        assert client.get('/v1/variables/', headers={'If-None-Match': expected['etag']}).status_code == 304
        for name, versions in expected['versions'].items():
            assert client.get(f'/v1/variables/{name}/versions/').json() == versions
        assert client.get('/v1/variable-types/').json() == expected['variable_types']
        # Writes work on the migrated schema: a precondition on the old ETag holds, history starts.
        created = client.post(
            '/v1/variables/greeting/versions/',
            json={'serialized_value': '"salut"', 'labels': ['canary']},
            headers={'If-Match': expected['etag']},
        )
        assert created.status_code == 201, created.text
        assert created.json()['version'] == 4
        history = client.get('/v1/variables/greeting/history/').json()
        assert [(e['action'], e['actor']) for e in history] == [('create-version', 'write-key-1')]
        assert history[0]['before'] == expected['variables']['variables']['greeting']
    assert _schema_version(first_release_db) == str(len(MIGRATIONS))


def test_migrations_run_once(tmp_path: Path) -> None:
    path = tmp_path / 'new.sqlite3'
    first = SQLiteStore(path)
    assert [m.version for m in first.migrated] == [1, 2, 3]
    first.close()
    again = SQLiteStore(path)
    assert again.migrated == []
    again.close()


def test_servers_opening_one_file_together_migrate_it_once(first_release_db: Path) -> None:
    stores: list[SQLiteStore] = []
    barrier = threading.Barrier(4)

    def open_store() -> None:
        barrier.wait()
        stores.append(SQLiteStore(first_release_db))

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert len(stores) == 4
        # Each step applied once, by whichever server got to it first.
        assert sorted(m.version for s in stores for m in s.migrated) == list(range(2, len(MIGRATIONS) + 1))
        assert len({s.snapshot.etag for s in stores}) == 1
    finally:
        for store in stores:
            store.close()


def test_a_newer_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / 'future.sqlite3'
    SQLiteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNew, match='schema version 99, and this remotevars knows versions up to 3'):
        SQLiteStore(path)
    assert path.read_bytes() == before


class _ListTarget:
    """A toy backend: the 'database' is a list of applied step names, with all-or-nothing transactions."""

    def __init__(self) -> None:
        self.applied: list[str] = []
        self.version = 0

    @contextmanager
    def exclusive(self) -> Iterator[list[str]]:
        work = list(self.applied)
        version = self.version
        try:
            yield work
        except BaseException:
            self.version = version
            raise
        self.applied = work

    def schema_version(self, connection: list[str]) -> int:
        return self.version

    def set_schema_version(self, connection: list[str], version: int) -> None:
        self.version = version


def test_the_runner_applies_steps_in_order_and_stops_at_a_failing_one() -> None:
    def step(label: str) -> Migration[list[str]]:
        return Migration(0, label, lambda work: work.append(label))

    def broken(work: list[str]) -> None:
        work.append('half')
        raise RuntimeError('boom')

    target = _ListTarget()
    steps = [Migration(1, 'a', step('a').apply), Migration(2, 'b', step('b').apply), Migration(3, 'c', broken)]
    with pytest.raises(RuntimeError, match='boom'):
        migrate(target, steps)
    assert (target.applied, target.version) == (['a', 'b'], 2)  # the failed step left nothing behind
    steps[2] = Migration(3, 'c', step('c').apply)
    assert [m.description for m in migrate(target, steps)] == ['c']
    assert (target.applied, target.version) == (['a', 'b', 'c'], 3)
    with pytest.raises(ValueError, match='numbered 1..N'):
        migrate(target, [Migration(2, 'x', step('x').apply)])
