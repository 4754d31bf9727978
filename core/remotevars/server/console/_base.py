"""What every console handler shares: its dependencies, who is asking, the guards, forms and rendering.

A handler is wrapped by one of two guards: :meth:`Console.page` (anyone signed in, or anonymous
readers when the server allows them; a write key for the form of an edit) and :meth:`Console.action`
(a state-changing POST: a write key's session, the session's CSRF token in the form, and not a
cross-site request). A refused POST gets a 4xx page and changes nothing.

Pages are built and rendered in the thread pool (:meth:`Console.render_off_loop`), like every
operation, so a large list never holds the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import jinja2
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from remotevars._errors import RemoteVarsError
from remotevars.config import VariableConfig
from remotevars.server._auth import Keys
from remotevars.server._body import BodyReader
from remotevars.server._broadcast import Broadcaster
from remotevars.server._limits import Limits
from remotevars.server._ops import Operations, Outcome
from remotevars.server._wire import WriteRejected
from remotevars.server.console._describe import variable_config
from remotevars.server.console._json_diff import pretty_json
from remotevars.server.console._rate_limit import SignInLimiter
from remotevars.server.console._session import SESSION_COOKIE, Session, Sessions, same_token

__all__ = ['Console', 'Form', 'Refused', 'Run', 'VariableState', 'Viewer', 'hidden_fields', 'parse_form', 'root_of']

#: A submitted form: field name -> value (the last one when a name repeats).
Form = dict[str, str]
#: Runs an operation in the thread pool (the store announces its commit on the update stream; see ``_app``).
Run = Callable[[Callable[[], Outcome]], Awaitable[Outcome]]
Viewer = Session

#: Who looks without signing in, when the server lets anyone read (``--allow-anonymous-read``).
ANONYMOUS_VIEWER = Session('anonymous', 'read', '', '')

TEMPLATES = Path(__file__).parent / 'templates'

_READ_ONLY = 'This key can only read: sign in with a write key to edit.'


def root_of(request: Request) -> str:
    """Return the console's URL path with a trailing slash (``/ui/``, behind any ``root_path``)."""
    return str(request.scope.get('root_path', '')).rstrip('/') + '/'


@dataclass(frozen=True, slots=True)
class VariableState:
    """A variable as last committed: its read shape, config model and ETag (what edits are checked against)."""

    name: str
    shape: dict[str, Any]
    config: VariableConfig
    etag: str


