"""The update stream's messages: one SSE frame per committed write, encoded once for every subscriber.

A message's ``data:`` is a JSON object. ``event`` and ``name`` are what the Logfire SDK reads (contract
§1.9: it looks at ``event`` only and re-fetches); for a write that changed several variables (bulk)
they are those of the first change. Our extension (docs/server.md) adds ``etag`` (the ETag of
``GET /v1/variables/`` after the write), ``previous_etag`` (before it) and ``changes``: every change of
the write with the read shape of each created or updated variable, so a client holding
``previous_etag`` can apply them without fetching. ``changes`` is left out when its encoding would
exceed the cap (:data:`MAX_CHANGES_BYTES`); clients then fetch.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Final

from remotevars.server._storage import Commit

__all__ = ['MAX_CHANGES_BYTES', 'Update', 'encode_update']

#: Above this many bytes of encoded ``changes`` a message carries only the event and the ETags.
MAX_CHANGES_BYTES: Final = 256 * 1024


@dataclass(frozen=True, slots=True)
class Update:
    """One message of the update stream, as ready-to-send SSE frames.

    ``frame`` is the full message; ``resync`` the same without ``changes`` (and without
    ``previous_etag``), sent instead when a subscriber fell behind and missed messages: it makes a client
    fetch the whole configuration. ``names`` are the variables the write changed (what the console's
    stream sends, so it never decodes a frame).
    """

    frame: bytes
    resync: bytes
    names: tuple[str, ...] = ()

    def resynced(self) -> Update:
        """Return this message as sent to a subscriber that fell behind (its frame is the resync)."""
        return dataclasses.replace(self, frame=self.resync)


def _encode(value: object) -> bytes:
    return json.dumps(value, separators=(',', ':')).encode()


def _frame(data: bytes) -> bytes:
    # Compact JSON never contains a raw line break (json.dumps escapes them), so one data: line suffices.
    return b'data: ' + data + b'\n\n'


def encode_update(commit: Commit, *, max_changes_bytes: int = MAX_CHANGES_BYTES) -> Update | None:
    """Return the stream message announcing ``commit``, or None when it changed no variable."""
    if not commit.changes:
        return None
    first = commit.changes[0]
    names = tuple(change.name for change in commit.changes)
    head = b'{"event":' + _encode(first.event) + b',"name":' + _encode(first.name) + b',"etag":'
    head += _encode(commit.etag)
    resync = _frame(head + b'}')
    head += b',"previous_etag":' + _encode(commit.previous_etag)
    if sum(len(variable) for variable in commit.variables.values()) > max_changes_bytes:
        # Too large whatever the rest: not even built (copying a 4 MiB variable around would hold the
        # event loop for milliseconds).
        return Update(frame=_frame(head + b'}'), resync=resync, names=names)
    entries = []
    for change in commit.changes:
        entry = b'{"event":' + _encode(change.event) + b',"name":' + _encode(change.name)
        variable = commit.variables.get(change.name) if change.event != 'deleted' else None
        if variable is not None:
            entry += b',"variable":' + variable
        entries.append(entry + b'}')
    changes = b'[' + b','.join(entries) + b']'
    if len(changes) > max_changes_bytes:
        return Update(frame=_frame(head + b'}'), resync=resync, names=names)
    return Update(frame=_frame(head + b',"changes":' + changes + b'}'), resync=resync, names=names)
