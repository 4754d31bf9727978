"""Handlers of the control-plane extension endpoints: atomic edits, history and rollback (docs/server.md).

Each edit is one operation (:class:`~._ops.Operations`): one transaction, at most one update event.
Bodies are read through the app's limited, strict body reader, which runs the parser off the event
loop. Every edit accepts ``If-Match`` (:mod:`._preconditions`) and answers, with the variable's ETag::

    {"changed": true|false, "warnings": [...], "variable": {<read shape>}}   (+ "version" for a new version)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from remotevars.server._edit_bodies import (
    parse_label_target,
    parse_override,
    parse_rollback,
    parse_rollout,
    parse_version_edit,
)
from remotevars.server._limits import Limits
from remotevars.server._ops import MAX_HISTORY, Operations, Outcome
from remotevars.server._preconditions import Precondition
from remotevars.server._shape import encode, encode_items
from remotevars.server._snapshot import Snapshot
from remotevars.server._wire import WriteRejected

__all__ = ['EditRoutes', 'JsonReader', 'written_variable']

T = TypeVar('T')


class JsonReader(Protocol):
    """Reads a request's JSON body under the limits and returns ``parse(decoded body, limits)`` (run off the loop)."""

    def __call__(self, request: Request, parse: Callable[[Any, Limits], T]) -> Awaitable[T]:
        """Return the parsed body; raises :class:`~._wire.WriteRejected` (413, 400, 422)."""
        ...


class EditRoutes:
    """The edit, history and rollback handlers; ``run`` executes an operation off the event loop (see ``_app``)."""

    def __init__(
        self,
        ops: Operations,
        run: Callable[[Callable[[], Outcome]], Awaitable[Outcome]],
        read_json: JsonReader,
    ) -> None:
        self.ops = ops
        self._run = run
        self._read_json = read_json

    async def _edit(
        self, request: Request, operation: Callable[[str, str, Precondition | None], Outcome], status: int = 200
    ) -> Response:
        name = request.path_params['name']
        precondition = Precondition.from_header(request.headers.get('if-match'))
        actor: str = request.state.actor
        outcome = await self._run(lambda: operation(name, actor, precondition))
        head: dict[str, Any] = {'changed': outcome.changed, 'warnings': [w.to_json() for w in outcome.warnings]}
        if outcome.version is not None:
            head['version'] = outcome.version
        opening = encode(head)[:-1] + b',"variable":'
        return written_variable(self.ops.snapshot, name, lambda variable: opening + variable + b'}', status)

    async def create_version(self, request: Request) -> Response:
        """``POST .../versions/`` ``{"serialized_value": "<JSON>", "labels": [...]}``: a new version, labels moved."""
        value, labels = await self._read_json(request, parse_version_edit)
        return await self._edit(
            request,
            lambda name, actor, pre: self.ops.create_version(name, value, labels, actor=actor, precondition=pre),
            201,
        )

    async def set_label(self, request: Request) -> Response:
        """``PUT .../labels/{label}`` ``{"version": n}`` or ``{"ref": ...}``: point a label (new or not)."""
        label = _label(request)
        target = await self._read_json(request, parse_label_target)
        return await self._edit(
            request, lambda name, actor, pre: self.ops.set_label(name, label, target, actor=actor, precondition=pre)
        )

    async def delete_label(self, request: Request) -> Response:
        """``DELETE .../labels/{label}``: remove a label that nothing uses."""
        label = _label(request)
        return await self._edit(
            request, lambda name, actor, pre: self.ops.delete_label(name, label, actor=actor, precondition=pre)
        )

    async def set_rollout(self, request: Request) -> Response:
        """``PUT .../rollout/`` ``{"labels": {...}}``: replace the base rollout."""
        weights = await self._read_json(request, parse_rollout)
        return await self._edit(
            request, lambda name, actor, pre: self.ops.set_rollout(name, weights, actor=actor, precondition=pre)
        )

    async def add_override(self, request: Request) -> Response:
        """``POST .../overrides/`` ``{"conditions": [...], "rollout": {...}}``: append an override."""
        override = await self._read_json(request, parse_override)
        return await self._edit(
            request,
            lambda name, actor, pre: self.ops.add_override(name, override, actor=actor, precondition=pre),
            201,
        )

    async def remove_override(self, request: Request) -> Response:
        """``DELETE .../overrides/{index}/``: remove one override (0-based)."""
        index: int = request.path_params['index']
        return await self._edit(
            request, lambda name, actor, pre: self.ops.remove_override(name, index, actor=actor, precondition=pre)
        )

    async def clear_overrides(self, request: Request) -> Response:
        """``DELETE .../overrides/``: remove every override."""
        return await self._edit(
            request, lambda name, actor, pre: self.ops.clear_overrides(name, actor=actor, precondition=pre)
        )

    async def rollback(self, request: Request) -> Response:
        """``POST .../rollback/`` ``{"to": id}``: labels, rollout and overrides as after history entry ``id``."""
        entry_id = await self._read_json(request, parse_rollback)
        return await self._edit(
            request, lambda name, actor, pre: self.ops.rollback(name, entry_id, actor=actor, precondition=pre)
        )

    async def history(self, request: Request) -> Response:
        """``GET .../history/?limit=N``: the variable's history, newest first (kept after a delete)."""
        name = request.path_params['name']
        raw = request.query_params.get('limit', str(MAX_HISTORY))
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_HISTORY:
            raise WriteRejected(f'limit: expected an integer from 1 to {MAX_HISTORY}')
        limit = int(raw)

        def read() -> bytes | None:
            entries = self.ops.history(name, limit)
            if not entries and name not in self.ops.snapshot.variables:
                return None
            # Read and encoded in a worker thread, entry by entry: each entry holds the variable twice.
            return encode_items(entry.to_json() for entry in entries)

        body = await run_in_threadpool(read)
        if body is None:
            raise WriteRejected(f'Variable {name!r} not found (and has no history)', 404)
        return Response(body, media_type='application/json')


def written_variable(snapshot: Snapshot, name: str, body: Callable[[bytes], bytes], status: int) -> Response:
    """Return the answer to a write of ``name``: ``body(its encoded read shape)`` with the variable's ETag.

    The snapshot's encoding, spliced in: encoding a large variable again would hold the event loop
    (~10 ms for a 2 MiB value). A concurrent delete may already have removed it: then ``null``, no ETag.
    """
    etag = snapshot.variable_etag(name)
    headers = None if etag is None else {'ETag': etag}
    return Response(
        body(snapshot.encoded.get(name, b'null')), status_code=status, media_type='application/json', headers=headers
    )


def _label(request: Request) -> str:
    # The {label:path} route takes everything after labels/, so the trailing slash is part of it. The
    # operation checks the name (the one rule of label names, whoever calls it).
    raw: str = request.path_params['label']
    return raw.removesuffix('/')
