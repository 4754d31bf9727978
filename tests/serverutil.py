"""Test helpers: run the variables server on 127.0.0.1 (in a thread or as a real subprocess) and seed it.

Stable API used by several test packages:

- ``running_server(db_path, read_keys=..., write_keys=..., keepalive_interval=..., limits=...)``: uvicorn
  in a background thread; yields a :class:`RunningServer` (``.url``, ``.read_key``, ``.write_key``,
  ``.stop()`` / ``.start()`` to restart on the same port, ``.app``, ``.guard``).
- ``server_process(db_path, port=None, ...)``: ``remotevars serve`` as a subprocess; yields a
  :class:`ServerProcess` (``.url``, keys, ``.kill()`` (SIGKILL), ``.stop()`` (SIGTERM), ``.start()``,
  ``.restart()``).
- ``free_port()``, ``seed_variable(url, write_key, body)``, ``variable_body(name, ...)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    'RunningServer',
    'ServerProcess',
    'api_client',
    'free_port',
    'running_server',
    'seed_variable',
    'server_process',
    'variable_body',
    'wait_until_ready',
]

READ_KEY = 'read-key'
WRITE_KEY = 'write-key'
_START_DEADLINE = 15.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(('127.0.0.1', port))
    sock.set_inheritable(True)
    return sock


def api_client(url: str, key: str | None, *, timeout: float = 10.0) -> httpx.Client:
    """Return an httpx client for the server at ``url`` sending ``key`` as bearer token (None: no key).

    ``verify=False`` because the server is plain HTTP on loopback, and building a certificate store costs
    ~0.1 s per client.
    """
    headers = {} if key is None else {'Authorization': f'bearer {key}'}
    return httpx.Client(base_url=url, headers=headers, timeout=timeout, verify=False)


def wait_until_ready(url: str, key: str, deadline: float = _START_DEADLINE) -> None:
    """Return once ``GET /v1/variables/`` answers 200; raises ``TimeoutError`` after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    last: object = None
    with httpx.Client(timeout=1.0, verify=False) as client:
        while time.monotonic() < end:
            try:
                response = client.get(f'{url}/v1/variables/', headers={'Authorization': f'bearer {key}'})
                if response.status_code == 200:
                    return
                last = response.status_code
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.05)
    raise TimeoutError(f'server at {url} not ready after {deadline}s (last: {last!r})')


class RunningServer:
    """The server running in a background thread (its own event loop) on a fixed port."""

    def __init__(
        self,
        db_path: Path,
        *,
        read_keys: Sequence[str],
        write_keys: Sequence[str],
        keepalive_interval: float,
        port: int = 0,
        allow_anonymous_read: bool = False,
        limits: Any = None,
    ) -> None:
        self.db_path = db_path
        self.limits = limits
        self.read_keys = tuple(read_keys)
        self.write_keys = tuple(write_keys)
        self.read_key = self.read_keys[0] if self.read_keys else ''
        self.write_key = self.write_keys[0] if self.write_keys else ''
        self.keepalive_interval = keepalive_interval
        self.allow_anonymous_read = allow_anonymous_read
        self.port = port
        self.app: Any = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's origin, e.g. ``http://127.0.0.1:54321``."""
        return f'http://127.0.0.1:{self.port}'

    def start(self) -> None:
        """Start (or restart, same port and database); returns once the server answers."""
        from remotevars.server import create_app, make_server

        assert self._thread is None, 'already running'
        sock = _bind(self.port)
        self.port = int(sock.getsockname()[1])
        self.app = create_app(
            self.db_path,
            read_keys=self.read_keys,
            write_keys=self.write_keys,
            keepalive_interval=self.keepalive_interval,
            allow_anonymous_read=self.allow_anonymous_read,
            limits=self.limits,
        )
        server = make_server(self.app, host='127.0.0.1', port=self.port, graceful_timeout=2)
        # No signal handlers: uvicorn installs them only on the main thread, and this runs on another.
        self._server = server

        def run() -> None:
            try:
                asyncio.run(server.serve(sockets=[sock]))
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name=f'remotevars-server-{self.port}', daemon=True)
        self._thread.start()
        end = time.monotonic() + _START_DEADLINE
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > end:
                self.stop()
                raise RuntimeError(f'server on port {self.port} failed to start')
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop the server (SSE streams are closed first); returns once its thread ended."""
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10.0)
        if self._thread.is_alive():
            raise RuntimeError(f'server on port {self.port} did not stop within 10s')
        self._thread = None
        self._server = None

    @property
    def guard(self) -> Any:
        """The running server's connection guard (``remotevars.server._guard.ConnectionGuard``)."""
        return self._server.guard

    @property
    def subscriber_count(self) -> int:
        """Return how many SSE streams are open right now."""
        return int(self.app.state.broadcaster.subscriber_count) if self.app is not None else 0


