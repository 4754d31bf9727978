"""The console's routes under ``/ui/``, mounted by :func:`remotevars.server.create_app` (on by default).

Every response of the console, error pages and static files included, carries the security headers of
:mod:`._headers`. The console is a client of the server's :class:`~remotevars.server.Operations`, like
the HTTP API: it reads and writes through them, never reaching the store.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from remotevars.server._auth import Keys
from remotevars.server._body import BodyReader
from remotevars.server._broadcast import Broadcaster
from remotevars.server._ops import Operations
from remotevars.server.console._base import Console, Run
from remotevars.server.console._edits import Edits
from remotevars.server.console._headers import SecurityHeaders
from remotevars.server.console._new_version import NewVersion
from remotevars.server.console._pages import Pages
from remotevars.server.console._rate_limit import SignInLimiter
from remotevars.server.console._session import Sessions
from remotevars.server.console._sign_in import SignIn

__all__ = ['PREFIX', 'console_routes']

#: Where the console is served.
PREFIX = '/ui'
STATIC = Path(__file__).parent / 'static'


def console_routes(
    ops: Operations,
    keys: Keys,
    run: Run,
    read_body: BodyReader,
    broadcaster: Broadcaster,
    *,
    keepalive_interval: float = 15.0,
    sessions: Sessions | None = None,
    limiter: SignInLimiter | None = None,
) -> list[BaseRoute]:
    """Return the routes of the console (``/`` and ``/ui`` redirect to ``/ui/``) over the server's operations.

    ``run`` runs an operation in the thread pool and ``read_body`` reads a body under the size cap, then
    decodes it there (the API's own; the store announces every commit);
    ``sessions`` signs the session cookies (by default with a random secret: a restart signs everybody
    out); ``limiter`` counts wrong keys at the sign-in.
    """
    console = Console(
        ops,
        keys,
        run,
        read_body,
        broadcaster,
        sessions=sessions or Sessions(keys),
        limiter=limiter or SignInLimiter(),
        keepalive_interval=keepalive_interval,
    )
    pages, edits, new_version, sign_in = Pages(console), Edits(console), NewVersion(console), SignIn(console)
    variable = '/variables/{name}'
    routes = [
        Route('/', console.page(pages.variables), methods=['GET']),
        Route('/rows', console.page(pages.rows_fragment), methods=['GET']),
        Route('/updates', pages.updates, methods=['GET']),
        Route('/sign-in', sign_in.form, methods=['GET']),
        Route('/sign-in', sign_in.submit, methods=['POST']),
        Route('/sign-out', console.action(sign_in.sign_out, needs_write=False), methods=['POST']),
        Route(variable + '/', console.page(pages.variable), methods=['GET']),
        Route(variable + '/compare', console.page(pages.compare), methods=['GET']),
        Route(variable + '/versions/new', console.page(new_version.form, needs_write=True), methods=['GET']),
        Route(variable + '/versions/new', console.action(new_version.save), methods=['POST']),
        Route(variable + '/labels', console.page(edits.label_form, needs_write=True), methods=['GET']),
        Route(variable + '/labels', console.action(edits.label), methods=['POST']),
        Route(variable + '/rollout', console.page(edits.rollout_form, needs_write=True), methods=['GET']),
        Route(variable + '/rollout', console.action(edits.rollout), methods=['POST']),
        Route(variable + '/overrides/new', console.page(edits.override_form, needs_write=True), methods=['GET']),
        Route(variable + '/overrides/new', console.action(edits.override), methods=['POST']),
        Route(variable + '/overrides/{index:int}/remove', console.action(edits.remove_override), methods=['POST']),
        Route(variable + '/rollback', console.action(edits.rollback), methods=['POST']),
        Mount('/static', StaticFiles(directory=STATIC), name='static'),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: 'There is no such page.', 405: 'That is not something this page does.'}.get(
            exc.status_code, str(exc.detail)
        )
        return console.error_page(request, exc.status_code, message, console.viewer(request))

    async def server_error(request: Request, exc: Exception) -> Response:
        # A bug: uvicorn logs the traceback (Starlette re-raises it); the browser gets a page, not a stack.
        return console.error_page(request, 500, 'Something went wrong on the server; its log says what.')

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: server_error})

    async def to_console(request: Request) -> Response:
        return RedirectResponse(f'{str(request.scope.get("root_path", "")).rstrip("/")}{PREFIX}/', status_code=307)

    return [
        Route('/', to_console, methods=['GET']),
        Route(PREFIX, to_console, methods=['GET']),
        Mount(PREFIX, app=SecurityHeaders(app)),
    ]
