"""The self-hostable variables server (``remotevars serve``): the Logfire-compatible HTTP API and its control plane.

Needs the ``server`` extra (starlette, uvicorn, sse-starlette, jsonschema-rs; Jinja2 and itsdangerous for
the console; httptools and uvloop, which uvicorn uses when installed, make it faster). :func:`create_app`
builds the ASGI app over a :class:`Store`: :func:`open_store` opens a SQLite file (:class:`SQLiteStore`)
or, with the ``postgres`` extra, a PostgreSQL URL (``remotevars.server._postgres.PostgresStore``), with the
web console at ``/ui/`` (:mod:`remotevars.server.console`); :class:`Operations` are the write operations
both serve; :func:`make_server` wraps the app in a uvicorn server that closes SSE streams on shutdown and
bounds what connections may take. Both follow one :class:`Limits`.
"""

from __future__ import annotations

from remotevars.server._app import create_app
from remotevars.server._auth import ApiKey
from remotevars.server._limits import Limits
from remotevars.server._open import open_store
from remotevars.server._ops import Operations, Outcome, Target
from remotevars.server._run import ServerWithStreams, make_server
from remotevars.server._sqlite import SQLiteStore
from remotevars.server._storage import StorageUnavailable, Store

__all__ = [
    'ApiKey',
    'Limits',
    'Operations',
    'Outcome',
    'SQLiteStore',
    'ServerWithStreams',
    'StorageUnavailable',
    'Store',
    'Target',
    'create_app',
    'make_server',
    'open_store',
]
