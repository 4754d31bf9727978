"""The committed state readers see: every variable's read shape, the encoded body and its ETag.

Storage-neutral. A store refreshes its snapshot after each commit, its own or another process's
(re-reading only the variables the commits touched, or patching in the read shapes a notification
carried), or as a whole at start-up, so reads never touch the database and never wait for a writer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from remotevars.server._shape import encode, load_shape
from remotevars.server._storage import etag

if TYPE_CHECKING:
    from remotevars.server._storage import VariableReader

__all__ = ['Snapshot', 'build_snapshot', 'patch_snapshot']

logger = logging.getLogger('remotevars.server')


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The committed state: the ETag, the global revision, each variable's read shape and revision, the body."""

    etag: str
    db_id: str
    revision: int
    variables: dict[str, dict[str, Any]]
    body: bytes
    #: Each variable's encoded read shape, so a write re-encodes only the variables it touched.
    encoded: dict[str, bytes]
    #: The global revision of each variable's last change (its per-variable ETag, see :mod:`._preconditions`).
    revisions: dict[str, int]

    def variable_etag(self, name: str) -> str | None:
        """Return the ETag of variable ``name`` (``"<db>-<revision of its last change>"``), or None."""
        revision = self.revisions.get(name)
        return None if revision is None else etag(self.db_id, revision)


def build_snapshot(
    reader: VariableReader,
    db_id: str,
    revision: int,
    previous: Snapshot | None = None,
    changed: Iterable[str] | None = None,
) -> Snapshot:
    """Return the snapshot of database ``db_id`` at ``revision``: ``previous`` with ``changed`` re-read, or all.

    ``changed`` None (or no ``previous``) reads every variable. A variable whose read shape has no
    strict JSON encoding is left out (and logged): stores encode writes strictly before they commit,
    so only a database written by an older release can hold one, and serving it would break every
    client's parse of the whole configuration.
    """
    if previous is None or changed is None:
        variables: dict[str, dict[str, Any]] = {}
        encoded: dict[str, bytes] = {}
        revisions: dict[str, int] = {}
        names: Iterable[str] = reader.variable_names()
    else:
        variables, encoded, revisions = dict(previous.variables), dict(previous.encoded), dict(previous.revisions)
        names = set(changed)
    for name in names:
        record = reader.variable(name)
        shape = None if record is None else load_shape(reader, record)
        served = None if shape is None else _encode_served(name, shape)
        if record is None or shape is None or served is None:
            variables.pop(name, None)
            encoded.pop(name, None)
            revisions.pop(name, None)
        else:
            variables[name] = shape
            encoded[name] = served
            revisions[name] = record.revision
    return _assemble(db_id, revision, variables, encoded, revisions)


def patch_snapshot(previous: Snapshot, revision: int, variables: Mapping[str, bytes | None]) -> Snapshot:
    """Return ``previous`` at ``revision``: each of ``variables`` replaced by its encoded read shape, or removed (None).

    The variables are taken as last changed at ``revision``; the encoded shapes are used as they are, so the
    body is byte for byte what the process that committed ``revision`` serves.
    """
    shapes, encoded, revisions = dict(previous.variables), dict(previous.encoded), dict(previous.revisions)
    for name, shape in variables.items():
        if shape is None:
            shapes.pop(name, None)
            encoded.pop(name, None)
            revisions.pop(name, None)
        else:
            shapes[name] = msgspec.json.decode(shape)  # strict JSON, encoded by the committing process
            encoded[name] = shape
            revisions[name] = revision
    return _assemble(previous.db_id, revision, shapes, encoded, revisions)


def _assemble(
    db_id: str,
    revision: int,
    variables: dict[str, dict[str, Any]],
    encoded: dict[str, bytes],
    revisions: dict[str, int],
) -> Snapshot:
    order = sorted(variables)
    body = b'{"variables":{' + b','.join(encode(name) + b':' + encoded[name] for name in order) + b'}}'
    return Snapshot(
        etag=etag(db_id, revision),
        db_id=db_id,
        revision=revision,
        variables={n: variables[n] for n in order},
        body=body,
        encoded=encoded,
        revisions=revisions,
    )


def _encode_served(name: str, shape: dict[str, Any]) -> bytes | None:
    try:
        return encode(shape)
    except ValueError as exc:
        logger.error('variable %r is not served: its stored value has no strict JSON encoding (%s)', name, exc)
        return None
