"""The Starlette application: the Logfire variables API plus the documented extensions (docs/server.md).

Handlers check the key, read the body under its size cap (:mod:`._body`), decode and validate it
(:mod:`._wire`, :mod:`._edit_bodies`) in a worker thread so a large write never stalls the event loop,
and run one operation (:mod:`._ops`) in a worker thread too (storage and schema checks are blocking;
one write's work at a time). The SSE stream announces every move of the store's snapshot, this
process's commits and those of other processes sharing the database alike, as one message carrying
the changed variables (:mod:`._updates`, :mod:`._feed`). Every refusal is JSON ``{"detail": ...}``
with a 4xx status (503 when the storage is unavailable); nothing a client sends produces a 500, and a
real 500 is logged once (:mod:`._boundary`). ``/healthz`` and ``/readyz`` need no key
(:mod:`._health`). The console (:mod:`.console`, at ``/ui/``) is mounted next to these routes and runs
its edits through the same operations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
from starlette.routing import BaseRoute, Route

from remotevars.server._auth import ANONYMOUS, ApiKey, Keys, Scope, bearer_token, unnamed_keys
from remotevars.server._body import read_body
from remotevars.server._boundary import ErrorBoundary
from remotevars.server._broadcast import Broadcaster
from remotevars.server._edit import SchemaViolation
from remotevars.server._edit_routes import EditRoutes, written_variable
from remotevars.server._health import Health
from remotevars.server._limits import Limits
from remotevars.server._open import open_store
from remotevars.server._ops import Operations, Outcome
from remotevars.server._preconditions import Precondition
from remotevars.server._shape import encode, encode_items
from remotevars.server._storage import Commit, StorageUnavailable, Store
from remotevars.server._updates import encode_update
from remotevars.server._wire import (
    WriteRejected,
    check_name,
    parse_body,
    parse_bulk,
    parse_variable_type,
    parse_write,
)

__all__ = ['create_app']

logger = logging.getLogger('remotevars.server')

_MISSING_KEY = 'Missing API key (Authorization: bearer <key>)'

Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar('T')

#: Writes whose work (validating the body, then the operation) runs at the same time, in worker
#: threads. That work is CPU-bound and the store serialises writes anyway: more threads gain nothing
#: (the GIL) and each extra one competes with the event loop for it. With validation and store calls
#: of concurrent writes overlapping, reads waited about twice as long during a burst of 2 MiB writes
#: (benchmarks/bench_server.py).
_WRITE_CONCURRENCY = 1


def _error(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    # Messages quote what the client sent; an unpaired surrogate in it is spelled out (\ud800) so the
    # answer stays encodable, and strict JSON.
    printable = detail.encode('utf-8', 'backslashreplace').decode('utf-8')
    return JSONResponse({'detail': printable, **extra}, status_code=status, headers=headers)


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
    """The request handlers, bound to one store (through its operations), key set and broadcaster."""

    def __init__(
        self, ops: Operations, keys: Keys, broadcaster: Broadcaster, keepalive_interval: float, limits: Limits
    ) -> None:
        self.ops = ops
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

    def guarded(self, scope: Scope, handler: Handler) -> Handler:
        """Return ``handler`` behind the key check: 401 without a valid key, 403 for a read key on writes.

        The key's name is ``request.state.actor`` (what the history records). The variable name in the
        path is checked here (422, :func:`~._wire.check_name` with the name limit): handlers take it as it is.
        """

        async def endpoint(request: Request) -> Response:
            header = request.headers.get('authorization')
            key = self.keys.identify(header)
            has_token = bearer_token(header) is not None
            if key is None:
                # An anonymous reader asking to write lacks a key (401) rather than a scope (403).
                if has_token or scope == 'write' or not self.keys.allow_anonymous_read:
                    detail = 'Invalid API key' if has_token else _MISSING_KEY
                    return _error(401, detail, {'WWW-Authenticate': 'Bearer'})
            elif scope == 'write' and key.scope != 'write':
                return _error(403, 'This API key can only read; a write key is required')
            request.state.actor = key.name if key is not None else ANONYMOUS
            try:
                name = request.path_params.get('name')
                if name is not None:
                    check_name(name, self.limits.max_name_length)
                return await handler(request)
            except SchemaViolation as exc:
                return _error(exc.status, str(exc), errors=exc.errors)
            except WriteRejected as exc:
                # The rest of a body refused unread (413) is received and dropped, within the body timeout:
                # closing now would reset the connection before a client that sends first reads the answer.
                return _error(exc.status, str(exc))
            except StorageUnavailable as exc:
                logger.warning('storage error on %s %s: %s', request.method, request.url.path, exc)
                return _error(503, f'Storage unavailable: {exc}', {'Retry-After': '1'})

        return endpoint

    async def read(self, request: Request, decode: Callable[[bytes, Limits], T]) -> T:
        """Return ``decode(body, limits)``: every endpoint's one way to read a body, the console's forms too.

        The body is read under the size cap, then decoded in a worker thread once a write slot is free.
        Raises :class:`WriteRejected` (413, 400) and what ``decode`` raises.
        """
        raw = await read_body(request, self.limits.max_body_bytes)
        return await self._write_work(decode, raw, self.limits)

    async def read_json(self, request: Request, parse: Callable[[Any, Limits], T]) -> T:
        """Return ``parse(decoded body, limits)``: a JSON body, decoded strictly. Raises :class:`WriteRejected`."""
        return await self.read(request, lambda raw, limits: parse_body(raw, parse, limits))

    async def run(self, operation: Callable[[], Outcome]) -> Outcome:
        """Run ``operation`` in a worker thread once a write slot is free, and return its outcome.

        Its commit reaches the SSE streams through the store (see :func:`create_app`), before this returns.
        """
        return await self._write_work(operation)

    def variable_response(self, name: str, outcome: Outcome, status: int = 200) -> Response:
        """Return the variable's read shape (plus ``warnings`` when the write left any) with its ETag."""
        warnings = b',"warnings":' + encode([w.to_json() for w in outcome.warnings]) if outcome.warnings else b''

        def body(variable: bytes) -> bytes:
            return variable[:-1] + warnings + b'}' if warnings and variable != b'null' else variable

        return written_variable(self.ops.snapshot, name, body, status)

    # -- variables ----------------------------------------------------------------------------------

    async def list_variables(self, request: Request) -> Response:
        snapshot = self.ops.snapshot
        headers = {'ETag': snapshot.etag, 'Cache-Control': 'no-cache'}
        if _matches_etag(request.headers.get('if-none-match'), snapshot.etag):
            self.counts.config_not_modified += 1
            return Response(status_code=304, headers=headers)
        self.counts.config_full += 1
        return Response(snapshot.body, media_type='application/json', headers=headers)

    async def create_variable(self, request: Request) -> Response:
        write = await self.read_json(request, parse_write)
        outcome = await self.run(lambda: self.ops.create(write, actor=request.state.actor))
        return self.variable_response(write.name, outcome, 201)

    async def get_variable(self, request: Request) -> Response:
        name = request.path_params['name']
        snapshot = self.ops.snapshot
        encoded = snapshot.encoded.get(name)
        if encoded is None:
            return _error(404, f'Variable {name!r} not found')
        return Response(encoded, media_type='application/json', headers=_etag_header(snapshot.variable_etag(name)))

    async def replace_variable(self, request: Request) -> Response:
        name = request.path_params['name']
        write = await self.read_json(request, parse_write)
        if write.name != name:
            raise WriteRejected(f'name: body name {write.name!r} does not match the name {name!r} in the path')
        precondition = Precondition.from_header(request.headers.get('if-match'))
        outcome = await self.run(lambda: self.ops.replace(write, actor=request.state.actor, precondition=precondition))
        return self.variable_response(name, outcome)

    async def delete_variable(self, request: Request) -> Response:
        name = request.path_params['name']
        precondition = Precondition.from_header(request.headers.get('if-match'))
        await self.run(lambda: self.ops.delete(name, actor=request.state.actor, precondition=precondition))
        return Response(status_code=204)

    async def bulk(self, request: Request) -> Response:
        upserts, deletes = await self.read_json(request, parse_bulk)
        outcome = await self.run(lambda: self.ops.bulk(upserts, deletes, actor=request.state.actor))
        body: dict[str, Any] = {'changes': [{'event': c.event, 'name': c.name} for c in outcome.commit.changes]}
        if outcome.warnings:
            body['warnings'] = [w.to_json() for w in outcome.warnings]
        return JSONResponse(body)

    async def list_versions(self, request: Request) -> Response:
        name = request.path_params['name']

        def read() -> bytes | None:
            # Read and encoded in a worker thread: a variable may hold many large versions.
            versions = self.ops.versions(name)
            if versions is None:
                return None
            return b'{"name":' + encode(name) + b',"versions":' + encode_items(versions) + b'}'

        body = await run_in_threadpool(read)
        if body is None:
            return _error(404, f'Variable {name!r} not found')
        return Response(body, media_type='application/json')

    # -- variable types ---------------------------------------------------------------------------

    async def list_types(self, request: Request) -> Response:
        body = await run_in_threadpool(lambda: encode_items(self.ops.variable_types()))
        return Response(body, media_type='application/json')

    async def upsert_type(self, request: Request) -> Response:
        variable_type = await self.read_json(request, parse_variable_type)
        await self.run(lambda: self.ops.upsert_variable_type(variable_type, actor=request.state.actor))
        return Response(await run_in_threadpool(encode, variable_type), media_type='application/json')

    # -- updates stream ---------------------------------------------------------------------------

    async def updates(self, request: Request) -> Response:
        async def events() -> AsyncIterator[bytes]:
            async for frame in self.broadcaster.subscribe():
                yield frame  # a complete, pre-encoded SSE frame (sse-starlette sends bytes as they are)

        return EventSourceResponse(
            events(),
            ping=self.keepalive_interval,
            ping_message_factory=lambda: ServerSentEvent(comment='keepalive', sep='\n'),
            # Clients bound the silence they accept to a few periods (a half-open stream is noticed).
            headers={'Cache-Control': 'no-cache', 'X-Remotevars-Keepalive': f'{self.keepalive_interval:g}'},
            sep='\n',
        )


