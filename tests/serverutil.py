"""Test helpers: run the variables server on 127.0.0.1 (in a thread or as a real subprocess) and seed it.

Stable API used by several test packages:

Each takes a database: a SQLite path, or a PostgreSQL URL (tests/pgcluster.py).

- ``running_server(db_path, read_keys=..., write_keys=..., keepalive_interval=..., limits=...)``: uvicorn
  in a background thread; yields a :class:`RunningServer` (``.url``, ``.read_key``, ``.write_key``,
  ``.stop()`` / ``.start()`` to restart on the same port, ``.app``, ``.guard``).
- ``server_process(db_path, port=None, ...)``: ``remotevars serve`` as a subprocess; yields a
  :class:`ServerProcess` (``.url``, keys, ``.kill()`` (SIGKILL), ``.stop()`` (SIGTERM), ``.start()``,
  ``.restart()``; ``.launch()`` then ``.wait_ready()`` to start several side by side).
- ``silent_server()``: a stand-in on 127.0.0.1 that accepts connections, counts them and never answers;
  yields a :class:`SilentServer` (``.url``, ``.connections``).
- ``free_port()``, ``seed_variable(url, write_key, body)``, ``add_version(url, write_key, name, value)``,
  ``variable_body(name, ...)``.
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
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    'RunningServer',
    'ServerProcess',
    'SilentServer',
    'add_version',
    'api_client',
    'free_port',
    'running_server',
    'seed_variable',
    'server_process',
    'silent_server',
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
        db_path: Path | str,
        *,
        read_keys: Sequence[str],
        write_keys: Sequence[str],
        keepalive_interval: float,
        port: int = 0,
        allow_anonymous_read: bool = False,
        keys: Sequence[Any] = (),
        limits: Any = None,
    ) -> None:
        self.db_path = db_path
        self.keys = tuple(keys)
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
            keys=self.keys,
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
    db_path: Path | str,
    *,
    read_keys: Sequence[str] = (READ_KEY,),
    write_keys: Sequence[str] = (WRITE_KEY,),
    keepalive_interval: float = 15.0,
    port: int = 0,
    allow_anonymous_read: bool = False,
    keys: Sequence[Any] = (),
    limits: Any = None,
) -> Iterator[RunningServer]:
    """Yield a :class:`RunningServer` over the database ``db_path`` (SQLite path or PostgreSQL URL); stops it on exit.

    ``keys`` are named keys (:class:`remotevars.server.ApiKey`), besides the unnamed read and write keys;
    ``limits`` is a ``remotevars.server.Limits`` (None: the defaults).
    """
    server = RunningServer(
        db_path,
        read_keys=read_keys,
        write_keys=write_keys,
        keepalive_interval=keepalive_interval,
        port=port,
        allow_anonymous_read=allow_anonymous_read,
        keys=keys,
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
        db_path: Path | str,
        *,
        port: int,
        read_keys: Sequence[str],
        write_keys: Sequence[str],
        keepalive_interval: float,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        read_key_for_checks: str | None = None,
        log_dir: Path | None = None,
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
        if log_dir is None:
            log_dir = db_path.parent if isinstance(db_path, Path) else Path(tempfile.mkdtemp(prefix='remotevars-log-'))
        self.log_path = log_dir / f'server-{port}.log'
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
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the process without waiting for it (then :meth:`wait_ready`; several start side by side)."""
        assert self.process is None or self.process.poll() is not None, 'already running'
        env = {**os.environ, **self.env}
        with self.log_path.open('ab') as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self) -> None:
        """Return once the launched process answers; raises ``TimeoutError`` with its log otherwise."""
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
    db_path: Path | str,
    *,
    port: int | None = None,
    read_keys: Sequence[str] = (READ_KEY,),
    write_keys: Sequence[str] = (WRITE_KEY,),
    keepalive_interval: float = 15.0,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    read_key_for_checks: str | None = None,
    log_dir: Path | None = None,
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
        log_dir=log_dir,
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
    """Create the variable, or replace it when it exists; return the server's read shape of it.

    Values that break the body's ``json_schema`` (refused with 422) are stored first without the schema,
    then the schema is set, which the server accepts with warnings: tests can seed drifted variables.
    """
    with api_client(url, write_key) as client:

        def upsert(data: Mapping[str, Any]) -> httpx.Response:
            response = client.post('/v1/variables/', json=dict(data))
            if response.status_code == 409:
                response = client.put(f'/v1/variables/{data["name"]}/', json=dict(data))
            return response

        response = upsert(body)
        if response.status_code == 422 and 'errors' in response.json():
            upsert({**body, 'json_schema': None}).raise_for_status()
            response = upsert(body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def add_version(url: str, write_key: str, name: str, serialized_value: str) -> int:
    """Create a version of ``name``; return its number.

    A value its ``json_schema`` refuses is added with the schema cleared for that moment, then the
    schema is put back (accepted with warnings): tests can seed versions that drifted from the schema.
    """
    with api_client(url, write_key) as client:
        response = client.post(f'/v1/variables/{name}/versions/', json={'serialized_value': serialized_value})
        if response.status_code == 422 and 'errors' in response.json():
            variable = client.get(f'/v1/variables/{name}/').json()
            body = {**_write_body(variable), 'json_schema': None}
            client.put(f'/v1/variables/{name}/', json=body).raise_for_status()
            response = client.post(f'/v1/variables/{name}/versions/', json={'serialized_value': serialized_value})
            response.raise_for_status()
            client.put(f'/v1/variables/{name}/', json=_write_body(variable)).raise_for_status()
        response.raise_for_status()
        return int(response.json()['version'])


def _write_body(shape: Mapping[str, Any]) -> dict[str, Any]:
    """Return the write body that keeps a variable as its read shape ``shape`` says."""
    labels = {}
    for label, target in shape['labels'].items():
        if 'serialized_value' in target:
            labels[label] = {'target_type': 'version', **target}
        elif target['ref'] in ('latest', 'code_default'):
            labels[label] = {'target_type': target['ref']}
        else:
            labels[label] = {'target_type': 'label', 'target_label': target['ref']}
    fields = ('name', 'description', 'rollout', 'overrides', 'json_schema', 'type_name', 'aliases', 'example')
    body = {f: shape[f] for f in (*fields, 'template_inputs_schema')}
    return {**body, 'labels': labels}


class SilentServer:
    """A stand-in for a variables server: accepts connections on 127.0.0.1, counts them, never answers."""

    def __init__(self) -> None:
        self._listener = _bind(0)
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name='silent-server', daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self._listener.getsockname()[1]}'

    @property
    def connections(self) -> int:
        """How many connections were accepted so far."""
        return len(self._held)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:  # the 0.05 s timeout, or the listener closed
                continue
            self._held.append(connection)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        for connection in self._held:
            connection.close()


@contextlib.contextmanager
def silent_server() -> Iterator[SilentServer]:
    """Run a :class:`SilentServer` for the block."""
    server = SilentServer()
    try:
        yield server
    finally:
        server.close()
