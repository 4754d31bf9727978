"""The SQLite backend of the server's :class:`~._storage.Store` (stdlib ``sqlite3``, WAL mode).

One connection per store, used under a lock. Every write is one ``BEGIN IMMEDIATE`` transaction, so a
failed write changes nothing and two writers (threads or processes) cannot interleave; the new
snapshot is read inside the same transaction, so it is exactly what was committed. The schema is
versioned and migrated forward on open (:data:`MIGRATIONS`, run by :mod:`._migrations`).

Several processes may serve one file (``remotevars serve --workers N``, or two servers): once
something subscribes, the store checks ``PRAGMA data_version`` every few tens of milliseconds (a
read of a counter in shared memory, no I/O), which changes when another connection commits; it then
reads the changes from the history and moves its snapshot forward (:mod:`._feed`), so every
process's clients get every write, with an unbroken ETag chain.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from remotevars.server._feed import Listener, SnapshotFeed, read_advance
from remotevars.server._migrations import Migration, check_version, pending_steps
from remotevars.server._migrations import migrate as apply_migrations
from remotevars.server._snapshot import Snapshot, build_snapshot
from remotevars.server._sql import Dialect, SqlReader, SqlStore, SqlTransaction
from remotevars.server._storage import StorageUnavailable

__all__ = ['DEFAULT_POLL_INTERVAL', 'MIGRATIONS', 'SQLiteStore', 'migration_status']

logger = logging.getLogger('remotevars.server')

#: Seconds between two checks for other processes' commits.
DEFAULT_POLL_INTERVAL = 0.02

_DIALECT = Dialect(placeholder='?', returning=False)


def _execute_all(cur: sqlite3.Cursor, script: str) -> None:
    # Statement by statement: executescript() would commit outside our transaction.
    for statement in filter(str.strip, script.split(';')):
        cur.execute(statement)


def _create_first_schema(cur: sqlite3.Cursor) -> None:
    _execute_all(
        cur,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE variables (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
        CREATE TABLE versions (
            variable TEXT NOT NULL,
            version INTEGER NOT NULL,
            serialized_value TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (variable, version)
        );
        CREATE TABLE variable_types (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
        """,
    )
    cur.execute("INSERT INTO meta (key, value) VALUES ('db_id', ?)", (uuid.uuid4().hex[:12],))
    cur.execute("INSERT INTO meta (key, value) VALUES ('revision', '0')")


def _add_history_and_variable_revisions(cur: sqlite3.Cursor) -> None:
    _execute_all(
        cur,
        """
        CREATE TABLE history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            revision INTEGER NOT NULL,
            variable TEXT NOT NULL,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            before TEXT,
            after TEXT,
            warnings TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX history_by_variable ON history (variable, id);
        ALTER TABLE variables ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
        """,
    )
    # Existing variables changed at or before the current revision: that is their precondition ETag.
    cur.execute("UPDATE variables SET revision = (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'revision')")


def _index_history_by_revision(cur: sqlite3.Cursor) -> None:
    # Other processes read the changes after a revision from the history.
    cur.execute('CREATE INDEX history_by_revision ON history (revision)')


#: The SQLite schema, step by step. Version 1 is the first release's schema (which recorded no version).
MIGRATIONS: tuple[Migration[sqlite3.Cursor], ...] = (
    Migration(1, 'variables, versions, variable types, meta (db_id, revision)', _create_first_schema),
    Migration(2, 'history; the revision of each variable (If-Match)', _add_history_and_variable_revisions),
    Migration(3, 'history indexed by revision (processes on one file follow each other)', _index_history_by_revision),
)


def _schema_version(cur: sqlite3.Cursor) -> int:
    if cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
        return 0
    row = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return 1 if row is None else int(row[0])  # the first release wrote no version


def migration_status(path: str | Path, *, apply: bool) -> tuple[int, list[Migration[sqlite3.Cursor]]]:
    """Return the schema version found in the file at ``path`` and the steps applied (``apply``) or pending.

    Raises :class:`~._storage.StorageUnavailable` and :class:`~._migrations.SchemaTooNew`.
    """
    if not apply and not Path(path).exists():
        return 0, list(MIGRATIONS)  # a check creates nothing
    with _storage_errors():
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
        try:
            _enable_wal(conn)
            conn.execute('PRAGMA busy_timeout=30000')
            target = _MigrationTarget(conn)
            found = _schema_version(conn.cursor())
            return found, apply_migrations(target, MIGRATIONS) if apply else pending_steps(target, MIGRATIONS)
        finally:
            conn.close()


class _MigrationTarget:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @contextmanager
    def exclusive(self) -> Iterator[sqlite3.Cursor]:
        cur = self._conn.cursor()
        cur.execute('BEGIN IMMEDIATE')
        try:
            yield cur
        except BaseException:
            if self._conn.in_transaction:
                cur.execute('ROLLBACK')
            raise
        else:
            cur.execute('COMMIT')
        finally:
            cur.close()

    def schema_version(self, cur: sqlite3.Cursor) -> int:
        return _schema_version(cur)

    def set_schema_version(self, cur: sqlite3.Cursor, version: int) -> None:
        cur.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
            ' ON CONFLICT (key) DO UPDATE SET value = excluded.value',
            (str(version),),
        )


@contextmanager
def _storage_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as exc:
        # Locked for longer than the busy timeout, disk full, read-only file: retryable, not a bug.
        raise StorageUnavailable(str(exc)) from exc


