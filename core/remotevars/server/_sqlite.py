"""The SQLite backend of the server's :class:`~._storage.Store` (stdlib ``sqlite3``, WAL mode).

One connection, used under a lock. Every write is one ``BEGIN IMMEDIATE`` transaction, so a failed
write changes nothing and two writers (threads or processes) cannot interleave; the new snapshot is
read inside the same transaction, so it is exactly what was committed. Everything is stored as strict
JSON (no NaN/Infinity, no unpaired surrogates), encoded inside the transaction before it commits: a
value without such an encoding refuses the write (422) and changes nothing. The schema is versioned and
migrated forward on open (:data:`MIGRATIONS`, run by :mod:`._migrations`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from remotevars.server._json import StrictJsonError, dumps_strict, loads_stored
from remotevars.server._migrations import Migration, migrate
from remotevars.server._snapshot import Snapshot, build_snapshot
from remotevars.server._storage import (
    Change,
    Commit,
    HistoryEntry,
    NewHistoryEntry,
    StorageUnavailable,
    VariableRecord,
    etag,
)
from remotevars.server._wire import WriteRejected

__all__ = ['MIGRATIONS', 'SQLiteStore']


def _stored(value: Any, owner: str) -> str:
    """Return ``value`` as strict JSON text for a column; raises :class:`WriteRejected` (422) naming ``owner``."""
    try:
        return dumps_strict(value).decode()
    except StrictJsonError as exc:
        raise WriteRejected(f'{owner}: a value has no strict JSON encoding ({exc})') from None


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


#: The SQLite schema, step by step. Version 1 is the first release's schema (which recorded no version).
MIGRATIONS: tuple[Migration[sqlite3.Cursor], ...] = (
    Migration(1, 'variables, versions, variable types, meta (db_id, revision)', _create_first_schema),
    Migration(2, 'history; the revision of each variable (If-Match)', _add_history_and_variable_revisions),
)


def _stored_before(entry: NewHistoryEntry) -> str | None:
    # The state before a write was read from the database, where an older release may have stored a
    # value without a strict encoding (attack: Infinity in a schema). It is recorded as unknown (null)
    # rather than refusing the very write that repairs or deletes the variable.
    if entry.before is None:
        return None
    try:
        return dumps_strict(entry.before).decode()
    except StrictJsonError:
        return None


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
        if cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
            return 0
        row = cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return 1 if row is None else int(row[0])  # the first release wrote no version

    def set_schema_version(self, cur: sqlite3.Cursor, version: int) -> None:
        cur.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
            ' ON CONFLICT (key) DO UPDATE SET value = excluded.value',
            (str(version),),
        )


class _Reader:
    """Reads of the variables through one cursor (inside a transaction: a consistent view)."""

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur

    def variable_names(self) -> list[str]:
        return [name for (name,) in self._cur.execute('SELECT name FROM variables').fetchall()]

    def variable(self, name: str) -> VariableRecord | None:
        row = self._cur.execute('SELECT doc, revision FROM variables WHERE name = ?', (name,)).fetchone()
        return None if row is None else VariableRecord(name, loads_stored(row[0]), int(row[1]))

    def latest_version(self, name: str) -> tuple[int, str] | None:
        row = self._cur.execute(
            'SELECT version, serialized_value FROM versions WHERE variable = ? ORDER BY version DESC LIMIT 1', (name,)
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def version_value(self, name: str, version: int) -> str | None:
        row = self._cur.execute(
            'SELECT serialized_value FROM versions WHERE variable = ? AND version = ?', (name, version)
        ).fetchone()
        return None if row is None else str(row[0])


class _Transaction(_Reader):
    """One ``BEGIN IMMEDIATE`` transaction (see :class:`~._storage.Transaction`)."""

    def __init__(self, cur: sqlite3.Cursor, db_id: str, previous_revision: int) -> None:
        super().__init__(cur)
        self._db_id = db_id
        self.previous_revision = previous_revision
        self.changes: list[Change] = []
        self._commit: Commit | None = None
        # What this transaction saved (None: deleted), so the snapshot built inside it reuses the
        # documents rather than decoding them again (~5 ms holding the GIL for a 2 MiB one).
        self._saved: dict[str, VariableRecord | None] = {}

    @property
    def db_id(self) -> str:
        return self._db_id

    @property
    def revision(self) -> int:
        return self.previous_revision + 1

    @property
    def committed(self) -> Commit:
        if self._commit is None:
            raise RuntimeError('the transaction has not committed')
        return self._commit

    def variable(self, name: str) -> VariableRecord | None:
        if name in self._saved:
            return self._saved[name]
        return super().variable(name)

    def save_variable(self, record: VariableRecord) -> None:
        self._saved[record.name] = record
        self._cur.execute(
            'INSERT INTO variables (name, doc, revision) VALUES (?, ?, ?)'
            ' ON CONFLICT (name) DO UPDATE SET doc = excluded.doc, revision = excluded.revision',
            (record.name, _stored(record.doc, f'Variable {record.name!r}'), record.revision),
        )

    def delete_variable(self, name: str) -> None:
        self._saved[name] = None
        self._cur.execute('DELETE FROM variables WHERE name = ?', (name,))
        self._cur.execute('DELETE FROM versions WHERE variable = ?', (name,))

    def add_version(self, name: str, serialized_value: str, created_at: str) -> int:
        (highest,) = self._cur.execute(
            'SELECT COALESCE(MAX(version), 0) FROM versions WHERE variable = ?', (name,)
        ).fetchone()
        number = int(highest) + 1
        try:
            serialized_value.encode()  # a raw unpaired surrogate: no strict JSON text holds one
        except UnicodeEncodeError as exc:
            raise WriteRejected(f'Variable {name!r}: a new version has no strict JSON encoding ({exc})') from None
        self._cur.execute(
            'INSERT INTO versions (variable, version, serialized_value, created_at) VALUES (?, ?, ?, ?)',
            (name, number, serialized_value, created_at),
        )
        return number

    def add_history(self, entry: NewHistoryEntry) -> int:
        owner = f'Variable {entry.variable!r}'
        self._cur.execute(
            'INSERT INTO history (revision, variable, at, actor, action, before, after, warnings)'
            ' VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            (
                self.revision,
                entry.variable,
                entry.at,
                entry.actor,
                entry.action,
                _stored_before(entry),
                None if entry.after is None else _stored(entry.after, owner),
                _stored(entry.warnings, owner),
            ),
        )
        return int(self._cur.lastrowid or 0)

    def history_entry(self, entry_id: int) -> HistoryEntry | None:
        row = self._cur.execute(f'SELECT {_HISTORY_COLUMNS} FROM history WHERE id = ?', (entry_id,)).fetchone()
        return None if row is None else _history_entry(row)

    def save_variable_type(self, variable_type: dict[str, Any]) -> None:
        self._cur.execute(
            'INSERT INTO variable_types (name, doc) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET doc = excluded.doc',
            (variable_type['name'], _stored(variable_type, f'Variable type {variable_type["name"]!r}')),
        )

    def changed(self, change: Change) -> None:
        self.changes.append(change)

    def set_committed(self, commit: Commit) -> None:
        self._commit = commit


_HISTORY_COLUMNS = 'id, revision, variable, at, actor, action, before, after, warnings'


def _history_entry(row: tuple[Any, ...]) -> HistoryEntry:
    entry_id, revision, variable, at, actor, action, before, after, warnings = row
    return HistoryEntry(
        id=int(entry_id),
        revision=int(revision),
        variable=variable,
        at=at,
        actor=actor,
        action=action,
        before=None if before is None else loads_stored(before),
        after=None if after is None else loads_stored(after),
        warnings=loads_stored(warnings),
    )


@contextmanager
def _storage_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as exc:
        # Locked for longer than the busy timeout, disk full, read-only file: retryable, not a bug.
        raise StorageUnavailable(str(exc)) from exc


def _meta(cur: sqlite3.Cursor) -> tuple[str, int]:
    meta = dict(cur.execute("SELECT key, value FROM meta WHERE key IN ('db_id', 'revision')").fetchall())
    return meta['db_id'], int(meta['revision'])


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


class SQLiteStore:
    """The variables database at ``path`` (``':memory:'`` for a throwaway one); migrated forward on open.

    Raises :class:`~._storage.StorageUnavailable` when the file cannot be opened or migrated, and
    :class:`~._migrations.SchemaTooNew` for a database written by a newer remotevars.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        with _storage_errors():
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30.0)
            try:
                _enable_wal(self._conn)
                self._conn.execute('PRAGMA synchronous=FULL')
                self._conn.execute('PRAGMA busy_timeout=30000')
                #: The migration steps this open applied (empty when the schema was current).
                self.migrated = migrate(_MigrationTarget(self._conn), MIGRATIONS)
                self._snapshot = self._read_snapshot()
            except BaseException:
                self._conn.close()
                raise

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    @property
    def snapshot(self) -> Snapshot:
        """Return the last committed state (an immutable object; no database access)."""
        return self._snapshot

    def _read_snapshot(self) -> Snapshot:
        cur = self._conn.cursor()
        try:
            cur.execute('BEGIN')  # one read transaction: every variable as of the same revision
            try:
                db_id, revision = _meta(cur)
                return build_snapshot(_Reader(cur), db_id, revision)
            finally:
                cur.execute('COMMIT')
        finally:
            cur.close()

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        """Yield a write transaction (``BEGIN IMMEDIATE``); commit and refresh the snapshot when the block ends."""
        with self._lock, _storage_errors():
            cur = self._conn.cursor()
            try:
                # BEGIN IMMEDIATE takes the write lock up front, so concurrent writers from other processes
                # queue (busy_timeout) instead of failing half-way; any exception rolls everything back.
                cur.execute('BEGIN IMMEDIATE')
                try:
                    db_id, revision = _meta(cur)
                    tx = _Transaction(cur, db_id, revision)
                    yield tx
                    snapshot = self._snapshot
                    if tx.changes:
                        cur.execute("UPDATE meta SET value = ? WHERE key = 'revision'", (str(tx.revision),))
                        # Another process wrote the file since our last commit: reload everything.
                        stale = etag(db_id, revision) != snapshot.etag
                        names = None if stale else [c.name for c in tx.changes]
                        snapshot = build_snapshot(tx, db_id, tx.revision, snapshot, names)
                    cur.execute('COMMIT')
                except BaseException:
                    if self._conn.in_transaction:
                        cur.execute('ROLLBACK')
                    raise
            finally:
                cur.close()
            previous_etag = etag(db_id, revision)
            if tx.changes:
                self._snapshot = snapshot
                variables = {c.name: snapshot.encoded[c.name] for c in tx.changes if c.name in snapshot.encoded}
                tx.set_committed(Commit(tuple(tx.changes), previous_etag, snapshot.etag, variables))
            else:
                tx.set_committed(Commit((), previous_etag, previous_etag, {}))

    # -- reads outside the snapshot -------------------------------------------------------------

    def versions(self, name: str) -> list[dict[str, Any]] | None:
        """Return every version of ``name`` (oldest first), or None when the variable does not exist."""
        with self._lock, _storage_errors():
            cur = self._conn.cursor()
            try:
                cur.execute('BEGIN')
                try:
                    if cur.execute('SELECT 1 FROM variables WHERE name = ?', (name,)).fetchone() is None:
                        return None
                    rows = cur.execute(
                        'SELECT version, serialized_value, created_at FROM versions'
                        ' WHERE variable = ? ORDER BY version',
                        (name,),
                    ).fetchall()
                finally:
                    cur.execute('COMMIT')
            finally:
                cur.close()
        return [{'version': v, 'serialized_value': s, 'created_at': c} for v, s, c in rows]

    def history(self, name: str, limit: int | None = None) -> list[HistoryEntry]:
        """Return the history of ``name``, newest first (at most ``limit`` entries)."""
        with self._lock, _storage_errors():
            rows = self._conn.execute(
                f'SELECT {_HISTORY_COLUMNS} FROM history WHERE variable = ? ORDER BY id DESC LIMIT ?',
                (name, -1 if limit is None else limit),
            ).fetchall()
        return [_history_entry(row) for row in rows]

    def variable_types(self) -> list[dict[str, Any]]:
        """Return every variable type, by name."""
        with self._lock, _storage_errors():
            rows = self._conn.execute('SELECT doc FROM variable_types ORDER BY name').fetchall()
        return [loads_stored(doc) for (doc,) in rows]
