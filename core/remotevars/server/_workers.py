"""Serving from several worker processes on one listening socket (``remotevars serve --workers N``).

uvicorn's supervisor (``uvicorn.supervisors.Multiprocess``) binds the socket, starts the workers
(``spawn``), pings them, replaces one that dies and stops them all on SIGINT/SIGTERM. An app and its
database connections cannot cross processes, so each worker receives picklable
:class:`AppSettings` and builds its own app after it started (:class:`WorkerConfig` is the app
factory uvicorn calls there). A worker that cannot build its app (the database is unreachable, say)
exits with uvicorn's start-up failure code, which stops the server rather than restarting it in a loop.

The workers share the database; each follows the others' commits (:mod:`._feed`), so a client gets
every write, with an unbroken ETag chain, whichever worker it is connected to.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from remotevars._errors import RemoteVarsError
from remotevars.server._app import create_app
from remotevars.server._auth import ApiKey
from remotevars.server._limits import Limits
from remotevars.server._run import configure_server_process, freeze_start_up_objects, http_protocol
from remotevars.server._wire import DEFAULT_LIMITS

__all__ = ['AppSettings', 'WorkerConfig', 'run_workers']

logger = logging.getLogger('remotevars.server')


@dataclass(frozen=True, slots=True)
class AppSettings:
    """Everything :func:`~._app.create_app` needs, as plain data a worker process can receive."""

    db: str | Path
    keys: tuple[ApiKey, ...] = ()
    read_keys: tuple[str, ...] = ()
    write_keys: tuple[str, ...] = ()
    keepalive_interval: float = 15.0
    allow_anonymous_read: bool = False
    migrate: bool = True
    ui: bool = True
    session_secret: str | None = None
    limits: Limits = DEFAULT_LIMITS

    def create_app(self) -> Starlette:
        """Return the app these settings describe (it opens the database). Raises like :func:`~._app.create_app`."""
        return create_app(
            self.db,
            keys=self.keys,
            read_keys=self.read_keys,
            write_keys=self.write_keys,
            keepalive_interval=self.keepalive_interval,
            allow_anonymous_read=self.allow_anonymous_read,
            migrate=self.migrate,
            ui=self.ui,
            session_secret=self.session_secret,
            limits=self.limits,
        )


class WorkerConfig(uvicorn.Config):
    """A uvicorn config whose app is built, in the process that serves it, from :class:`AppSettings`.

    The worker serves it as a single process would: same HTTP protocol (:func:`~._run.http_protocol`,
    with the connection limits of ``settings.limits``) and the same process settings (switch interval,
    start-up objects frozen out of garbage collection).
    """

    def __init__(self, settings: AppSettings, **kwargs: Any) -> None:
        # uvicorn wants an app reference; load() below builds the app and load_app() hands it over.
        super().__init__('remotevars.server:create_app', factory=True, **kwargs)
        self.settings = settings
        self._app: Starlette | None = None

    def load(self) -> None:
        """Build the app (in the worker, when its server starts), then let uvicorn load it."""
        configure_server_process()
        try:
            self._app = self.settings.create_app()
        except RemoteVarsError as exc:
            logger.error('worker could not start: %s', exc)
            sys.exit(STARTUP_FAILURE)
        self.http = http_protocol(self._app)
        super().load()
        freeze_start_up_objects()

    def load_app(self) -> Callable[[], Starlette]:
        """Return the factory uvicorn calls to get the app built by :meth:`load`."""
        app = self._app
        assert app is not None, 'load() builds the app first'
        return lambda: app


def run_workers(
    settings: AppSettings,
    workers: int,
    *,
    host: str = '127.0.0.1',
    port: int = 8000,
    log_level: str = 'warning',
    graceful_timeout: int = 3,
) -> None:
    """Serve the app of ``settings`` from ``workers`` processes on ``host:port`` until SIGINT/SIGTERM."""
    config = WorkerConfig(
        settings,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=graceful_timeout,
        lifespan='on',
    )
    Multiprocess(config, sockets=[config.bind_socket()]).run()