def _enable_wal(conn: sqlite3.Connection, *, attempts: int = 200, pause: float = 0.05) -> None:
    """Switch ``conn``'s database to WAL mode, retrying while another process opens the same file.

    SQLite answers "database is locked" to this pragma without calling the busy handler while another
    connection is setting up or recovering the WAL, so several servers starting at once retry here.
    """
    for attempt in range(attempts):
        try:
            conn.execute('PRAGMA journal_mode=WAL')
            return
        except sqlite3.OperationalError as exc:
            if 'locked' not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(pause)


class SQLiteStore(SqlStore):
    """The variables database at ``path`` (``':memory:'`` for a throwaway one); migrated forward on open.

    With ``migrate=False`` the schema must already be current (:class:`~._migrations.SchemaOutdated`
    otherwise). ``poll_interval``: seconds between checks for other processes' commits, once something
    subscribed. Raises :class:`~._storage.StorageUnavailable` when the file cannot be opened or migrated,
    and :class:`~._migrations.SchemaTooNew` for a database written by a newer remotevars.
    """

    def __init__(self, path: str | Path, *, migrate: bool = True, poll_interval: float = DEFAULT_POLL_INTERVAL) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._poll_interval = poll_interval
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._data_version: int | None = None  # None: not checked yet (the first check reads the revision)
        with _storage_errors():
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30.0)
            try:
                _enable_wal(self._conn)
                self._conn.execute('PRAGMA synchronous=FULL')
                self._conn.execute('PRAGMA busy_timeout=30000')
                target = _MigrationTarget(self._conn)
                #: The migration steps this open applied (empty when the schema was current).
                self.migrated = apply_migrations(target, MIGRATIONS) if migrate else []
                check_version(_schema_version(self._conn.cursor()), MIGRATIONS)  # with migrate=False
                self._feed = SnapshotFeed(self._read_snapshot())
            except BaseException:
                self._conn.close()
                raise

    def close(self) -> None:
        """Stop following other processes and close the database connection."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5.0)
        with self._lock:
            self._conn.close()

    def _read_snapshot(self) -> Snapshot:
        with self._read() as reader:
            db_id, revision = reader.meta()
            return build_snapshot(reader, db_id, revision)

    @contextmanager
    def _read(self) -> Iterator[SqlReader]:
        """Yield a reader inside one read transaction (every statement sees the same revision); hold the lock."""
        cur = self._conn.cursor()
        try:
            cur.execute('BEGIN')
            try:
                yield SqlReader(cur, _DIALECT)
            finally:
                cur.execute('COMMIT')
        finally:
            cur.close()

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """Yield a write transaction (``BEGIN IMMEDIATE``); commit and move the snapshot when the block ends."""
        with self._lock, _storage_errors():
            cur = self._conn.cursor()
            try:
                # BEGIN IMMEDIATE takes the write lock up front, so concurrent writers from other processes
                # queue (busy_timeout) instead of failing half-way; any exception rolls everything back.
                cur.execute('BEGIN IMMEDIATE')
                try:
                    db_id, revision = SqlReader(cur, _DIALECT).meta()
                    tx = SqlTransaction(cur, _DIALECT, db_id, revision)
                    yield tx
                    advance = tx.prepare_commit(self._feed.snapshot)
                    cur.execute('COMMIT')
                except BaseException:
                    if self._conn.in_transaction:
                        cur.execute('ROLLBACK')
                    raise
            finally:
                cur.close()
            tx.settle(self._feed, advance)

    # -- following other processes ------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with every move of the snapshot, and start following other processes' commits."""
        self._feed.subscribe(listener)
        with self._lock:
            if self._watcher is not None or self._stop.is_set():
                return
            self._watcher = threading.Thread(target=self._watch, name='remotevars-sqlite-follow', daemon=True)
            self._watcher.start()

    def _current_data_version(self) -> int:
        return int(self._conn.execute('PRAGMA data_version').fetchone()[0])

    def catch_up(self) -> None:
        """Move the snapshot to the database's revision if another connection committed since the last check.

        Cheap when none did (one pragma). Raises :class:`~._storage.StorageUnavailable`.
        """
        with self._lock, _storage_errors():
            version = self._current_data_version()
            if version == self._data_version:
                return
            self._data_version = version
            with self._read() as reader:
                _, revision = reader.meta()
                advance = read_advance(reader, self._feed.snapshot, revision)
            self._feed.install(advance)

    def _watch(self) -> None:
        failing = False
        while not self._stop.wait(self._poll_interval):
            try:
                self.catch_up()
            except Exception as exc:  # keep following: the next check may succeed
                if not failing:
                    logger.warning('cannot read the commits of other processes on %s: %s', self.path, exc)
                failing = True
            else:
                if failing:
                    logger.warning('following the commits of other processes on %s again', self.path)
                failing = False

    def check_ready(self) -> None:
        """Return if the database answers and its schema is the one this code writes.

        Raises :class:`~._storage.StorageUnavailable` saying why not.
        """
        if not self._lock.acquire(timeout=5.0):
            raise StorageUnavailable('the database is busy (a write has been running for 5 s)')
        try:
            with _storage_errors():
                cur = self._conn.cursor()
                try:
                    version = _schema_version(cur)
                finally:
                    cur.close()
            check_version(version, MIGRATIONS)
        except StorageUnavailable:
            raise
        except Exception as exc:  # the schema moved on (a newer remotevars migrated it): not ready
            raise StorageUnavailable(str(exc)) from exc
        finally:
            self._lock.release()
        if self._watcher is not None and not self._watcher.is_alive():
            raise StorageUnavailable('no longer following the commits of other processes')

    @contextmanager
    def _reading(self) -> Iterator[SqlReader]:
        with self._lock, _storage_errors(), self._read() as reader:
            yield reader
