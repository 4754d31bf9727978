"""SQLite storage of the server: variables, their immutable numbered versions, labels, and types.

One connection, writes serialised by a lock and wrapped in ``BEGIN IMMEDIATE`` transactions, so a
failed write changes nothing and two writers (threads or processes) cannot interleave. After each
commit the store rebuilds an in-memory snapshot (the read body and its ETag), so reads never touch
the database and never wait for a writer. Each write returns a :class:`Commit`: its changes, the ETags
before and after it, and the read shapes of the variables it touched (what the update stream sends).

Everything is encoded as strict JSON (no NaN/Infinity, no unpaired surrogates) inside the write's
transaction, before it commits: a value that cannot be encoded so refuses the write and changes nothing.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from remotevars.server._wire import LabelTarget, VariableWrite, WriteRejected

__all__ = ['Change', 'Commit', 'Snapshot', 'Store']

logger = logging.getLogger('remotevars.server')

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS variables (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    variable TEXT NOT NULL,
    version INTEGER NOT NULL,
    serialized_value TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (variable, version)
);
CREATE TABLE IF NOT EXISTS variable_types (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
"""

#: The fields of a variable stored as-is in its ``doc`` column, in read-shape order (labels are separate).
_DOC_FIELDS = ('description', 'rollout', 'overrides', 'json_schema', 'type_name', 'aliases', 'example')


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change to a variable, as announced on the SSE stream."""

    event: str  # 'created' | 'updated' | 'deleted'
    name: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The committed state readers see: the ETag, each variable's read shape, and the encoded body."""

    etag: str
    variables: dict[str, dict[str, Any]]
    body: bytes
    #: Each variable's encoded read shape, so a write re-encodes only the variables it touched.
    encoded: dict[str, bytes]


