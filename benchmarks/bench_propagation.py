"""Propagation benchmark: how fast a write reaches N client processes, and what idle streams cost the server.

One ``remotevars serve`` process; N client processes (default 50, forked from this one before it starts
any thread) each configure their own ``remotevars.Client`` and hold the SSE stream. For each write the
clients are armed, the write is sent, and its acknowledgement (the HTTP response) is timestamped; each
client then polls ``get()`` in a tight loop (``--poll-sleep``, 0.5 ms by default) and reports over a
pipe the ``time.monotonic()`` at which it saw the new value (the clock is system-wide on Linux, so
timestamps compare across processes). Latencies are relative to the acknowledgement; a client may see
the value a little before the writer has parsed the response, which shows as a small negative latency.

On a small machine the busy-polling itself eats the CPU (50 processes waking every 0.5 ms need more
than two cores), which delays the very updates being measured. ``--mode listen`` measures the same
thing without that load: each client waits for the client's refresh listener, then checks ``get()``.

Then the server's resident memory is read from /proc before and after this process opens ``--idle``
(default 1,000) SSE connections with httpx on asyncio.

Targets (issue 3): p50 <= 25 ms, p99 <= 150 ms, 1,000 idle connections < 150 MB RSS.

Measured on the shared 2-core machine (2026-11-27, server with httptools + uvloop), since the stream
carries the changed variables (clients apply them without a request): 50 clients, poll mode p50
13-20 ms, p99 30-80 ms; listen mode p50 ~12 ms, p99 ~25 ms; 1 client 0.5 ms, 10 clients 2.8 ms (the
cost is the 50 client processes waking up in turn on two cores, ~0.25 ms each). 1,000 idle streams:
~97 MB RSS (55 MB with none). Before (every event made every client GET the whole config): p50
72-285 ms, p99 up to ~280 ms.

Run: ``.venv/bin/python benchmarks/bench_propagation.py [--clients 50] [--writes 10] [--idle 1000]``.
The figures depend heavily on the machine; on a shared 2-core box 50 busy-polling processes compete
for the CPU with the server, so expect noise.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# Logfire (a dev dependency) registers a pydantic plugin that imports it into every process; the
# benchmark measures remotevars, not that.
os.environ.setdefault('PYDANTIC_DISABLE_PLUGINS', '__all__')

import httpx

import remotevars
from remotevars._api import ApiClient
from remotevars.config import LabeledValue, Rollout, VariableConfig

READ_KEY = 'bench-read'
WRITE_KEY = 'bench-write'
NAME = 'bench'


def _config(value: int, version: int) -> VariableConfig:
    return VariableConfig(
        name=NAME,
        labels={'production': LabeledValue(version=version, serialized_value=str(value))},
        rollout=Rollout(labels={'production': 1.0}),
        overrides=[],
    )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f'no VmRSS for pid {pid}')


def _start_server(db: Path, port: int, keepalive: float) -> subprocess.Popen[bytes]:
    command = [sys.executable, '-c', 'import sys; from remotevars.cli import main; sys.exit(main())', 'serve']
    command += ['--host', '127.0.0.1', '--port', str(port), '--db', str(db), '--keepalive', str(keepalive)]
    command += ['--read-key', READ_KEY, '--write-key', WRITE_KEY]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f'http://127.0.0.1:{port}'
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            if httpx.get(f'{url}/v1/variables/', headers={'Authorization': f'bearer {READ_KEY}'}).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError('the server exited at start-up')
        time.sleep(0.1)
    process.kill()
    raise RuntimeError('the server did not start within 60 s')


def _client_main(conn: Connection, url: str, mode: str, poll_sleep: float) -> None:
    """One client process: configure, hold the stream, then report when each expected value shows."""
    client = remotevars.Client()
    variable = client.var(NAME, default=-1)
    changed = threading.Event()
    client.add_listener(lambda event: changed.set())
    client.configure(remotevars.VariablesOptions(api_key=READ_KEY, base_url=url, polling_interval=3600))
    end = time.monotonic() + 120
    while not client.status().stream_connected and time.monotonic() < end:
        time.sleep(0.01)
    conn.send(('ready', bool(client.status().stream_connected)))
    while True:
        message = conn.recv()
        if message[0] == 'quit':
            break
        target = message[1]
        conn.send(('armed', target))
        deadline = time.monotonic() + 30
        if mode == 'poll':
            while variable.get().value != target and time.monotonic() < deadline:
                time.sleep(poll_sleep)
        else:
            while time.monotonic() < deadline:
                changed.clear()
                if variable.get().value == target:
                    break
                changed.wait(0.05)
        seen = time.monotonic()
        conn.send(('got', target, seen if variable.get().value == target else None))
    client.shutdown()
    conn.close()


def _recv_all(conns: list[Connection], kind: str, timeout: float) -> list[tuple[Any, ...]]:
    """Receive one message of ``kind`` from every connection (in any order) within ``timeout`` seconds."""
    from multiprocessing.connection import wait

    pending = set(range(len(conns)))
    results: list[tuple[Any, ...]] = [()] * len(conns)
    end = time.monotonic() + timeout
    while pending:
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f'{len(pending)} clients did not send {kind!r} within {timeout}s')
        ready = wait([conns[i] for i in pending], remaining)
        for conn in ready:
            assert isinstance(conn, Connection)
            index = conns.index(conn)
            message = conn.recv()
            if message[0] != kind:
                raise RuntimeError(f'client {index} sent {message!r}, expected {kind!r}')
            results[index] = message
            pending.discard(index)
    return results


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def measure_propagation(url: str, clients: int, writes: int, mode: str, poll_sleep: float) -> list[float]:
    """Return every client's latency (ms) from each write's acknowledgement to its ``get()`` seeing it."""
    context = multiprocessing.get_context('fork')
    pipes = [context.Pipe() for _ in range(clients)]
    processes = [
        context.Process(target=_client_main, args=(child, url, mode, poll_sleep), daemon=True) for _, child in pipes
    ]
    started = time.monotonic()
    for process in processes:
        process.start()
    conns = [parent for parent, _ in pipes]
    ready = _recv_all(conns, 'ready', 300)
    connected = sum(1 for message in ready if message[1])
    print(f'{clients} clients ready in {time.monotonic() - started:.1f} s ({connected} holding the stream)')
    latencies: list[float] = []
    try:
        with ApiClient(url, WRITE_KEY) as writer:
            for i in range(1, writes + 1):
                for conn in conns:
                    conn.send(('expect', i))
                _recv_all(conns, 'armed', 30)
                time.sleep(0.2)
                writer.update_variable(NAME, _config(i, i + 1))
                acknowledged = time.monotonic()
                got = _recv_all(conns, 'got', 60)
                missing = sum(1 for message in got if message[2] is None)
                write_latencies = [(message[2] - acknowledged) * 1000 for message in got if message[2] is not None]
                latencies += write_latencies
                print(
                    f'write {i:2d}: p50 {_percentile(write_latencies, 50):7.1f} ms  '
                    f'max {max(write_latencies):7.1f} ms' + (f'  ({missing} clients never saw it)' if missing else '')
                )
                time.sleep(0.3)
    finally:
        for conn in conns:
            conn.send(('quit',))
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
    return latencies


async def _hold_idle_streams(url: str, count: int, hold: float, server_pid: int) -> float:
    """Open ``count`` SSE streams, wait ``hold`` seconds, and return the server's RSS (MB) meanwhile."""
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=0)
    headers = {'Authorization': f'bearer {READ_KEY}', 'Accept': 'text/event-stream'}
    opened = 0
    release = asyncio.Event()
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0, read=None)) as http:

        async def hold_one() -> None:
            nonlocal opened
            async with http.stream('GET', f'{url}/v1/variable-updates/', headers=headers) as response:
                if response.status_code != 200:
                    raise RuntimeError(f'stream refused: {response.status_code}')
                opened += 1
                await release.wait()

        tasks = [asyncio.create_task(hold_one()) for _ in range(count)]
        end = time.monotonic() + 120
        while opened < count and time.monotonic() < end:
            if any(task.done() and task.exception() for task in tasks):
                break
            await asyncio.sleep(0.1)
        print(f'{opened} idle streams open')
        await asyncio.sleep(hold)
        rss = _rss_mb(server_pid)
        release.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return rss


