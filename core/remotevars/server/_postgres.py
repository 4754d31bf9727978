"""The PostgreSQL backend of the server's :class:`~._storage.Store` (psycopg 3, a psycopg-pool connection pool).

For several server instances on one database. The tables are those of the SQLite backend
(:mod:`._sql`), in the schema ``remotevars`` (so the database may hold other applications' tables).

- **Writes.** Each write is one transaction that first locks the ``revision`` row (``SELECT ... FOR
  UPDATE``): writers from every instance queue there, one at a time, so revisions and version
  numbers are contiguous and a failed write changes nothing. Within an instance, writers queue on a
  lock first, holding one pooled connection at a time.
- **Fan-out.** A write that changed something sends ``NOTIFY remotevars_changes`` in its transaction
  (delivered at commit, in commit order), carrying the revision and the encoded read shapes of the
  variables it changed; a change set too big for a notification (8,000 bytes) carries the revision
  only, and the instances read it back from the history. Each instance LISTENs on its own connection
  (:mod:`._postgres_follow`), moves its snapshot forward and announces the move to its SSE clients
  (:mod:`._feed`); after (re)connecting it reads whatever it missed.
- **Migrations** (:data:`MIGRATIONS`) run under a transaction-level advisory lock, so instances starting
  together apply each step once.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import msgspec
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from remotevars.server._feed import Advance, Listener, SnapshotFeed, read_advance
from remotevars.server._migrations import Migration, check_version, pending_steps
from remotevars.server._migrations import migrate as apply_migrations
from remotevars.server._postgres_follow import NotificationFollower
from remotevars.server._snapshot import build_snapshot, patch_snapshot
from remotevars.server._sql import Dialect, SqlReader, SqlStore, SqlTransaction
from remotevars.server._storage import StorageUnavailable

__all__ = ['CHANNEL', 'MAX_NOTIFICATION_BYTES', 'MIGRATIONS', 'SCHEMA', 'PostgresStore', 'migration_status']

logger = logging.getLogger('remotevars.server')

#: The PostgreSQL schema holding the tables.
SCHEMA: Final = 'remotevars'
#: The channel commits are announced on.
CHANNEL: Final = 'remotevars_changes'
#: Notifications longer than this carry only the revision (PostgreSQL's limit is 8,000 bytes).
MAX_NOTIFICATION_BYTES: Final = 7_900
#: The advisory lock that serialises migrations (any 64-bit number; this one spells "rvmigrat").
_MIGRATION_LOCK: Final = 0x72766D6967726174
#: How long a write waits for the revision lock (another instance's write) before answering 503.
_LOCK_TIMEOUT: Final = '30s'

_DIALECT = Dialect(placeholder='%s', returning=True)


def _create_schema(cur: psycopg.Cursor[Any]) -> None:
    cur.execute(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE variables (name TEXT PRIMARY KEY, doc TEXT NOT NULL, revision BIGINT NOT NULL);
        CREATE TABLE versions (
            variable TEXT NOT NULL,
            version INTEGER NOT NULL,
            serialized_value TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (variable, version)
        );
        CREATE TABLE variable_types (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
        CREATE TABLE history (
            id BIGSERIAL PRIMARY KEY,
            revision BIGINT NOT NULL,
            variable TEXT NOT NULL,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            before TEXT,
            after TEXT,
            warnings TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX history_by_variable ON history (variable, id);
        CREATE INDEX history_by_revision ON history (revision);
        """
    )
    cur.execute("INSERT INTO meta (key, value) VALUES ('db_id', %s), ('revision', '0')", (uuid.uuid4().hex[:12],))


#: The PostgreSQL schema, step by step.
MIGRATIONS: tuple[Migration[psycopg.Cursor[Any]], ...] = (
    Migration(1, 'variables, versions, variable types, history (by variable and by revision), meta', _create_schema),
)


def _configure(conn: psycopg.Connection[Any]) -> None:
    # Session-level (the connections are in autocommit mode): the tables live in our schema, and a write
    # waiting for the revision lock longer than this gives up (503) rather than holding a request forever.
    conn.execute(f"SET search_path TO {SCHEMA}; SET lock_timeout = '{_LOCK_TIMEOUT}'")


