"""Running the app under uvicorn, with a shutdown that ends open SSE streams first.

uvicorn's graceful shutdown waits for in-flight responses, and an SSE stream never finishes by itself;
so :class:`ServerWithStreams` closes the broadcaster before uvicorn starts waiting.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn
from starlette.applications import Starlette

from remotevars.server._broadcast import Broadcaster

__all__ = ['ServerWithStreams', 'http_protocol', 'make_server']


class ServerWithStreams(uvicorn.Server):
    """A uvicorn server that ends the app's SSE streams when it begins shutting down."""

    def __init__(self, config: uvicorn.Config, broadcaster: Broadcaster) -> None:
        super().__init__(config)
        self.broadcaster = broadcaster

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Close every SSE stream, then shut down as uvicorn does."""
        self.broadcaster.close()
        await super().shutdown(sockets)


def http_protocol(app: Starlette) -> str | type[asyncio.Protocol]:
    """Return the HTTP protocol uvicorn serves ``app`` with: one choice for a single process and every worker."""
    return 'auto'


def make_server(
    app: Starlette,
    *,
    host: str = '127.0.0.1',
    port: int = 8000,
    log_level: str = 'warning',
    access_log: bool = False,
    graceful_timeout: int = 3,
) -> ServerWithStreams:
    """Return a uvicorn server for ``app`` (from :func:`remotevars.server.create_app`); then ``run()`` it."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=http_protocol(app),
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=graceful_timeout,
        lifespan='on',
    )
    broadcaster: Broadcaster = app.state.broadcaster
    return ServerWithStreams(config, broadcaster)
