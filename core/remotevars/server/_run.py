"""Running the app under uvicorn: connection limits, and a shutdown that ends open SSE streams first.

uvicorn's graceful shutdown waits for in-flight responses, and an SSE stream never finishes by itself;
so :class:`ServerWithStreams` closes the broadcaster before uvicorn starts waiting. Connections are
served by the guarded protocol of :mod:`._guard` (header and body deadlines, connection cap), set up
from the app's :class:`~remotevars.server._limits.Limits`.
"""

from __future__ import annotations

import contextlib
import gc
import socket
import sys

import uvicorn
from starlette.applications import Starlette

from remotevars.server._broadcast import Broadcaster
from remotevars.server._guard import ConnectionGuard, GuardedHttpToolsProtocol, guarded_protocol
from remotevars.server._limits import DEFAULT_MAX_CONNECTIONS, Limits

__all__ = [
    'ServerWithStreams',
    'configure_server_process',
    'freeze_start_up_objects',
    'http_protocol',
    'make_server',
    'max_connections_for',
]

#: Descriptors kept free for everything but client connections (the database, its journal, logs...).
_RESERVED_DESCRIPTORS = 100


class ServerWithStreams(uvicorn.Server):
    """A uvicorn server that ends the app's SSE streams when it begins shutting down.

    ``guard`` is the :class:`~remotevars.server._guard.ConnectionGuard` of its connections.
    """

    def __init__(self, config: uvicorn.Config, broadcaster: Broadcaster, guard: ConnectionGuard) -> None:
        super().__init__(config)
        self.broadcaster = broadcaster
        self.guard = guard

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Close every SSE stream, then shut down as uvicorn does."""
        self.broadcaster.close()
        await super().shutdown(sockets)


def _open_file_limit() -> int | None:
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def max_connections_for(limits: Limits) -> int:
    """Return the connection cap: ``limits.max_connections``, or 10,000 capped by the open-file limit minus 100."""
    if limits.max_connections is not None:
        return limits.max_connections
    open_files = _open_file_limit()
    if open_files is None:
        return DEFAULT_MAX_CONNECTIONS
    return max(1, min(DEFAULT_MAX_CONNECTIONS, open_files - _RESERVED_DESCRIPTORS))


def configure_server_process() -> None:
    """Apply the process-wide settings of a process that is a server (``remotevars serve`` does, at start).

    - The soft open-file limit is raised to the hard one: the default (often 1,024) would otherwise
      cap the connections, update streams included.
    - The interpreter's switch interval goes from 5 ms to 1 ms: while a worker thread validates or
      stores a large write, the event loop waits for the GIL up to the interval each time it needs it,
      several times per request. Read latency during bursts of 2 MiB writes: p50 ~6 ms -> ~2 ms
      (benchmarks/bench_server.py), for the same write throughput.
    """
    sys.setswitchinterval(0.001)
    try:
        import resource
    except ImportError:  # not on Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        # An unlimited hard limit is refused as a soft one by some kernels: then the soft limit stays.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def freeze_start_up_objects() -> None:
    """Leave the objects of a server's start-up out of every later garbage collection (``remotevars serve`` does).

    Call it once the app and server are built, just before serving. A full collection walks every
    container the process holds (the imported libraries account for most of them): ~20 ms holding the
    GIL, during which no read is answered, several times a second during bursts of large writes. Frozen,
    the start-up objects cost nothing; what is freed later by reference counting (old snapshots) is
    still freed (benchmarks/bench_server.py).
    """
    gc.collect()
    gc.freeze()


def http_protocol(app: Starlette) -> type[GuardedHttpToolsProtocol]:
    """Return the HTTP protocol uvicorn serves ``app`` with: one choice for a single process and every worker.

    The guarded httptools protocol (:mod:`._guard`), bound to the connection limits of the app's
    :class:`~remotevars.server._limits.Limits` (``app.state.limits``); each process caps its own connections.
    """
    limits: Limits = getattr(app.state, 'limits', None) or Limits()
    return guarded_protocol(limits, max_connections_for(limits))


def make_server(
    app: Starlette,
    *,
    host: str = '127.0.0.1',
    port: int = 8000,
    log_level: str = 'warning',
    access_log: bool = False,
    graceful_timeout: int = 3,
) -> ServerWithStreams:
    """Return a uvicorn server for ``app`` (from :func:`remotevars.server.create_app`); then ``run()`` it.

    The connection limits come from ``app.state.limits`` (the app's :class:`Limits`).
    """
    protocol = http_protocol(app)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=graceful_timeout,
        lifespan='on',
    )
    broadcaster: Broadcaster = app.state.broadcaster
    return ServerWithStreams(config, broadcaster, protocol.guard)