def main() -> None:
    """Run both measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--clients', type=int, default=50)
    parser.add_argument('--writes', type=int, default=10)
    parser.add_argument('--idle', type=int, default=1000)
    parser.add_argument('--keepalive', type=float, default=15.0)
    parser.add_argument('--mode', choices=['poll', 'listen'], default='poll', help='how clients notice the value')
    parser.add_argument('--poll-sleep', type=float, default=0.0005, help='seconds between get() calls (poll mode)')
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, args.idle * 2 + 512))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # inherited by the server

    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        url = f'http://127.0.0.1:{port}'
        server = _start_server(Path(tmp) / 'bench.sqlite3', port, args.keepalive)
        try:
            with ApiClient(url, WRITE_KEY) as writer:
                writer.create_variable(_config(0, 1))
            latencies = (
                measure_propagation(url, args.clients, args.writes, args.mode, args.poll_sleep) if args.clients else []
            )
            if latencies:
                p50, p99 = _percentile(latencies, 50), _percentile(latencies, 99)
                print(
                    f'\npropagation ({args.mode} mode) over {len(latencies)} samples '
                    f'({args.clients} clients x {args.writes} writes): '
                    f'p50 {p50:.1f} ms (target <= 25), p90 {_percentile(latencies, 90):.1f} ms, '
                    f'p99 {p99:.1f} ms (target <= 150), max {max(latencies):.1f} ms, '
                    f'mean {statistics.fmean(latencies):.1f} ms'
                )
            if args.idle:
                time.sleep(1.0)
                baseline = _rss_mb(server.pid)
                rss = asyncio.run(_hold_idle_streams(url, args.idle, 3.0, server.pid))
                print(
                    f'server RSS: {baseline:.1f} MB idle, {rss:.1f} MB holding {args.idle} SSE connections '
                    f'(target < 150 MB; {(rss - baseline) * 1024 / args.idle:.1f} KB per connection)'
                )
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)


if __name__ == '__main__':
    main()
