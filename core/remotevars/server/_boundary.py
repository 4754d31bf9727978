"""The last line of defence: an exception escaping a handler becomes one logged error and a JSON 500.

Starlette's own error middleware re-raises after answering, so uvicorn logs the traceback a second
time and closes the connection. This middleware sits inside it and swallows the exception instead:
the error is logged once (one line, with its traceback), the client gets ``{"detail": ...}`` like
every other error, and its keep-alive connection stays usable.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ['ErrorBoundary']

logger = logging.getLogger('remotevars.server')


class ErrorBoundary:
    """ASGI middleware that answers 500 (once logged) for any exception of the app it wraps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; on an exception, log it and answer 500 unless a response has begun."""
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message['type'] == 'http.response.start'
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            return  # the client went away mid-request: nobody to answer, nothing wrong with the server
        except Exception as exc:
            logger.error('unexpected error on %s %s', scope.get('method'), scope.get('path'), exc_info=exc)
            if not started:
                await JSONResponse({'detail': 'Internal server error'}, status_code=500)(scope, receive, send)