class Refused(RemoteVarsError):
    """A request refused before its handler ran: the status and what the page says."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters['pretty_json'] = pretty_json
    env.filters['percent'] = lambda share: f'{share * 100:.4g}%'
    env.filters['weight'] = lambda weight: f'{weight:g}'
    env.filters['json'] = lambda value: Markup.escape(json.dumps(value, ensure_ascii=False))
    env.filters['at'] = lambda iso: (iso or '')[:19].replace('T', ' ')
    return env


class Console:
    """The console's dependencies and the helpers every handler uses."""

    def __init__(
        self,
        ops: Operations,
        keys: Keys,
        run: Run,
        read_body: BodyReader,
        broadcaster: Broadcaster,
        *,
        sessions: Sessions,
        limiter: SignInLimiter,
        keepalive_interval: float,
    ) -> None:
        self.ops = ops
        self.keys = keys
        self.run = run
        self.read_body = read_body
        self.broadcaster = broadcaster
        self.sessions = sessions
        self.limiter = limiter
        self.keepalive_interval = keepalive_interval
        self.templates = _environment()

    # -- who is asking -------------------------------------------------------------------------------

    def viewer(self, request: Request) -> Viewer | None:
        """Return the signed-in session of ``request``, the anonymous reader when allowed, or None."""
        session = self.sessions.read(request.cookies.get(SESSION_COOKIE))
        if session is None and self.keys.allow_anonymous_read:
            return ANONYMOUS_VIEWER
        return session

    # -- rendering ---------------------------------------------------------------------------------

    def render(
        self, request: Request, template: str, viewer: Viewer | None, status_code: int = 200, **context: Any
    ) -> Response:
        """Return ``template`` rendered as an HTML page (call from the thread pool for large pages)."""
        html = self.templates.get_template(template).render(root=root_of(request), viewer=viewer, **context)
        return HTMLResponse(html, status_code=status_code)

    async def render_off_loop(self, build: Callable[[], Response]) -> Response:
        """Return ``build()`` run in the thread pool (building pages reads and renders; never on the loop)."""
        return await run_in_threadpool(build)

    async def variable_page(
        self, request: Request, viewer: Viewer, build: Callable[[VariableState], Response]
    ) -> Response:
        """Return ``build(state)`` of the variable the path names, run in the thread pool (404 page: none such)."""
        name = request.path_params['name']

        def render() -> Response:
            state = self.state(name)
            return self.missing(request, viewer, name) if state is None else build(state)

        return await self.render_off_loop(render)

    def error_page(self, request: Request, status: int, message: str, viewer: Viewer | None = None) -> Response:
        """Return an error page saying ``message`` with ``status``."""
        return self.render(request, 'error.html', viewer, status, status=status, message=message)

    def sign_in_redirect(self, request: Request) -> Response:
        """Return a redirect to the sign-in page, coming back to this page afterwards."""
        target = request.url.path + (f'?{request.url.query}' if request.url.query else '')
        return RedirectResponse(f'{root_of(request)}sign-in?next={quote(target, safe="")}', status_code=303)

    def missing(self, request: Request, viewer: Viewer, name: str) -> Response:
        """Return the 404 page of a variable that does not exist."""
        return self.error_page(request, 404, f'There is no variable {name!r}.', viewer)

    def variable_url(self, request: Request, name: str, done: str | None = None) -> str:
        """Return the URL of a variable's page (``done``: the code of what the page says was done)."""
        return f'{root_of(request)}variables/{name}/' + (f'?done={done}' if done else '')

    # -- state -------------------------------------------------------------------------------------

    def state(self, name: str) -> VariableState | None:
        """Return variable ``name`` as last committed, or None."""
        snapshot = self.ops.snapshot
        shape = snapshot.variables.get(name)
        etag = snapshot.variable_etag(name)
        if shape is None or etag is None:
            return None
        return VariableState(name, shape, variable_config(shape), etag)

    # -- guards ------------------------------------------------------------------------------------

    def page(
        self, handler: Callable[[Request, Viewer], Awaitable[Response]], *, needs_write: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """Return ``handler`` for viewers only: anyone else is sent to the sign-in page.

        ``needs_write``: the page is the form of an edit, for write keys only (403 for readers).
        """

        async def endpoint(request: Request) -> Response:
            viewer = self.viewer(request)
            if viewer is None:
                return self.sign_in_redirect(request)
            if needs_write and not viewer.can_edit:
                return self.error_page(request, 403, _READ_ONLY, viewer)
            return await handler(request, viewer)

        return endpoint

    def action(
        self, handler: Callable[[Request, Viewer, Form], Awaitable[Response]], *, needs_write: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        """Return ``handler`` behind the checks of every state-changing POST (see the module docstring)."""

        async def endpoint(request: Request) -> Response:
            viewer = self.sessions.read(request.cookies.get(SESSION_COOKIE))
            try:
                if viewer is None:
                    raise Refused(401, 'You are not signed in (or your session expired): sign in and try again.')
                if needs_write and not viewer.can_edit:
                    raise Refused(403, _READ_ONLY)
                if request.headers.get('sec-fetch-site') == 'cross-site':
                    raise Refused(403, 'Refused: this form was sent from another site.')
                form = await self.read_form(request)
                if not same_token(form.get('csrf'), viewer.csrf):
                    raise Refused(
                        403, "Refused: the form's security token is missing or wrong. Reload the page and try again."
                    )
            except Refused as refused:
                return self.error_page(request, refused.status, refused.message, viewer)
            return await handler(request, viewer, form)

        return endpoint

    async def read_form(self, request: Request) -> Form:
        """Return the fields of an ``application/x-www-form-urlencoded`` body; raises :class:`Refused` (415, 413, 400).

        Read as the API reads its bodies: under the server's body size limit, parsed off the event loop.
        """
        content_type = request.headers.get('content-type', '').split(';')[0].strip().lower()
        if content_type != 'application/x-www-form-urlencoded':
            raise Refused(415, 'Expected a form (application/x-www-form-urlencoded).')
        try:
            return await self.read_body(request, parse_form)
        except WriteRejected as exc:
            if exc.status == 413:
                limit = self.ops.limits.max_body_bytes
                raise Refused(413, f'The form is larger than the limit of {limit:,} bytes.') from None
            raise Refused(400, 'The form could not be read.') from None


def parse_form(body: bytes, limits: Limits) -> Form:
    """Return the fields of a form body (``limits`` unused: the body was read within them); raises :class:`Refused`."""
    try:
        pairs = parse_qsl(body.decode('utf-8'), keep_blank_values=True, strict_parsing=False, max_num_fields=10_000)
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, 'The form could not be read.') from None
    return dict(pairs)


def hidden_fields(
    form: Mapping[str, str], *, leave_out: tuple[str, ...] = ('csrf', 'step', 'etag')
) -> list[tuple[str, str]]:
    """Return the fields of ``form`` to carry, as hidden inputs, from a review page to its confirmation."""
    return [(name, value) for name, value in form.items() if name not in leave_out and name != 'allow_destructive']
