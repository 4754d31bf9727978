"""The storage interface of the server: what a backend stores, and the transaction the operations run in.

Storage-neutral: records and protocols only, no SQL. A backend (:mod:`._sqlite`, :mod:`._postgres`) keeps variables
as :class:`VariableRecord` documents, versions as numbered immutable JSON texts, the history as
:class:`HistoryEntry` rows and one global revision. The rules (minting versions, validation, history
contents) live in :mod:`._ops`, which works through :class:`Transaction` only; the HTTP layer sees
:class:`Store` and the neutral :class:`StorageUnavailable`.

A transaction serialises writers (one at a time across every process using the database); a write
that records changes commits as revision ``previous + 1`` and becomes a :class:`Commit`. Several
processes may share one database: each store follows the others' commits and moves its snapshot
forward, announcing every move to its subscribers (:mod:`._feed`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from remotevars._errors import RemoteVarsError

if TYPE_CHECKING:
    from remotevars.server._snapshot import Snapshot

__all__ = [
    'Change',
    'ChangeEvent',
    'Commit',
    'HistoryEntry',
    'NewHistoryEntry',
    'StorageUnavailable',
    'Store',
    'Transaction',
    'VariableReader',
    'VariableRecord',
    'etag',
]

ChangeEvent = Literal['created', 'updated', 'deleted']


class StorageUnavailable(RemoteVarsError):
    """The database cannot be used right now (locked too long, disk full, read-only, unreachable); retryable."""


def etag(db_id: str, revision: int) -> str:
    """Return the ETag of revision ``revision`` of database ``db_id`` (quoted, as sent in headers)."""
    return f'"{db_id}-{revision}"'


@dataclass(frozen=True, slots=True)
class VariableRecord:
    """A stored variable: its document and the revision of its last change.

    ``doc`` holds the fields of the read shape that are stored as they are (``description``,
    ``rollout``, ``overrides``, ``json_schema``, ``type_name``, ``aliases``, ``example``,
    ``template_inputs_schema``, ``created_at``, ``updated_at``) and ``labels``, each stored as
    ``{"version": n}`` or ``{"ref": "latest" | "code_default" | "<label>"}`` (values live in versions).
    """

    name: str
    doc: dict[str, Any]
    revision: int


@dataclass(frozen=True, slots=True)
class NewHistoryEntry:
    """A history entry to record: what a write did to one variable (``before``/``after``: read shapes)."""

    variable: str
    at: str
    actor: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    warnings: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A recorded history entry; ``revision`` is the global revision its write committed as."""

    id: int
    revision: int
    variable: str
    at: str
    actor: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    warnings: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """Return the entry as served by ``GET /v1/variables/{name}/history/``."""
        return {
            'id': self.id,
            'at': self.at,
            'actor': self.actor,
            'action': self.action,
            'revision': self.revision,
            'before': self.before,
            'after': self.after,
            'warnings': self.warnings,
        }


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change to a variable, as announced on the SSE stream."""

    event: ChangeEvent
    name: str


@dataclass(frozen=True, slots=True)
class Commit:
    """A committed write: its changes, the ETags of ``GET /v1/variables/`` before and after, and what changed.

    ``previous_etag`` is the revision the transaction started from (read inside it), so a client holding
    that ETag has seen everything but this write. ``variables`` holds the encoded read shape of every
    created or updated variable (deleted ones are absent). A write that changed nothing has no
    ``changes`` and the same ETag before and after.
    """

    changes: tuple[Change, ...]
    previous_etag: str
    etag: str
    variables: dict[str, bytes]


class VariableReader(Protocol):
    """Reads of the stored variables, inside a transaction or a consistent read."""

    def variable_names(self) -> list[str]:
        """Return the names of every stored variable."""
        ...

    def variable(self, name: str) -> VariableRecord | None:
        """Return the stored variable ``name``, or None."""
        ...

    def latest_version(self, name: str) -> tuple[int, str] | None:
        """Return ``(number, serialized_value)`` of the highest version of ``name``, or None."""
        ...

    def version_value(self, name: str, version: int) -> str | None:
        """Return the serialized value of version ``version`` of ``name``, or None when it does not exist."""
        ...


class Transaction(VariableReader, Protocol):
    """One write, all or nothing: raising inside it rolls everything back.

    ``revision`` is the revision this write commits as when it records a change (:meth:`changed`); a
    transaction that records none leaves the revision, the ETag and the snapshot as they were.
    """

    @property
    def db_id(self) -> str:
        """The database's identity (part of every ETag)."""
        ...

    @property
    def revision(self) -> int:
        """The revision this write commits as (the current one plus 1)."""
        ...

    @property
    def committed(self) -> Commit:
        """The :class:`Commit` of this transaction; only after it ended without an exception."""
        ...

    def save_variable(self, record: VariableRecord) -> None:
        """Create or replace the stored variable ``record.name``."""
        ...

    def delete_variable(self, name: str) -> None:
        """Delete the variable ``name`` and its versions (its history stays)."""
        ...

    def add_version(self, name: str, serialized_value: str, created_at: str) -> int:
        """Store the next version of ``name`` (numbered from 1); return its number."""
        ...

    def add_history(self, entry: NewHistoryEntry) -> int:
        """Record a history entry at this transaction's revision; return its id."""
        ...

    def history_entry(self, entry_id: int) -> HistoryEntry | None:
        """Return history entry ``entry_id``, or None."""
        ...

    def save_variable_type(self, variable_type: dict[str, Any]) -> None:
        """Create or replace the variable type named ``variable_type['name']``."""
        ...

    def changed(self, change: Change) -> None:
        """Record that this write changed a variable (it is announced once the transaction commits)."""
        ...


class Store(Protocol):
    """A server database: the committed snapshot readers see, transactions for writes, and slower reads.

    Every method may raise :class:`StorageUnavailable`.
    """

    @property
    def snapshot(self) -> Snapshot:
        """The last committed state (an immutable object; reading it does not touch the database)."""
        ...

    def transaction(self) -> AbstractContextManager[Transaction]:
        """Return a context manager around one write (exclusive; committed when the block ends cleanly)."""
        ...

    def versions(self, name: str) -> list[dict[str, Any]] | None:
        """Return every version of ``name`` (oldest first: version, serialized_value, created_at), or None."""
        ...

    def history(self, name: str, limit: int | None = None) -> list[HistoryEntry]:
        """Return the history entries of ``name``, newest first (also after the variable was deleted)."""
        ...

    def history_entry(self, entry_id: int) -> HistoryEntry | None:
        """Return history entry ``entry_id`` (of any variable), or None."""
        ...

    def variable_types(self) -> list[dict[str, Any]]:
        """Return every variable type, by name."""
        ...

    def subscribe(self, listener: Callable[[Commit], None]) -> None:
        """Call ``listener`` with every later move of :attr:`snapshot`, in order, and follow other processes.

        A move is this process's commit or other processes' commits it noticed; its ``previous_etag``
        is the ETag served before it, so the moves chain. ``listener`` runs on a store thread and must
        be quick (the app hands the message to its event loop).
        """
        ...

    def check_ready(self) -> None:
        """Return if the database answers, its schema is current and other processes are followed.

        Raises :class:`StorageUnavailable` saying why not.
        """
        ...

    def close(self) -> None:
        """Release the database."""
        ...