@dataclass(frozen=True, slots=True)
class Commit:
    """A committed write: its changes, the ETags of ``GET /v1/variables/`` before and after, and what changed.

    ``previous_etag`` is the revision the transaction started from (read inside it), so a client holding
    that ETag has seen everything but this write. ``variables`` holds the encoded read shape of every
    created or updated variable (deleted ones are absent).
    """

    changes: tuple[Change, ...]
    previous_etag: str
    etag: str
    variables: dict[str, bytes]


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Store:
    """The variables database at ``path`` (``':memory:'`` for a throwaway one)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], str] = _now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30.0)
        self._conn.execute('PRAGMA journal_mode=WAL')
        self._conn.execute('PRAGMA synchronous=FULL')
        self._conn.execute('PRAGMA busy_timeout=30000')
        with self._transaction() as cur:
            # Statement by statement: executescript() would commit outside our transaction.
            for statement in filter(str.strip, _SCHEMA.split(';')):
                cur.execute(statement)
            cur.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('db_id', ?)", (uuid.uuid4().hex[:12],))
            cur.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', '0')")
        self._snapshot = self._load_snapshot()

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    @property
    def snapshot(self) -> Snapshot:
        """Return the last committed state (an immutable object; no database access)."""
        return self._snapshot

    # -- transactions -------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        # BEGIN IMMEDIATE takes the write lock up front, so concurrent writers from other processes
        # queue (busy_timeout) instead of failing half-way; any exception rolls everything back.
        cur = self._conn.cursor()
        cur.execute('BEGIN IMMEDIATE')
        try:
            yield cur
        except BaseException:
            cur.execute('ROLLBACK')
            raise
        else:
            cur.execute('COMMIT')
        finally:
            cur.close()

    def _write(self, apply: Callable[[sqlite3.Cursor], list[Change]]) -> Commit:
        with self._lock:
            with self._transaction() as cur:
                previous_etag = _etag(dict(cur.execute('SELECT key, value FROM meta').fetchall()))
                changes = apply(cur)
                if changes:  # a write that changes no variable (a type upsert) keeps the ETag of the body
                    cur.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revision'")
            if not changes:
                return Commit((), previous_etag, previous_etag, {})
            # Another process wrote the file since our last commit: reload everything, not just our changes.
            stale = previous_etag != self._snapshot.etag
            self._snapshot = snapshot = self._load_snapshot(None if stale else (c.name for c in changes))
        variables = {c.name: snapshot.encoded[c.name] for c in changes if c.name in snapshot.encoded}
        return Commit(tuple(changes), previous_etag, snapshot.etag, variables)

    # -- reads ------------------------------------------------------------------------------------

    def _load_snapshot(self, changed: Iterable[str] | None = None) -> Snapshot:
        # Only the variables a write touched are re-read (None: all of them, at start-up); each reads
        # just the versions its labels and latest_version need, so long histories do not slow writes.
        cur = self._conn.cursor()
        try:
            meta = dict(cur.execute('SELECT key, value FROM meta').fetchall())
            if changed is None:
                variables: dict[str, dict[str, Any]] = {}
                encoded: dict[str, bytes] = {}
                names: Iterable[str] = [n for (n,) in cur.execute('SELECT name FROM variables').fetchall()]
            else:
                variables = dict(self._snapshot.variables)
                encoded = dict(self._snapshot.encoded)
                names = set(changed)
            for name in names:
                shape = _load_variable(cur, name)
                served = None if shape is None else _encode_served(name, shape)
                if shape is None or served is None:
                    variables.pop(name, None)
                    encoded.pop(name, None)
                else:
                    variables[name] = shape
                    encoded[name] = served
        finally:
            cur.close()
        order = sorted(variables)
        body = b'{"variables":{' + b','.join(_encode(name) + b':' + encoded[name] for name in order) + b'}}'
        return Snapshot(etag=_etag(meta), variables={n: variables[n] for n in order}, body=body, encoded=encoded)

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Return the version history of ``name`` (oldest first); raises :class:`WriteRejected` (404)."""
        with self._lock:
            cur = self._conn.cursor()
            try:
                _require(cur, name)
                rows = cur.execute(
                    'SELECT version, serialized_value, created_at FROM versions WHERE variable = ? ORDER BY version',
                    (name,),
                ).fetchall()
            finally:
                cur.close()
        return [{'version': v, 'serialized_value': s, 'created_at': c} for v, s, c in rows]

    def variable_types(self) -> list[dict[str, Any]]:
        """Return every variable type, by name."""
        with self._lock:
            rows = self._conn.execute('SELECT doc FROM variable_types ORDER BY name').fetchall()
        return [json.loads(doc) for (doc,) in rows]

    # -- writes -----------------------------------------------------------------------------------

    def create(self, write: VariableWrite) -> Commit:
        """Create a variable; return the :class:`Commit`. Raises :class:`WriteRejected` (409) if it exists."""

        def apply(cur: sqlite3.Cursor) -> list[Change]:
            if _exists(cur, write.name):
                raise WriteRejected(f'Variable {write.name!r} already exists', 409)
            self._put(cur, write, created=True)
            return [Change('created', write.name)]

        return self._write(apply)

    def replace(self, write: VariableWrite) -> Commit:
        """Replace a variable; return the :class:`Commit`. Raises :class:`WriteRejected` (404) if it does not exist."""

        def apply(cur: sqlite3.Cursor) -> list[Change]:
            _require(cur, write.name)
            self._put(cur, write, created=False)
            return [Change('updated', write.name)]

        return self._write(apply)

    def delete(self, name: str) -> Commit:
        """Delete a variable and its versions; return the :class:`Commit`. Raises :class:`WriteRejected` (404)."""

        def apply(cur: sqlite3.Cursor) -> list[Change]:
            _require(cur, name)
            _delete(cur, name)
            return [Change('deleted', name)]

        return self._write(apply)

    def bulk(self, upserts: list[VariableWrite], deletes: list[str]) -> Commit:
        """Apply upserts then deletes in one transaction; return the :class:`Commit`.

        Raises :class:`WriteRejected` (404) for a missing delete.
        """

        def apply(cur: sqlite3.Cursor) -> list[Change]:
            changes = []
            for write in upserts:
                created = not _exists(cur, write.name)
                self._put(cur, write, created=created)
                changes.append(Change('created' if created else 'updated', write.name))
            for name in deletes:
                if not _exists(cur, name):
                    raise WriteRejected(f'delete: Variable {name!r} not found', 404)
                _delete(cur, name)
                changes.append(Change('deleted', name))
            return changes

        return self._write(apply)

    def add_version(self, name: str, serialized_value: str) -> tuple[int, Commit]:
        """Create a new version of ``name``; return its number and the :class:`Commit`. Raises WriteRejected (404)."""
        number = 0

        def apply(cur: sqlite3.Cursor) -> list[Change]:
            nonlocal number
            _require(cur, name)
            number = self._new_version(cur, name, serialized_value)
            cur.execute(
                "UPDATE variables SET doc = json_set(doc, '$.updated_at', ?) WHERE name = ?", (self._clock(), name)
            )
            return [Change('updated', name)]

        commit = self._write(apply)
        return number, commit

    def upsert_variable_type(self, variable_type: dict[str, Any]) -> None:
        """Create or replace the variable type named ``variable_type['name']`` (the ETag of the variables stays)."""

        def apply(cur: sqlite3.Cursor) -> list[Change]:
            cur.execute(
                'INSERT INTO variable_types (name, doc) VALUES (?, ?)'
                ' ON CONFLICT (name) DO UPDATE SET doc = excluded.doc',
                (variable_type['name'], _encode_stored(variable_type)),
            )
            return []

        self._write(apply)

    # -- helpers ----------------------------------------------------------------------------------

    def _new_version(self, cur: sqlite3.Cursor, name: str, serialized_value: str) -> int:
        (highest,) = cur.execute(
            'SELECT COALESCE(MAX(version), 0) FROM versions WHERE variable = ?', (name,)
        ).fetchone()
        number = int(highest) + 1
        _encode_stored(serialized_value)  # only to refuse what a strict parser would (an unpaired surrogate)
        cur.execute(
            'INSERT INTO versions (variable, version, serialized_value, created_at) VALUES (?, ?, ?, ?)',
            (name, number, serialized_value, self._clock()),
        )
        return number

    def _put(self, cur: sqlite3.Cursor, write: VariableWrite, *, created: bool) -> None:
        existing = dict(
            cur.execute('SELECT version, serialized_value FROM versions WHERE variable = ?', (write.name,)).fetchall()
        )
        latest = max(existing, default=None)
        # Several labels in one write that ask for the same unknown version and value share one new version.
        minted: dict[tuple[int | None, str], int] = {}
        labels: dict[str, dict[str, Any]] = {}
        for label, target in write.labels.items():
            labels[label] = self._stored_label(cur, write.name, target, existing, latest, minted)
        now = self._clock()
        previous = cur.execute('SELECT doc FROM variables WHERE name = ?', (write.name,)).fetchone()
        previous_doc: dict[str, Any] = {} if previous is None else json.loads(previous[0])
        created_at = now if created or previous is None else previous_doc.get('created_at', now)
        doc = {field: getattr(write, field) for field in _DOC_FIELDS}
        if not write.has_type_name:
            # PUT replaces every field of the write format; type_name is not one of them, so it is kept.
            doc['type_name'] = previous_doc.get('type_name')
        doc['template_inputs_schema'] = write.template_inputs_schema
        doc['labels'] = labels
        doc['created_at'] = created_at
        doc['updated_at'] = now
        cur.execute(
            'INSERT INTO variables (name, doc) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET doc = excluded.doc',
            (write.name, _encode_stored(doc)),
        )

    def _stored_label(
        self,
        cur: sqlite3.Cursor,
        name: str,
        target: LabelTarget,
        existing: dict[int, str],
        latest: int | None,
        minted: dict[tuple[int | None, str], int],
    ) -> dict[str, Any]:
        if target.kind == 'label':
            return {'ref': target.target_label}
        if target.kind != 'version':
            return {'ref': target.kind}
        value = target.serialized_value
        assert value is not None
        if target.version is not None and existing.get(target.version) == value:
            return {'version': target.version}
        if target.version is None and latest is not None and existing[latest] == value:
            # No version given: reuse the latest one when it already holds this value (idempotent writes).
            return {'version': latest}
        key = (target.version, value)
        if key not in minted:
            minted[key] = self._new_version(cur, name, value)
        return {'version': minted[key]}