def _etag_header(etag: str | None) -> dict[str, str] | None:
    return None if etag is None else {'ETag': etag}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, str(exc.detail), dict(exc.headers or {}))


def _stream_publisher(loop: asyncio.AbstractEventLoop, broadcaster: Broadcaster) -> Callable[[Commit], None]:
    """Return a store subscriber that hands each move of the snapshot to ``broadcaster`` on ``loop``."""

    def publish(commit: Commit) -> None:
        # Encoded once, on the store's thread; the event loop only queues the bytes for every stream.
        update = encode_update(commit)
        if update is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: this app has shut down
            loop.call_soon_threadsafe(broadcaster.publish, update)

    return publish


def create_app(
    store: Store | str | Path,
    *,
    read_keys: Iterable[str] = (),
    write_keys: Iterable[str] = (),
    keys: Iterable[ApiKey] = (),
    keepalive_interval: float = 15.0,
    allow_anonymous_read: bool = False,
    limits: Limits | None = None,
    ui: bool = True,
    session_secret: str | None = None,
    migrate: bool = True,
) -> Starlette:
    """Return the server's ASGI app over ``store``: a :class:`Store`, or a database the app opens and closes.

    A database is a SQLite path or a PostgreSQL URL (``postgresql://...``), migrated forward on open
    unless ``migrate`` is False. ``keys`` are named keys (from a keys file); ``read_keys``/``write_keys``
    are secrets without names, which get the names ``read-key-1``, ``write-key-1``... Raises
    :class:`~remotevars.ConfigurationError` when two keys share a name or a secret, and what
    :func:`~._open.open_store` raises.

    The app subscribes to the store when it starts (lifespan): from then on every commit to the
    database, from this process or another, reaches its SSE streams.

    ``ui`` serves the console at ``/ui/`` (:mod:`remotevars.server.console`); ``session_secret`` signs its
    session cookies (None: a random secret, so a restart signs everybody out; several instances behind
    one address need the same secret).

    ``limits`` (default: :class:`Limits`'s defaults) caps bodies and what they hold, for the API and
    the operations alike; its connection limits are applied by :func:`~remotevars.server.make_server`,
    which reads ``app.state.limits``.

    ``app.state.broadcaster`` is the SSE fan-out (closed on shutdown), ``app.state.store`` the store,
    ``app.state.ops`` its :class:`~._ops.Operations` and ``app.state.counts`` the :class:`RequestCounts`.
    """
    key_set = Keys([*keys, *unnamed_keys(read_keys, write_keys)], allow_anonymous_read=allow_anonymous_read)
    owned = isinstance(store, str | Path)
    the_store: Store = open_store(store, migrate=migrate) if isinstance(store, str | Path) else store
    broadcaster = Broadcaster()
    the_limits = Limits() if limits is None else limits
    ops = Operations(the_store, limits=the_limits)
    api = _Api(ops, key_set, broadcaster, keepalive_interval, the_limits)
    edits = EditRoutes(ops, api.run, api.read_json)
    read: Scope = 'read'
    write: Scope = 'write'

    health = Health(the_store)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        the_store.subscribe(_stream_publisher(asyncio.get_running_loop(), broadcaster))
        try:
            yield
        finally:
            broadcaster.close()
            if owned:
                the_store.close()

    def route(path: str, scope: Scope, handler: Handler, method: str) -> Route:
        return Route(path, api.guarded(scope, handler), methods=[method])

    variable = '/v1/variables/{name}/'
    routes: list[BaseRoute] = [
        route('/v1/variables/', read, api.list_variables, 'GET'),
        route('/v1/variables/', write, api.create_variable, 'POST'),
        # Before the {name} routes: POST on "bulk" is the bulk write; other methods fall through to them.
        route('/v1/variables/bulk/', write, api.bulk, 'POST'),
        route(variable, read, api.get_variable, 'GET'),
        route(variable, write, api.replace_variable, 'PUT'),
        route(variable, write, api.delete_variable, 'DELETE'),
        route(variable + 'versions/', read, api.list_versions, 'GET'),
        route(variable + 'versions/', write, edits.create_version, 'POST'),
        route(variable + 'labels/{label:path}', write, edits.set_label, 'PUT'),
        route(variable + 'labels/{label:path}', write, edits.delete_label, 'DELETE'),
        route(variable + 'rollout/', write, edits.set_rollout, 'PUT'),
        route(variable + 'overrides/', write, edits.add_override, 'POST'),
        route(variable + 'overrides/', write, edits.clear_overrides, 'DELETE'),
        route(variable + 'overrides/{index:int}/', write, edits.remove_override, 'DELETE'),
        route(variable + 'history/', read, edits.history, 'GET'),
        route(variable + 'rollback/', write, edits.rollback, 'POST'),
        route('/v1/variable-types/', read, api.list_types, 'GET'),
        route('/v1/variable-types/', write, api.upsert_type, 'POST'),
        route('/v1/variable-updates/', read, api.updates, 'GET'),
        Route('/healthz', health.healthz, methods=['GET']),
        Route('/readyz', health.readyz, methods=['GET']),
    ]
    if ui:
        # Imported here: the console's templates and sessions cost nothing when it is off.
        from remotevars.server.console import Sessions, console_routes

        sessions = Sessions(key_set, session_secret)
        routes += console_routes(
            ops, key_set, api.run, api.read, broadcaster, keepalive_interval=keepalive_interval, sessions=sessions
        )
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(ErrorBoundary)],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.limits = the_limits
    app.state.store = the_store
    app.state.ops = ops
    app.state.broadcaster = broadcaster
    app.state.counts = api.counts
    return app
