"""A plain WSGI app for the gunicorn ``--preload`` test: one remote variable, configured at import.

With ``--preload`` this module is imported once in the gunicorn master, so the remote provider starts
there and every worker inherits it through ``fork()``. Each response says which worker answered and
the value it read; ``?hold=<seconds>`` keeps the worker busy so that concurrent requests spread over
the workers. The API key and server URL come from ``REMOTEVARS_API_KEY`` / ``REMOTEVARS_BASE_URL``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import remotevars

client = remotevars.Client()
flag = client.var('flag', default='default')
client.configure(remotevars.VariablesOptions(polling_interval=3600))


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer ``{"pid": ..., "value": ...}`` after holding the worker for ``?hold`` seconds."""
    hold = float(parse_qs(environ.get('QUERY_STRING', '')).get('hold', ['0'])[0])
    time.sleep(min(hold, 2.0))
    body = json.dumps({'pid': os.getpid(), 'value': flag.get().value}).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]