def _exists(cur: sqlite3.Cursor, name: str) -> bool:
    return cur.execute('SELECT 1 FROM variables WHERE name = ?', (name,)).fetchone() is not None


def _require(cur: sqlite3.Cursor, name: str) -> None:
    if not _exists(cur, name):
        raise WriteRejected(f'Variable {name!r} not found', 404)


def _delete(cur: sqlite3.Cursor, name: str) -> None:
    cur.execute('DELETE FROM variables WHERE name = ?', (name,))
    cur.execute('DELETE FROM versions WHERE variable = ?', (name,))


def _etag(meta: dict[str, str]) -> str:
    return f'"{meta["db_id"]}-{meta["revision"]}"'


def _encode(value: Any) -> bytes:
    # ASCII output: the update stream sends these bytes as SSE data, where a raw U+2028 or U+0085 would be
    # a line break for clients that split lines like str.splitlines (httpx does).
    return json.dumps(value, separators=(',', ':'), allow_nan=False).encode()


def _encode_stored(value: Any) -> str:
    """Return ``value`` as strict JSON text for a column; raises :class:`WriteRejected` (422) when it has none.

    ``allow_nan=False`` refuses NaN/Infinity, and encoding the (non-ASCII) text as UTF-8 refuses
    unpaired surrogates, which an ASCII encoding would escape into text strict parsers reject.
    """
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
        text.encode()
    except ValueError as exc:  # UnicodeEncodeError is a ValueError
        raise WriteRejected(f'body: a value has no strict JSON encoding ({exc})') from None
    return text