def _connect(conninfo: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
    _configure(conn)
    return conn


@contextmanager
def _storage_errors() -> Iterator[None]:
    try:
        yield
    except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
        # Unreachable, restarted, a lock or statement timeout: retryable, not a bug.
        raise StorageUnavailable(f'PostgreSQL: {exc}'.strip()) from exc


def _schema_version(cur: psycopg.Cursor[Any]) -> int:
    cur.execute('SELECT to_regclass(%s)', (f'{SCHEMA}.meta',))
    row = cur.fetchone()
    if row is None or row[0] is None:
        return 0
    cur.execute("SELECT value FROM meta WHERE key = 'schema_version'")
    found = cur.fetchone()
    return 0 if found is None else int(found[0])


class _MigrationTarget:
    """Migration transactions on ``conn``, one at a time across every instance (an advisory lock)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    @contextmanager
    def exclusive(self) -> Iterator[psycopg.Cursor[Any]]:
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute('SELECT pg_advisory_xact_lock(%s)', (_MIGRATION_LOCK,))
            # Checked before CREATE SCHEMA, which needs the CREATE privilege even when the schema exists.
            cur.execute('SELECT 1 FROM pg_namespace WHERE nspname = %s', (SCHEMA,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE SCHEMA {SCHEMA}')
            yield cur

    def schema_version(self, cur: psycopg.Cursor[Any]) -> int:
        return _schema_version(cur)

    def set_schema_version(self, cur: psycopg.Cursor[Any], version: int) -> None:
        cur.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', %s)"
            ' ON CONFLICT (key) DO UPDATE SET value = excluded.value',
            (str(version),),
        )


def migration_status(conninfo: str, *, apply: bool) -> tuple[int, list[Migration[psycopg.Cursor[Any]]]]:
    """Return the schema version found in the database at ``conninfo`` and the steps applied (``apply``) or pending.

    Raises :class:`~._storage.StorageUnavailable` and :class:`~._migrations.SchemaTooNew`.
    """
    with _storage_errors(), _connect(conninfo) as conn:
        target = _MigrationTarget(conn)
        with conn.cursor() as cur:
            found = _schema_version(cur)
        steps = apply_migrations(target, MIGRATIONS) if apply else pending_steps(target, MIGRATIONS)
        return found, steps


class _Notice(msgspec.Struct):
    """A commit notification: the database, the revision, and (when it fitted) the changed variables."""

    db: str
    revision: int
    #: Each changed variable's encoded read shape (``null``: deleted); absent when too big to send.
    variables: dict[str, msgspec.Raw] | None = None


_NOTICE_DECODER: Final = msgspec.json.Decoder(_Notice)


def encode_notice(db_id: str, revision: int, variables: dict[str, bytes | None]) -> str:
    """Return the notification payload of a commit (the variables left out when it would be too long)."""
    head = f'{{"db":{msgspec.json.encode(db_id).decode()},"revision":{revision}'
    entries = [msgspec.json.encode(name) + b':' + (shape or b'null') for name, shape in variables.items()]
    full = head.encode() + b',"variables":{' + b','.join(entries) + b'}}'
    # The read shapes are ASCII JSON (non-ASCII characters are escaped), so characters are bytes.
    return full.decode() if len(full) <= MAX_NOTIFICATION_BYTES else head + '}'


class PostgresStore(SqlStore):
    """The variables database at ``conninfo`` (``postgresql://user:password@host:port/dbname``).

    Migrated forward on open (``migrate=False``: the schema must be current). ``pool_size``: the most
    connections the store opens for requests (one more follows the other instances). Raises
    :class:`~._storage.StorageUnavailable` when the database cannot be reached, and the errors of
    :mod:`._migrations`.
    """

    def __init__(self, conninfo: str, *, migrate: bool = True, pool_size: int = 10) -> None:
        self._conninfo = conninfo
        self._write_lock = threading.Lock()
        self._follower: NotificationFollower | None = None
        self._start_lock = threading.Lock()
        with _storage_errors():
            # One direct connection first: it says why the database cannot be reached, where a pool only times out.
            with _connect(conninfo) as conn:
                target = _MigrationTarget(conn)
                #: The migration steps this open applied (empty when the schema was current).
                self.migrated = apply_migrations(target, MIGRATIONS) if migrate else []
                with conn.cursor() as cur:
                    check_version(_schema_version(cur), MIGRATIONS)
            self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
                conninfo,
                min_size=1,
                max_size=pool_size,
                kwargs={'autocommit': True, 'connect_timeout': 10},
                configure=_configure,
                check=ConnectionPool.check_connection,
                timeout=10.0,
                open=False,
                name='remotevars',
            )
            try:
                self._pool.open(wait=True, timeout=10.0)
                with self._read() as reader:
                    self._db_id, revision = reader.meta()
                    self._feed = SnapshotFeed(build_snapshot(reader, self._db_id, revision))
            except BaseException:
                self._pool.close()  # its threads would keep trying to connect
                raise

    def close(self) -> None:
        """Stop following the other instances and close every connection."""
        with self._start_lock:
            follower, self._follower = self._follower, None
        if follower is not None:
            follower.stop()
        self._pool.close(timeout=5.0)

    @contextmanager
    def _read(self) -> Iterator[SqlReader]:
        """Yield a reader in one read-only transaction that sees a single committed state throughout."""
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY')
            yield SqlReader(cur, _DIALECT)

    @contextmanager
    def transaction(self) -> Iterator[SqlTransaction]:
        """Yield a write transaction holding the revision lock; commit, notify and move the snapshot at the end."""
        with self._write_lock, _storage_errors():
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                # Statements after the lock see every commit before it (READ COMMITTED takes a snapshot per statement).
                cur.execute("SELECT value FROM meta WHERE key = 'revision' FOR UPDATE")
                row = cur.fetchone()
                revision = int(row[0]) if row is not None else 0
                tx = SqlTransaction(cur, _DIALECT, self._db_id, revision)
                yield tx
                advance = tx.prepare_commit(self._feed.snapshot)
                if advance is not None:
                    encoded = advance.snapshot.encoded
                    changed = {c.name: encoded.get(c.name) for c in tx.changes}
                    cur.execute('SELECT pg_notify(%s, %s)', (CHANNEL, encode_notice(self._db_id, tx.revision, changed)))
            tx.settle(self._feed, advance)

    # -- following the other instances ----------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with every move of the snapshot, and start following the other instances' commits."""
        self._feed.subscribe(listener)
        with self._start_lock:
            if self._follower is None:
                self._follower = NotificationFollower(
                    lambda: _connect(self._conninfo), CHANNEL, on_notice=self._on_notice, on_connect=self.catch_up
                )

    def catch_up(self) -> None:
        """Move the snapshot to the database's current revision, reading the changes since.

        Raises :class:`~._storage.StorageUnavailable`.
        """
        with _storage_errors():
            with self._read() as reader:
                _, revision = reader.meta()
                advance = read_advance(reader, self._feed.snapshot, revision)
            self._feed.install(advance)

    def _on_notice(self, payload: str) -> None:
        try:
            notice = _NOTICE_DECODER.decode(payload)
        except msgspec.DecodeError:
            logger.warning('ignoring a notification on %s that is not a remotevars commit: %.80r', CHANNEL, payload)
            return
        current = self._feed.snapshot
        if notice.db != self._db_id or notice.revision <= current.revision:
            return  # another database's, or a commit this instance already serves (its own, say)
        if notice.revision == current.revision + 1 and notice.variables is not None:
            variables = {name: None if bytes(raw) == b'null' else bytes(raw) for name, raw in notice.variables.items()}
            snapshot = patch_snapshot(current, notice.revision, variables)
            self._feed.install(Advance(snapshot, tuple((notice.revision, name) for name in variables)))
        else:
            self.catch_up()  # a gap (a notification missed), or a change set too big to be sent

    def check_ready(self) -> None:
        """Return if the database answers, its schema is current and the other instances are followed.

        Raises :class:`~._storage.StorageUnavailable` saying why not.
        """
        follower = self._follower
        if follower is not None and not follower.connected:  # first: it costs nothing
            raise StorageUnavailable('not listening for the commits of other instances (reconnecting)')
        # A short wait: probes have short timeouts of their own.
        with _storage_errors(), self._pool.connection(timeout=2.0) as conn, conn.cursor() as cur:
            version = _schema_version(cur)
        try:
            check_version(version, MIGRATIONS)
        except Exception as exc:  # the schema moved on (a newer remotevars migrated it): not ready
            raise StorageUnavailable(str(exc)) from exc

    @contextmanager
    def _reading(self) -> Iterator[SqlReader]:
        with _storage_errors(), self._read() as reader:
            yield reader
