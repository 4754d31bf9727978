"""The console's variables list with 1,000 variables: how long the server takes to answer ``GET /ui/`` (< 300 ms).

A SQLite store gets 1,000 variables (each with a JSON schema, two labels, a rollout and an override),
the server's app is built over it as ``remotevars serve`` builds it, and a signed-in request for the
list goes through the whole app (session check, building the rows, rendering the page, the security
headers), called in-process over ASGI, so the figures are the server's time, without a network.

- **first**: the first request after start-up (every row built and every label value checked against
  its schema);
- **warm**: later requests with nothing changed (rows are kept per variable revision);
- **after a write**: a request right after one variable changed (its row alone is rebuilt).

It also times the same request over HTTP on 127.0.0.1 with ``remotevars serve``'s uvicorn (uvloop,
httptools), a fresh connection per request, for the time a browser waits on this machine.

    .venv/bin/python benchmarks/bench_console.py [--variables 1000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from remotevars.server import ApiKey, Operations, SQLiteStore, create_app, make_server
from remotevars.server._auth import Keys, digest
from remotevars.server._wire import parse_write
from remotevars.server.console import Sessions

TARGET_MS = 300.0
SECRET = 'bench-console-session-secret'
KEY = ApiKey('bench', 'read', digest('bench-key-0123456789'))
SCHEMA: dict[str, Any] = {
    'title': 'Settings',
    'type': 'object',
    'properties': {'model': {'type': 'string'}, 'temperature': {'type': 'number', 'maximum': 2}},
    'required': ['model'],
}


def _variable(i: int) -> dict[str, Any]:
    def value(model: str) -> str:
        return json.dumps({'model': model, 'temperature': 0.1 * (i % 10)})

    return {
        'name': f'variable_{i:04d}',
        'description': f'Variable number {i}, with a description of a realistic length for a list page.',
        'labels': {
            'production': {'target_type': 'version', 'version': 1, 'serialized_value': value('small')},
            'canary': {'target_type': 'version', 'version': 2, 'serialized_value': value('large')},
        },
        'rollout': {'labels': {'production': 0.9, 'canary': 0.1}},
        'overrides': [
            {
                'conditions': [{'kind': 'value-equals', 'attribute': 'plan', 'value': 'enterprise'}],
                'rollout': {'labels': {'canary': 1.0}},
            }
        ],
        'json_schema': SCHEMA,
    }


async def _asgi_get(app: Any, path: str, cookie: str) -> tuple[int, int]:
    """Return (status, body length) of a GET through the ASGI app, in-process."""
    scope = {
        'type': 'http',
        'asgi': {'version': '3.0'},
        'http_version': '1.1',
        'method': 'GET',
        'scheme': 'http',
        'path': path,
        'raw_path': path.encode(),
        'query_string': b'',
        'root_path': '',
        'headers': [(b'host', b'bench'), (b'cookie', f'remotevars_console={cookie}'.encode())],
        'client': ('127.0.0.1', 1),
        'server': ('127.0.0.1', 80),
    }
    status, size = 0, 0

    async def receive() -> dict[str, Any]:
        return {'type': 'http.request', 'body': b'', 'more_body': False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, size
        if message['type'] == 'http.response.start':
            status = message['status']
        elif message['type'] == 'http.response.body':
            size += len(message.get('body', b''))

    await app(scope, receive, send)
    return status, size


def _ms(seconds: float) -> str:
    return f'{seconds * 1000:.1f} ms'


def _over_http(app: Any, cookie: str, rounds: int) -> list[float]:
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    server = make_server(app, host='127.0.0.1', port=port)
    thread = threading.Thread(target=lambda: server.run(sockets=[sock]), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    timings = []
    try:
        for _ in range(rounds):
            with httpx.Client(cookies={'remotevars_console': cookie}) as client:
                start = time.perf_counter()
                response = client.get(f'http://127.0.0.1:{port}/ui/')
                timings.append(time.perf_counter() - start)
                assert response.status_code == 200, response.status_code
    finally:
        server.should_exit = True
        thread.join(10)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0] if __doc__ else None)
    parser.add_argument('--variables', type=int, default=1000)
    parser.add_argument('--rounds', type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / 'bench.sqlite3')
        ops = Operations(store)
        ops.bulk([parse_write(_variable(i)) for i in range(args.variables)], [], actor='bench')
        app = create_app(store, keys=[KEY], session_secret=SECRET)
        _, cookie = Sessions(Keys([KEY], allow_anonymous_read=False), SECRET).issue(KEY)

        async def measure() -> dict[str, Any]:
            start = time.perf_counter()
            status, size = await _asgi_get(app, '/ui/', cookie)
            first = time.perf_counter() - start
            assert status == 200, status
            warm = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                await _asgi_get(app, '/ui/', cookie)
                warm.append(time.perf_counter() - start)
            after_write = []
            for i in range(min(args.rounds, 10)):
                ops.set_rollout('variable_0000', {'production': 0.5 + i / 100, 'canary': 0.1}, actor='bench')
                start = time.perf_counter()
                await _asgi_get(app, '/ui/', cookie)
                after_write.append(time.perf_counter() - start)
            return {'first': first, 'warm': warm, 'after_write': after_write, 'size': size}

        result = asyncio.run(measure())
        http = _over_http(app, cookie, args.rounds)
        store.close()
    warm, after_write = statistics.median(result['warm']), statistics.median(result['after_write'])
    print(f'GET /ui/ with {args.variables:,} variables ({result["size"] / 1024:.0f} KiB of HTML), in-process:')
    print(f'  first request after start-up   {_ms(result["first"]):>10}')
    print(f'  warm (median of {args.rounds})          {_ms(warm):>10}   (max {_ms(max(result["warm"]))})')
    print(f'  right after a write (median)   {_ms(after_write):>10}')
    print(f'  over HTTP, 127.0.0.1 (median)  {_ms(statistics.median(http)):>10}   (max {_ms(max(http))})')
    worst = max(result['first'], warm, after_write)
    verdict = 'meets' if worst * 1000 < TARGET_MS else 'MISSES'
    print(f'target: under {TARGET_MS:.0f} ms on the server -> {verdict} it (worst case {_ms(worst)})')


if __name__ == '__main__':
    main()
