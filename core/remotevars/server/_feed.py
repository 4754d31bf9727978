"""The snapshot one server process serves, moved forward by every commit to its database, whoever made it.

Several processes (``--workers``, or instances behind a load balancer) share one database; each keeps
its own in-memory :class:`~._snapshot.Snapshot`. A :class:`SnapshotFeed` holds it and moves it
forward only, one :class:`Advance` at a time, from this process's commits and from what it learns of
the others' (a notification, or noticing that the database changed). Every move is announced to the
subscribers as a :class:`~._storage.Commit` going from the ETag this process served before (what its
clients hold) to the new one, with every variable changed in between: so a client applies the
changes in memory whichever process it is connected to, and all processes serve the same ETag for
the same revision.

Advances may be built concurrently (a writer thread and the thread following other processes) and
from an older snapshot than the one installed by the time they arrive: :meth:`SnapshotFeed.install`
drops those that are not newer and announces only the changes after the revision it served.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from remotevars.server._snapshot import Snapshot, build_snapshot
from remotevars.server._storage import Change, Commit, VariableReader

__all__ = ['Advance', 'ChangeReader', 'Listener', 'SnapshotFeed', 'read_advance']

logger = logging.getLogger('remotevars.server')

#: Called with every move of the snapshot, in order (from whichever thread installed it; must be quick).
Listener = Callable[[Commit], None]


class ChangeReader(VariableReader, Protocol):
    """A reader that can also list which variables changed between two revisions (from the history)."""

    def changes_between(self, after: int, up_to: int) -> list[tuple[int, str]]:
        """Return ``(revision, variable)`` of every change after revision ``after`` up to ``up_to``, in commit order."""
        ...


@dataclass(frozen=True, slots=True)
class Advance:
    """A newer snapshot and ``(revision, variable)`` of every change since the snapshot it was built from."""

    snapshot: Snapshot
    changes: tuple[tuple[int, str], ...]


def read_advance(reader: ChangeReader, base: Snapshot, revision: int) -> Advance:
    """Return the advance from ``base`` to ``revision``, re-reading the variables changed in between.

    ``reader`` must see the database exactly at ``revision`` (inside the transaction that committed it,
    or a consistent read of it).
    """
    if revision <= base.revision:
        return Advance(base, ())
    changes = reader.changes_between(base.revision, revision)
    names = dict.fromkeys(name for _, name in changes)
    return Advance(build_snapshot(reader, base.db_id, revision, base, names), tuple(changes))


class SnapshotFeed:
    """The snapshot a process serves and its subscribers; :meth:`install` moves it forward (thread-safe)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    @property
    def snapshot(self) -> Snapshot:
        """The snapshot served now."""
        return self._snapshot

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` with every later move of the snapshot."""
        with self._lock:
            self._listeners.append(listener)

    def install(self, advance: Advance) -> Commit | None:
        """Serve ``advance``'s snapshot if it is newer than the one served; return the announced move, or None.

        The move goes from the served snapshot's ETag to the new one and names each variable changed
        after the served revision once: created, updated or deleted relative to what was served (a
        variable created and deleted in between is left out).
        """
        with self._lock:
            current, new = self._snapshot, advance.snapshot
            if new.revision <= current.revision:
                return None
            names = dict.fromkeys(name for revision, name in advance.changes if revision > current.revision)
            changes: list[Change] = []
            for name in names:
                if name in new.encoded:
                    changes.append(Change('updated' if name in current.encoded else 'created', name))
                elif name in current.encoded:
                    changes.append(Change('deleted', name))
            variables = {c.name: new.encoded[c.name] for c in changes if c.event != 'deleted'}
            commit = Commit(tuple(changes), current.etag, new.etag, variables)
            self._snapshot = new
            # Under the lock, so that subscribers see the moves in order.
            for listener in self._listeners:
                try:
                    listener(commit)
                except Exception:  # a subscriber's bug must not stop the snapshot moving
                    logger.exception('a snapshot subscriber failed')
            return commit