@contextlib.contextmanager
def running_server(
    db_path: Path,
    *,
    read_keys: Sequence[str] = (READ_KEY,),
    write_keys: Sequence[str] = (WRITE_KEY,),
    keepalive_interval: float = 15.0,
    port: int = 0,
    allow_anonymous_read: bool = False,
    limits: Any = None,
) -> Iterator[RunningServer]:
    """Yield a :class:`RunningServer` over the SQLite file ``db_path``; stops it on exit.

    ``limits`` is a ``remotevars.server.Limits`` (None: the defaults).
    """
    server = RunningServer(
        db_path,
        read_keys=read_keys,
        write_keys=write_keys,
        keepalive_interval=keepalive_interval,
        port=port,
        allow_anonymous_read=allow_anonymous_read,
        limits=limits,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


class ServerProcess:
    """``remotevars serve`` as a real subprocess on a fixed port; output goes to ``log_path``."""

    def __init__(
        self,
        db_path: Path,
        *,
        port: int,
        read_keys: Sequence[str],
        write_keys: Sequence[str],
        keepalive_interval: float,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        read_key_for_checks: str | None = None,
    ) -> None:
        self.db_path = db_path
        self.port = port
        self.read_keys = tuple(read_keys)
        self.write_keys = tuple(write_keys)
        self.read_key = self.read_keys[0] if self.read_keys else ''
        self.write_key = self.write_keys[0] if self.write_keys else ''
        self.keepalive_interval = keepalive_interval
        self.extra_args = tuple(extra_args)
        self.env = dict(env or {})
        self.check_key = read_key_for_checks or self.read_key or self.write_key
        self.log_path = db_path.parent / f'server-{port}.log'
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's origin."""
        return f'http://127.0.0.1:{self.port}'

    def command(self) -> list[str]:
        """Return the command line that starts the server."""
        args = ['serve', '--host', '127.0.0.1', '--port', str(self.port), '--db', str(self.db_path)]
        args += ['--keepalive', str(self.keepalive_interval)]
        for key in self.read_keys:
            args += ['--read-key', key]
        for key in self.write_keys:
            args += ['--write-key', key]
        args += list(self.extra_args)
        return [sys.executable, '-c', 'import sys; from remotevars.cli import main; sys.exit(main())', *args]

    def start(self) -> None:
        """Start the process; returns once it answers (raises ``TimeoutError`` with its log otherwise)."""
        assert self.process is None or self.process.poll() is not None, 'already running'
        env = {**os.environ, **self.env}
        with self.log_path.open('ab') as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_until_ready(self.url, self.check_key)
        except TimeoutError as exc:
            self.kill()
            raise TimeoutError(f'{exc}\n--- server log ---\n{self.log_path.read_text(errors="replace")}') from None

    def _end(self, sig: signal.Signals) -> int | None:
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
        try:
            return process.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(timeout=10.0)

    def kill(self) -> None:
        """Kill the process abruptly (SIGKILL), like a crash."""
        self._end(signal.SIGKILL)

    def stop(self) -> int | None:
        """Stop the process gracefully (SIGTERM); return its exit code."""
        return self._end(signal.SIGTERM)

    def restart(self, *, graceful: bool = True) -> None:
        """Stop (SIGTERM, or SIGKILL when not ``graceful``) and start again on the same port and database."""
        if graceful:
            self.stop()
        else:
            self.kill()
        self.start()


@contextlib.contextmanager
def server_process(
    db_path: Path,
    *,
    port: int | None = None,
    read_keys: Sequence[str] = (READ_KEY,),
    write_keys: Sequence[str] = (WRITE_KEY,),
    keepalive_interval: float = 15.0,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    read_key_for_checks: str | None = None,
) -> Iterator[ServerProcess]:
    """Yield a started :class:`ServerProcess`; it is stopped on exit."""
    server = ServerProcess(
        db_path,
        port=port or free_port(),
        read_keys=read_keys,
        write_keys=write_keys,
        keepalive_interval=keepalive_interval,
        extra_args=extra_args,
        env=env,
        read_key_for_checks=read_key_for_checks,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def variable_body(
    name: str,
    value: Any = None,
    *,
    labels: Mapping[str, Any] | None = None,
    rollout: Mapping[str, float] | None = None,
    overrides: Sequence[Mapping[str, Any]] = (),
    description: str | None = None,
    json_schema: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a write body (contract §1.7).

    With ``value`` (and no ``labels``) the variable gets one label ``production`` holding ``value``
    (JSON-encoded here) and a rollout sending everyone to it. ``labels`` maps label names to write
    targets as-is, e.g. ``{'prod': {'target_type': 'version', 'serialized_value': '1'}}``.
    """
    if labels is None and value is not None:
        labels = {'production': {'target_type': 'version', 'version': None, 'serialized_value': json.dumps(value)}}
        rollout = {'production': 1.0} if rollout is None else rollout
    body: dict[str, Any] = {
        'name': name,
        'description': description,
        'rollout': {'labels': dict(rollout or {})},
        'overrides': [dict(o) for o in overrides],
    }
    if json_schema is not None:
        body['json_schema'] = dict(json_schema)
    if labels:
        body['labels'] = dict(labels)
    return body


def seed_variable(url: str, write_key: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Create the variable, or replace it when it exists; return the server's read shape of it."""
    with api_client(url, write_key) as client:
        response = client.post('/v1/variables/', json=dict(body))
        if response.status_code == 409:
            response = client.put(f'/v1/variables/{body["name"]}/', json=dict(body))
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result
