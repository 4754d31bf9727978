"""``GET /healthz`` and ``GET /readyz``: probes for load balancers and Kubernetes, answered without a key.

``/healthz`` says the process serves requests (200, always, without touching the database): a probe
that restarts the process should use it. ``/readyz`` says this instance can serve fresh data: the
database answers, its schema is the one this code writes, and the instance follows the other
instances' commits (200 ``{"status": "ready"}``; else 503 ``{"status": "unavailable", "detail": ...}``).
A load balancer should route to ready instances only.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from remotevars.server._storage import StorageUnavailable, Store

__all__ = ['Health']

logger = logging.getLogger('remotevars.server')


class Health:
    """The two probes over one store; a change of readiness is logged once, not on every probe."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._problem: str | None = None

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({'status': 'ok'}, headers={'Cache-Control': 'no-store'})

    async def readyz(self, request: Request) -> Response:
        try:
            await run_in_threadpool(self._store.check_ready)
        except StorageUnavailable as exc:
            problem = str(exc)
            if problem != self._problem:
                logger.warning('not ready: %s', problem)
            self._problem = problem
            return JSONResponse(
                {'status': 'unavailable', 'detail': problem},
                status_code=503,
                headers={'Cache-Control': 'no-store', 'Retry-After': '1'},
            )
        if self._problem is not None:
            logger.warning('ready again')
        self._problem = None
        return JSONResponse({'status': 'ready'}, headers={'Cache-Control': 'no-store'})
