"""The statements both SQL backends run: reads and writes of variables, versions, history and types.

SQLite and PostgreSQL store the same tables (``meta``, ``variables``, ``versions``, ``history``,
``variable_types``) and run the same statements through a DB-API cursor; a :class:`Dialect` says how
the driver marks parameters and how an insert returns its id. Documents and values are stored as
JSON *text* on both, so a variable's labels keep their order and both backends serve the same bytes.
That text is strict JSON (no NaN or Infinity, no unpaired surrogates), encoded inside the write's
transaction before it commits: a value without such an encoding refuses the write (422) and changes
nothing. Connections, locking, migrations and noticing other processes' commits belong to the backends
(:mod:`._sqlite`, :mod:`._postgres`).
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from remotevars.server._feed import Advance, SnapshotFeed, read_advance
from remotevars.server._json import StrictJsonError, dumps_strict, loads_stored
from remotevars.server._snapshot import Snapshot
from remotevars.server._storage import Change, Commit, HistoryEntry, NewHistoryEntry, VariableRecord, etag
from remotevars.server._wire import WriteRejected

__all__ = ['HISTORY_COLUMNS', 'Cursor', 'Dialect', 'SqlReader', 'SqlStore', 'SqlTransaction', 'history_entry']

HISTORY_COLUMNS = 'id, revision, variable, at, actor, action, before, after, warnings'


class Cursor(Protocol):
    """What the statements need of a DB-API cursor (``sqlite3.Cursor`` and ``psycopg.Cursor`` both fit)."""

    def execute(self, query: Any, params: Any = ..., /) -> Any:
        """Run one statement."""
        ...

    def fetchone(self) -> Any:
        """Return the next row, or None."""
        ...

    def fetchall(self) -> list[Any]:
        """Return the remaining rows."""
        ...


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one driver writes parameters (``?`` or ``%s``) and gets the id of an inserted history row."""

    placeholder: str
    #: Whether ``INSERT ... RETURNING id`` is used (else the cursor's ``lastrowid``).
    returning: bool

    def sql(self, statement: str) -> str:
        """Return ``statement`` (written with ``?`` parameters) in this driver's parameter style."""
        return _translate(statement, self.placeholder)


@functools.cache
def _translate(statement: str, placeholder: str) -> str:
    return statement if placeholder == '?' else statement.replace('?', placeholder)


def _stored(value: Any, owner: str) -> str:
    """Return ``value`` as strict JSON text for a column; raises :class:`WriteRejected` (422) naming ``owner``."""
    try:
        return dumps_strict(value).decode()
    except StrictJsonError as exc:
        raise WriteRejected(f'{owner}: a value has no strict JSON encoding ({exc})') from None


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


def history_entry(row: tuple[Any, ...]) -> HistoryEntry:
    """Return the :class:`HistoryEntry` of a row of :data:`HISTORY_COLUMNS`."""
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


