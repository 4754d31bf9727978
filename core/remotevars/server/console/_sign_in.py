"""Signing in to the console with an API key, and signing out.

A key the server knows starts a session (:mod:`._session`): a write key edits, a read key only looks.
The key itself is not kept anywhere. Wrong keys are counted per client address and, past the limit,
refused with 429 before they are even checked (:mod:`._rate_limit`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from remotevars.server.console._base import Console, Form, Refused, Viewer, root_of
from remotevars.server.console._session import SESSION_COOKIE, SIGN_IN_COOKIE, SIGN_IN_MAX_AGE

__all__ = ['SignIn']


def _safe_next(request: Request, target: str) -> str:
    """Return where to go after signing in: ``target`` when it is a console path, else the variables list."""
    root = root_of(request)
    if target.startswith(root) and not target.startswith('//') and '\\' not in target:
        return target
    return root


class SignIn:
    """The sign-in form, its submission and sign-out."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def _set_cookie(self, request: Request, response: Response, name: str, value: str, max_age: int) -> None:
        # Only the console's paths, never readable by scripts, never sent from another site; HTTPS-only on HTTPS.
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=root_of(request),
            httponly=True,
            samesite='strict',
            secure=request.url.scheme == 'https',
        )

    def _page(self, request: Request, status: int = 200, error: str | None = None, next_url: str = '') -> Response:
        token, cookie = self.console.sessions.sign_in_token()
        viewer = self.console.viewer(request)
        response = self.console.render(
            request, 'sign_in.html', viewer, status, token=token, error=error, next_url=next_url or root_of(request)
        )
        self._set_cookie(request, response, SIGN_IN_COOKIE, cookie, SIGN_IN_MAX_AGE)
        return response

    async def form(self, request: Request) -> Response:
        """``GET /ui/sign-in``: the sign-in form."""
        return self._page(request, next_url=_safe_next(request, request.query_params.get('next', '')))

    async def submit(self, request: Request) -> Response:
        """``POST /ui/sign-in``: check the form's token and the key; start a session and go on."""
        client = request.client.host if request.client else 'unknown'
        try:
            form: Form = await self.console.read_form(request)
        except Refused as refused:
            return self.console.error_page(request, refused.status, refused.message)
        next_url = _safe_next(request, form.get('next', ''))
        if not self.console.sessions.check_sign_in(request.cookies.get(SIGN_IN_COOKIE), form.get('token')):
            error = 'The sign-in form expired or was not sent from this page: enter the key again.'
            return self._page(request, 403, error, next_url)
        wait = self.console.limiter.retry_after(client)
        if wait > 0:
            response = self._page(request, 429, f'Too many wrong keys: try again in {int(wait) + 1} s.', next_url)
            response.headers['Retry-After'] = str(int(wait) + 1)
            return response
        key = self.console.keys.identify(f'bearer {form.get("key", "").strip()}')
        if key is None:
            self.console.limiter.failed(client)
            return self._page(request, 401, 'That key is not one this server knows.', next_url)
        self.console.limiter.succeeded(client)
        _, cookie = self.console.sessions.issue(key)
        response = RedirectResponse(next_url, status_code=303)
        self._set_cookie(request, response, SESSION_COOKIE, cookie, self.console.sessions.max_age)
        response.delete_cookie(SIGN_IN_COOKIE, path=root_of(request))
        return response

    async def sign_out(self, request: Request, viewer: Viewer, form: Form) -> Response:
        """``POST /ui/sign-out``: end the session (its cookie is refused from now on, even a copy of it)."""
        self.console.sessions.revoke(viewer)
        response = RedirectResponse(f'{root_of(request)}sign-in', status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=root_of(request), httponly=True, samesite='strict')
        return response
