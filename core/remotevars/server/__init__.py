"""The self-hostable variables server (``remotevars serve``): the Logfire-compatible HTTP API over SQLite.

Needs the ``server`` extra (starlette, uvicorn, sse-starlette; httptools and uvloop, which uvicorn uses
when installed, make it faster). :func:`create_app` builds the ASGI app; :func:`make_server` wraps it in
a uvicorn server that closes SSE streams on shutdown and bounds what connections may take; both follow
one :class:`Limits`.
"""

from __future__ import annotations

from remotevars.server._app import create_app
from remotevars.server._limits import Limits
from remotevars.server._run import ServerWithStreams, make_server
from remotevars.server._store import Store

__all__ = ['Limits', 'ServerWithStreams', 'Store', 'create_app', 'make_server']