class SqlReader:
    """Reads through one cursor (inside a transaction: a consistent view); see :class:`~._storage.VariableReader`."""

    def __init__(self, cur: Cursor, dialect: Dialect) -> None:
        self._cur = cur
        self._dialect = dialect

    def _exec(self, statement: str, params: tuple[Any, ...] = ()) -> Any:
        return self._cur.execute(self._dialect.sql(statement), params)

    def _one(self, statement: str, params: tuple[Any, ...] = ()) -> Any:
        self._exec(statement, params)
        return self._cur.fetchone()

    def _all(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        self._cur.execute(self._dialect.sql(statement), params)
        return self._cur.fetchall()

    def meta(self) -> tuple[str, int]:
        """Return the database id and its current revision."""
        meta = dict(self._all("SELECT key, value FROM meta WHERE key IN ('db_id', 'revision')"))
        return str(meta['db_id']), int(meta['revision'])

    def variable_names(self) -> list[str]:
        return [name for (name,) in self._all('SELECT name FROM variables')]

    def variable(self, name: str) -> VariableRecord | None:
        row = self._one('SELECT doc, revision FROM variables WHERE name = ?', (name,))
        return None if row is None else VariableRecord(name, loads_stored(row[0]), int(row[1]))

    def latest_version(self, name: str) -> tuple[int, str] | None:
        row = self._one(
            'SELECT version, serialized_value FROM versions WHERE variable = ? ORDER BY version DESC LIMIT 1', (name,)
        )
        return None if row is None else (int(row[0]), str(row[1]))

    def version_value(self, name: str, version: int) -> str | None:
        row = self._one('SELECT serialized_value FROM versions WHERE variable = ? AND version = ?', (name, version))
        return None if row is None else str(row[0])

    def changes_between(self, after: int, up_to: int) -> list[tuple[int, str]]:
        """Return ``(revision, variable)`` of every change committed after revision ``after`` up to ``up_to``.

        In commit order (the history is the log of changes: every change records one entry).
        """
        rows = self._all(
            'SELECT revision, variable FROM history WHERE revision > ? AND revision <= ? ORDER BY id', (after, up_to)
        )
        return [(int(revision), str(name)) for revision, name in rows]

    def versions(self, name: str) -> list[dict[str, Any]] | None:
        """Return every version of ``name`` (oldest first), or None when the variable does not exist."""
        if self._one('SELECT 1 FROM variables WHERE name = ?', (name,)) is None:
            return None
        rows = self._all(
            'SELECT version, serialized_value, created_at FROM versions WHERE variable = ? ORDER BY version', (name,)
        )
        return [{'version': int(v), 'serialized_value': s, 'created_at': c} for v, s, c in rows]

    def history(self, name: str, limit: int | None) -> list[HistoryEntry]:
        """Return the history of ``name``, newest first (at most ``limit`` entries)."""
        statement = f'SELECT {HISTORY_COLUMNS} FROM history WHERE variable = ? ORDER BY id DESC'
        if limit is None:
            return [history_entry(row) for row in self._all(statement, (name,))]
        return [history_entry(row) for row in self._all(statement + ' LIMIT ?', (name, limit))]

    def history_entry(self, entry_id: int) -> HistoryEntry | None:
        """Return history entry ``entry_id``, or None."""
        row = self._one(f'SELECT {HISTORY_COLUMNS} FROM history WHERE id = ?', (entry_id,))
        return None if row is None else history_entry(row)

    def variable_types(self) -> list[dict[str, Any]]:
        """Return every variable type, by name."""
        # Sorted here: ORDER BY follows the database's collation, which differs between backends.
        rows = self._all('SELECT name, doc FROM variable_types')
        return [loads_stored(doc) for _, doc in sorted(rows)]


class SqlTransaction(SqlReader):
    """One write transaction (see :class:`~._storage.Transaction`); the backend begins, commits and announces it."""

    def __init__(self, cur: Cursor, dialect: Dialect, db_id: str, previous_revision: int) -> None:
        super().__init__(cur, dialect)
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

    def prepare_commit(self, served: Snapshot) -> Advance | None:
        """Return the advance from ``served`` to this write (None: it changed nothing); call just before COMMIT.

        A write that changed something records its revision as the database's, and the advance re-reads
        what it changed, and what other processes committed since ``served``, inside the transaction.
        """
        if not self.changes:
            return None
        self._exec("UPDATE meta SET value = ? WHERE key = 'revision'", (str(self.revision),))
        return read_advance(self, served, self.revision)

    def settle(self, feed: SnapshotFeed, advance: Advance | None) -> None:
        """After COMMIT: serve ``advance`` (of :meth:`prepare_commit`) through ``feed``; record the :class:`Commit`."""
        previous_etag = etag(self._db_id, self.previous_revision)
        if advance is None:
            self._commit = Commit((), previous_etag, previous_etag, {})
            return
        feed.install(advance)
        encoded = advance.snapshot.encoded
        variables = {c.name: encoded[c.name] for c in self.changes if c.name in encoded}
        self._commit = Commit(tuple(self.changes), previous_etag, advance.snapshot.etag, variables)

    def variable(self, name: str) -> VariableRecord | None:
        if name in self._saved:
            return self._saved[name]
        return super().variable(name)

    def save_variable(self, record: VariableRecord) -> None:
        self._exec(
            'INSERT INTO variables (name, doc, revision) VALUES (?, ?, ?)'
            ' ON CONFLICT (name) DO UPDATE SET doc = excluded.doc, revision = excluded.revision',
            (record.name, _stored(record.doc, f'Variable {record.name!r}'), record.revision),
        )
        self._saved[record.name] = record

    def delete_variable(self, name: str) -> None:
        self._saved[name] = None
        self._exec('DELETE FROM variables WHERE name = ?', (name,))
        self._exec('DELETE FROM versions WHERE variable = ?', (name,))

    def add_version(self, name: str, serialized_value: str, created_at: str) -> int:
        (highest,) = self._one('SELECT COALESCE(MAX(version), 0) FROM versions WHERE variable = ?', (name,))
        number = int(highest) + 1
        try:
            serialized_value.encode()  # a raw unpaired surrogate: no strict JSON text holds one
        except UnicodeEncodeError as exc:
            raise WriteRejected(f'Variable {name!r}: a new version has no strict JSON encoding ({exc})') from None
        self._exec(
            'INSERT INTO versions (variable, version, serialized_value, created_at) VALUES (?, ?, ?, ?)',
            (name, number, serialized_value, created_at),
        )
        return number

    def add_history(self, entry: NewHistoryEntry) -> int:
        statement = (
            'INSERT INTO history (revision, variable, at, actor, action, before, after, warnings)'
            ' VALUES (?, ?, ?, ?, ?, ?, ?, ?)'
        )
        owner = f'Variable {entry.variable!r}'
        params = (
            self.revision,
            entry.variable,
            entry.at,
            entry.actor,
            entry.action,
            _stored_before(entry),
            None if entry.after is None else _stored(entry.after, owner),
            _stored(entry.warnings, owner),
        )
        if self._dialect.returning:
            return int(self._one(statement + ' RETURNING id', params)[0])
        return int(self._exec(statement, params).lastrowid or 0)

    def save_variable_type(self, variable_type: dict[str, Any]) -> None:
        self._exec(
            'INSERT INTO variable_types (name, doc) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET doc = excluded.doc',
            (variable_type['name'], _stored(variable_type, f'Variable type {variable_type["name"]!r}')),
        )

    def changed(self, change: Change) -> None:
        self.changes.append(change)


class SqlStore:
    """What both SQL backends' stores share: the snapshot feed and the reads outside the snapshot.

    A backend sets ``_feed`` when it opens and supplies :meth:`_reading`.
    """

    _feed: SnapshotFeed

    def _reading(self) -> AbstractContextManager[SqlReader]:
        """Return a context manager yielding a reader of one consistent state (errors as StorageUnavailable)."""
        raise NotImplementedError

    @property
    def snapshot(self) -> Snapshot:
        """Return the last committed state this process knows (an immutable object; no database access)."""
        return self._feed.snapshot

    def versions(self, name: str) -> list[dict[str, Any]] | None:
        """Return every version of ``name`` (oldest first), or None when the variable does not exist."""
        with self._reading() as reader:
            return reader.versions(name)

    def history(self, name: str, limit: int | None = None) -> list[HistoryEntry]:
        """Return the history of ``name``, newest first (at most ``limit`` entries)."""
        with self._reading() as reader:
            return reader.history(name, limit)

    def history_entry(self, entry_id: int) -> HistoryEntry | None:
        """Return history entry ``entry_id``, or None."""
        with self._reading() as reader:
            return reader.history_entry(entry_id)

    def variable_types(self) -> list[dict[str, Any]]:
        """Return every variable type, by name."""
        with self._reading() as reader:
            return reader.variable_types()
