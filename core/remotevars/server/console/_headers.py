"""The security headers of every console response (pages, redirects, errors, static files).

A strict Content-Security-Policy: scripts, styles and images from the console itself only, no inline
script or style, connections (the update stream) to the same origin, forms posting only back to it,
and no framing (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` for older browsers). Pages
are not stored by caches: they show values that may be confidential.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ['CONTENT_SECURITY_POLICY', 'SECURITY_HEADERS', 'SecurityHeaders']

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

SECURITY_HEADERS = {
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'same-origin',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
}


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` (and ``Cache-Control``) to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message['type'] == 'http.response.start':
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if 'cache-control' not in headers:
                    headers['Cache-Control'] = 'no-store'
            await send(message)

        await self.app(scope, receive, send_with_headers)
