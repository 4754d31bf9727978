"""The Starlette application: the Logfire variables API plus the documented extensions (docs/server.md).

Handlers check the key, read the body under its size cap (:mod:`._body`), decode and validate it
(:mod:`._wire`) in a worker thread so a large write never stalls the event loop, run the store call in
a worker thread too (SQLite is blocking; one write's work at a time), then announce each committed
write on the SSE stream as one message carrying the changed variables (:mod:`._updates`). Every
refusal is JSON ``{"detail": ...}`` with a 4xx status; nothing a client sends produces a 500, and a
real 500 is logged once (:mod:`._boundary`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from remotevars.server._auth import Keys, Scope
from remotevars.server._body import read_body
from remotevars.server._boundary import ErrorBoundary
from remotevars.server._broadcast import Broadcaster
from remotevars.server._limits import Limits
from remotevars.server._store import Commit, Store
from remotevars.server._updates import encode_update
from remotevars.server._wire import (
    WriteRejected,
    check_name,
    parse_body,
    parse_bulk,
    parse_new_version,
    parse_variable_type,
    parse_write,
)

__all__ = ['create_app']

logger = logging.getLogger('remotevars.server')

_MISSING_KEY = 'Missing API key (Authorization: bearer <key>)'

Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar('T')

#: Writes whose work (validating the body, then the store call) runs at the same time, in worker
#: threads. That work is CPU-bound and the store serialises writes anyway: more threads gain nothing
#: (the GIL) and each extra one competes with the event loop for it. With validation and store calls
#: of concurrent writes overlapping, reads waited about twice as long during a burst of 2 MiB writes
#: (benchmarks/bench_server.py).
_WRITE_CONCURRENCY = 1


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    # Messages quote what the client sent; an unpaired surrogate in it is spelled out (\ud800) so the
    # answer stays encodable, and strict JSON.
    printable = detail.encode('utf-8', 'backslashreplace').decode('utf-8')
    return JSONResponse({'detail': printable}, status_code=status, headers=headers)


def _matches_etag(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix('W/') for c in if_none_match.split(',')]
    return etag in candidates or '*' in candidates


@dataclass
class RequestCounts:
    """How many times the whole configuration was served (``app.state.counts``; for tests and monitoring)."""

    config_full: int = 0  # GET /v1/variables/ answered 200 with the body
    config_not_modified: int = 0  # ... answered 304


class _Api:
    """The request handlers, bound to one store, key set and broadcaster."""

    def __init__(
        self, store: Store, keys: Keys, broadcaster: Broadcaster, keepalive_interval: float, limits: Limits
    ) -> None:
        self.store = store
        self.keys = keys
        self.broadcaster = broadcaster
        self.keepalive_interval = keepalive_interval
        self.limits = limits
        self.counts = RequestCounts()
        self._write_slots = asyncio.Semaphore(_WRITE_CONCURRENCY)

    async def _write_work(self, work: Callable[..., T], *args: Any) -> T:
        """Return ``work(*args)``, run in a worker thread once a write slot is free."""
        async with self._write_slots:
            return await run_in_threadpool(work, *args)

    async def body(self, request: Request, parse: Callable[[Any, Limits], T]) -> T:
        """Return the request body read under the size cap, decoded and run through ``parse`` off the loop.

        Raises :class:`WriteRejected` (413, 400, 422).
        """
        raw = await read_body(request, self.limits.max_body_bytes)
        return await self._write_work(parse_body, raw, parse, self.limits)

    def guarded(self, scope: Scope, handler: Handler) -> Handler:
        """Return ``handler`` behind the key check: 401 without a valid key, 403 for a read key on writes."""

        async def endpoint(request: Request) -> Response:
            header = request.headers.get('authorization')
            granted = self.keys.scope(header)
            # An anonymous reader asking to write lacks a key (401) rather than a scope (403).
            if granted is None or (scope == 'write' and not self.keys.has_key(header)):
                detail = 'Invalid API key' if self.keys.has_key(header) else _MISSING_KEY
                return _error(401, detail, {'WWW-Authenticate': 'Bearer'})
            if scope == 'write' and granted != 'write':
                return _error(403, 'This API key can only read; a write key is required')
            name = request.path_params.get('name')
            if isinstance(name, str) and len(name) > self.limits.max_name_length:
                return _error(422, f'name: variable names are at most {self.limits.max_name_length} characters')
            try:
                return await handler(request)
            except WriteRejected as exc:
                # The rest of a body refused unread (413) is received and dropped, within the body timeout:
                # closing now would reset the connection before a client that sends first reads the answer.
                return _error(exc.status, str(exc))
            except sqlite3.OperationalError as exc:
                # Locked for longer than the busy timeout, disk full, read-only file: retryable, not a bug.
                logger.warning('storage error on %s %s: %s', request.method, request.url.path, exc)
                return _error(503, f'Storage unavailable: {exc}', {'Retry-After': '1'})

        return endpoint

    def _announce(self, commit: Commit) -> None:
        # Encoded once here, sent as-is on every stream.
        self.broadcaster.publish(encode_update(commit))

    async def _commit(self, call: Callable[[], Commit]) -> None:
        self._announce(await self._write_work(call))

    def _variable(self, name: str, status_code: int = 200) -> Response:
        # The snapshot's encoding, not a new one: encoding a 2 MB variable would hold the event loop ~15 ms.
        # A concurrent delete may already have removed it again: then null.
        encoded = self.store.snapshot.encoded.get(name, b'null')
        return Response(encoded, status_code=status_code, media_type='application/json')

    # -- variables ----------------------------------------------------------------------------------

    async def list_variables(self, request: Request) -> Response:
        snapshot = self.store.snapshot
        headers = {'ETag': snapshot.etag, 'Cache-Control': 'no-cache'}
        if _matches_etag(request.headers.get('if-none-match'), snapshot.etag):
            self.counts.config_not_modified += 1
            return Response(status_code=304, headers=headers)
        self.counts.config_full += 1
        return Response(snapshot.body, media_type='application/json', headers=headers)

    async def create_variable(self, request: Request) -> Response:
        write = await self.body(request, parse_write)
        await self._commit(lambda: self.store.create(write))
        return self._variable(write.name, 201)

    async def get_variable(self, request: Request) -> Response:
        name = check_name(request.path_params['name'])
        encoded = self.store.snapshot.encoded.get(name)
        if encoded is None:
            return _error(404, f'Variable {name!r} not found')
        return Response(encoded, media_type='application/json')

    async def replace_variable(self, request: Request) -> Response:
        name = check_name(request.path_params['name'])
        write = await self.body(request, parse_write)
        if write.name != name:
            raise WriteRejected(f'name: body name {write.name!r} does not match the name {name!r} in the path')
        await self._commit(lambda: self.store.replace(write))
        return self._variable(name)

    async def delete_variable(self, request: Request) -> Response:
        name = check_name(request.path_params['name'])
        await self._commit(lambda: self.store.delete(name))
        return Response(status_code=204)

    async def bulk(self, request: Request) -> Response:
        upserts, deletes = await self.body(request, parse_bulk)
        commit = await self._write_work(self.store.bulk, upserts, deletes)
        self._announce(commit)
        return JSONResponse({'changes': [{'event': c.event, 'name': c.name} for c in commit.changes]})

    async def list_versions(self, request: Request) -> Response:
        name = check_name(request.path_params['name'])
        versions = await run_in_threadpool(self.store.versions, name)
        return JSONResponse({'name': name, 'versions': versions})

    async def create_version(self, request: Request) -> Response:
        name = check_name(request.path_params['name'])
        value = await self.body(request, parse_new_version)
        number, commit = await self._write_work(self.store.add_version, name, value)
        self._announce(commit)
        return JSONResponse({'version': number}, status_code=201)

    # -- variable types ---------------------------------------------------------------------------

    async def list_types(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.store.variable_types))

    async def upsert_type(self, request: Request) -> Response:
        variable_type = await self.body(request, parse_variable_type)
        await self._write_work(self.store.upsert_variable_type, variable_type)
        return JSONResponse(variable_type)

    # -- updates stream ---------------------------------------------------------------------------

    async def updates(self, request: Request) -> Response:
        async def events() -> AsyncIterator[bytes]:
            async for frame in self.broadcaster.subscribe():
                yield frame  # a complete, pre-encoded SSE frame (sse-starlette sends bytes as they are)

        return EventSourceResponse(
            events(),
            ping=self.keepalive_interval,
            ping_message_factory=lambda: ServerSentEvent(comment='keepalive', sep='\n'),
            headers={'Cache-Control': 'no-cache'},
            sep='\n',
        )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, str(exc.detail), dict(exc.headers or {}))


def create_app(
    store: Store | str | Path,
    *,
    read_keys: Iterable[str] = (),
    write_keys: Iterable[str] = (),
    keepalive_interval: float = 15.0,
    allow_anonymous_read: bool = False,
    limits: Limits | None = None,
) -> Starlette:
    """Return the server's ASGI app over ``store`` (a :class:`Store` or a SQLite path the app opens and closes).

    ``limits`` (default: :class:`Limits`'s defaults) caps bodies and what they hold; its connection
    limits are applied by :func:`~remotevars.server.make_server`, which reads ``app.state.limits``.
    ``app.state.broadcaster`` is the SSE fan-out (closed on shutdown), ``app.state.store`` the store and
    ``app.state.counts`` the :class:`RequestCounts`.
    """
    owned = not isinstance(store, Store)
    the_store = Store(store) if not isinstance(store, Store) else store
    broadcaster = Broadcaster()
    keys = Keys(read_keys, write_keys, allow_anonymous_read=allow_anonymous_read)
    the_limits = Limits() if limits is None else limits
    api = _Api(the_store, keys, broadcaster, keepalive_interval, the_limits)
    read: Scope = 'read'
    write: Scope = 'write'

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            broadcaster.close()
            if owned:
                the_store.close()

    routes = [
        Route('/v1/variables/', api.guarded(read, api.list_variables), methods=['GET']),
        Route('/v1/variables/', api.guarded(write, api.create_variable), methods=['POST']),
        # Before the {name} routes: POST on "bulk" is the bulk write; other methods fall through to them.
        Route('/v1/variables/bulk/', api.guarded(write, api.bulk), methods=['POST']),
        Route('/v1/variables/{name}/', api.guarded(read, api.get_variable), methods=['GET']),
        Route('/v1/variables/{name}/', api.guarded(write, api.replace_variable), methods=['PUT']),
        Route('/v1/variables/{name}/', api.guarded(write, api.delete_variable), methods=['DELETE']),
        Route('/v1/variables/{name}/versions/', api.guarded(read, api.list_versions), methods=['GET']),
        Route('/v1/variables/{name}/versions/', api.guarded(write, api.create_version), methods=['POST']),
        Route('/v1/variable-types/', api.guarded(read, api.list_types), methods=['GET']),
        Route('/v1/variable-types/', api.guarded(write, api.upsert_type), methods=['POST']),
        Route('/v1/variable-updates/', api.guarded(read, api.updates), methods=['GET']),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(ErrorBoundary)],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.limits = the_limits
    app.state.store = the_store
    app.state.broadcaster = broadcaster
    app.state.counts = api.counts
    return app