def _encode_served(name: str, shape: dict[str, Any]) -> bytes | None:
    """Return the read shape encoded for serving, or None when it cannot be (logged).

    Writes are encoded strictly before they commit, so only a database written by an older release can
    hold such a variable; it is left out of what is served rather than breaking every client's parse.
    """
    try:
        return _encode(shape)
    except ValueError as exc:
        logger.error('variable %r is not served: its stored value has no strict JSON encoding (%s)', name, exc)
        return None


def _load_variable(cur: sqlite3.Cursor, name: str) -> dict[str, Any] | None:
    """Return the read shape of variable ``name`` from the database, or None if it does not exist."""
    row = cur.execute('SELECT doc FROM variables WHERE name = ?', (name,)).fetchone()
    if row is None:
        return None
    doc = json.loads(row[0])
    wanted = {stored['version'] for stored in doc['labels'].values() if 'version' in stored}
    values: dict[int, str] = {}
    latest_row = cur.execute(
        'SELECT version, serialized_value FROM versions WHERE variable = ? ORDER BY version DESC LIMIT 1', (name,)
    ).fetchone()
    if latest_row is not None:
        values[latest_row[0]] = latest_row[1]
    for version in wanted - set(values):
        (value,) = cur.execute(
            'SELECT serialized_value FROM versions WHERE variable = ? AND version = ?', (name, version)
        ).fetchone()
        values[version] = value
    latest = None if latest_row is None else int(latest_row[0])
    return _read_shape(name, doc, values, latest)


def _read_shape(name: str, doc: dict[str, Any], values: dict[int, str], latest: int | None) -> dict[str, Any]:
    """Return the read shape (contract §1.3) of a stored variable, with label values filled in."""
    labels: dict[str, dict[str, Any]] = {}
    for label, stored in doc['labels'].items():
        if 'version' in stored:
            labels[label] = {'version': stored['version'], 'serialized_value': values[stored['version']]}
        elif stored['ref'] == 'latest':
            labels[label] = {'version': latest, 'ref': 'latest'}
        else:
            labels[label] = {'ref': stored['ref']}
    return {
        'name': name,
        'description': doc['description'],
        'labels': labels,
        'rollout': doc['rollout'],
        'overrides': doc['overrides'],
        'latest_version': None if latest is None else {'version': latest, 'serialized_value': values[latest]},
        'json_schema': doc['json_schema'],
        'type_name': doc['type_name'],
        'aliases': doc['aliases'],
        'example': doc['example'],
        'template_inputs_schema': doc['template_inputs_schema'],
        'created_at': doc.get('created_at'),
        'updated_at': doc.get('updated_at'),
    }
