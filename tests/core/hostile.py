"""A hostile stand-in for a variables server, on 127.0.0.1, for the client's attack tests.

Each answer follows a *mode* the test sets: a good config, a 300 MB body, an endless chunked body, a
body or headers dripped a byte a second, an update stream with one endless ``data:`` line, or one
whose keepalives stop while the connection stays open (half-open). Everything is bounded: an answer
stops after :data:`MAX_BYTES` or :data:`MAX_SECONDS`, or as soon as the client goes away, and
``__exit__`` closes every connection and joins every thread.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import Counter
from typing import Final

MAX_BYTES: Final = 512 * 2**20
MAX_SECONDS: Final = 30.0
CONFIG_PATH: Final = '/v1/variables/'
STREAM_PATH: Final = '/v1/variable-updates/'
_FILLER: Final = b' ' * 2**20  # JSON whitespace: an endless body is not garbage until it ends


def config_body(**values: object) -> bytes:
    """A read-format config: one variable per keyword, its one label ``production`` holding the value."""
    return json.dumps(
        {
            'variables': {
                name: {
                    'name': name,
                    'labels': {'production': {'version': 1, 'serialized_value': json.dumps(value)}},
                    'rollout': {'labels': {'production': 1.0}},
                    'overrides': [],
                }
                for name, value in values.items()
            }
        }
    ).encode()


class _Gone(Exception):
    """The client went away, or a bound was reached."""


class HostileServer:
    """A raw HTTP/1.1 server on 127.0.0.1; one thread per connection, one request per connection.

    ``config_mode``: ``'good'`` (:attr:`config`), ``'huge'`` (300 MB with its Content-Length),
    ``'endless'`` (chunked, never ending), ``'drip-body'``, ``'drip-headers'`` (a byte a second).
    ``stream_mode``: ``'quiet'`` (keepalive comments every ``keepalive`` seconds), ``'endless-line'``,
    ``'half-open'`` (``silent_after`` keepalives, then nothing on an open connection), ``'refuse'``
    (404). ``announce`` adds ``X-Remotevars-Keepalive`` to the stream's headers. ``seen`` counts
    requests by ``(path, mode)``.
    """

    def __init__(self) -> None:
        self.config = config_body(flag='good')
        self.config_mode = 'good'
        self.stream_mode = 'refuse'
        self.keepalive = 1.0
        self.silent_after = 3
        self.announce: str | None = None
        self.seen: Counter[tuple[str, str]] = Counter()
        self.stream_opened_at: list[float] = []
        self.silent_since: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._generation = 0  # end_streams() moves it on; a stream of an older generation ends
        self._listener = socket.create_server(('127.0.0.1', 0))
        self._listener.settimeout(0.05)  # accept() wakes up to see the stop flag
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name='hostile-server')

    @property
    def url(self) -> str:
        """The server's origin."""
        return f'http://127.0.0.1:{self._listener.getsockname()[1]}'

    def __enter__(self) -> HostileServer:
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._acceptor.join(10)
        self._listener.close()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        for thread in list(self._threads):
            thread.join(10)

    def count(self, path: str, mode: str | None = None) -> int:
        """Return how many requests for ``path`` (answered in ``mode``, if given) arrived so far."""
        with self._lock:
            return sum(n for (p, m), n in self.seen.items() if p == path and (mode is None or m == mode))

    def end_streams(self) -> None:
        """Close the open streams (their clients reconnect, and get the stream mode in force then)."""
        with self._lock:
            self._generation += 1

    # -- serving -----------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._connections.append(connection)
            thread = threading.Thread(target=self._serve, args=(connection,), name='hostile-connection')
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        started = time.monotonic()
        try:
            connection.settimeout(5.0)
            request = b''
            while b'\r\n\r\n' not in request and len(request) < 65536:
                data = connection.recv(4096)
                if not data:
                    return
                request += data
            path = request.split(b' ', 2)[1].decode()
            if path == CONFIG_PATH:
                mode = self.config_mode
                with self._lock:
                    self.seen[path, mode] += 1
                self._config(connection, mode, started)
            elif path == STREAM_PATH:
                mode = self.stream_mode
                with self._lock:
                    self.seen[path, mode] += 1
                self._stream(connection, mode, started)
            else:
                self._send(connection, b'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
        except (_Gone, OSError):
            pass
        finally:
            with self._lock:
                self._connections.remove(connection)
            connection.close()

    def _send(self, connection: socket.socket, data: bytes) -> None:
        if self._stop.is_set():
            raise _Gone
        connection.sendall(data)

    def _check(self, started: float, sent: int) -> None:
        if self._stop.is_set() or sent > MAX_BYTES or time.monotonic() - started > MAX_SECONDS:
            raise _Gone

    def _config(self, connection: socket.socket, mode: str, started: float) -> None:
        send = self._send
        if mode == 'good':
            body = self.config
            head = f'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n'
            send(connection, head.encode() + b'ETag: "good"\r\nConnection: close\r\n\r\n' + body)
        elif mode == 'huge':
            size = 300 * 10**6
            send(
                connection,
                f'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n'.encode(),
            )
            self._fill(connection, started, size, chunked=False)
        elif mode == 'endless':
            send(connection, b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n')
            self._fill(connection, started, MAX_BYTES + 1, chunked=True)
        elif mode == 'drip-body':
            send(connection, b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n')
            self._drip(connection, started, b' ')
        elif mode == 'drip-headers':
            send(connection, b'HTTP/1.1 200 OK\r\n')
            self._drip(connection, started, b'X')
        else:  # pragma: no cover - a typo in a test
            raise ValueError(mode)

    def _fill(self, connection: socket.socket, started: float, size: int, *, chunked: bool) -> None:
        sent = 0
        while sent < size:
            self._check(started, sent)
            block = _FILLER[: min(len(_FILLER), size - sent)]
            self._send(connection, f'{len(block):x}\r\n'.encode() + block + b'\r\n' if chunked else block)
            sent += len(block)

    def _drip(self, connection: socket.socket, started: float, byte: bytes) -> None:
        sent = 0
        while True:
            self._check(started, sent)
            self._send(connection, byte)
            sent += 1
            if self._stop.wait(1.0):
                raise _Gone

    def _stream(self, connection: socket.socket, mode: str, started: float) -> None:
        if mode == 'refuse':
            self._send(connection, b'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
            return
        announce = f'X-Remotevars-Keepalive: {self.announce}\r\n' if self.announce else ''
        head = f'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n{announce}\r\n'
        self._send(connection, head.encode())
        with self._lock:
            self.stream_opened_at.append(time.monotonic())
            generation = self._generation
        if mode == 'endless-line':
            self._send(connection, b'data: ')
            line = b'x' * 2**20
            sent = 0
            while True:
                self._check(started, sent)
                self._send(connection, line)
                sent += len(line)
        keepalives = 0
        next_at = time.monotonic() + self.keepalive
        while generation == self._generation:
            self._check(started, 0)
            if mode == 'half-open' and keepalives >= self.silent_after:
                if self.silent_since is None:
                    self.silent_since = time.monotonic()
                self._stop.wait(0.05)  # silent, the connection open: as behind a dead proxy
                continue
            if time.monotonic() < next_at:
                self._stop.wait(min(0.05, next_at - time.monotonic()))
                continue
            self._send(connection, b': keepalive\n\n')
            keepalives += 1
            next_at += self.keepalive
