"""Helpers for the tests of several server instances: a loopback TCP balancer and an SSE stream recorder.

- :class:`TcpBalancer`: listens on 127.0.0.1 and forwards each connection to the next backend (round
  robin) that accepts it; ``stop()`` drops every connection (like a network cut) and ``start()``
  listens again on the same port. ``connections()`` counts the open connections per backend.
- :class:`StreamRecorder`: holds ``GET /v1/variable-updates/`` of one server in a thread and keeps
  every update message's JSON (``events``), reconnecting when the stream ends.
- :func:`assert_chained`: the messages form one ETag chain (each ``previous_etag`` is the ``etag``
  before it).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
from httpx_sse import connect_sse

__all__ = ['StreamRecorder', 'TcpBalancer', 'assert_chained', 'recording', 'wait_for']


def wait_for(condition: Callable[[], bool], timeout: float, message: str, interval: float = 0.02) -> float:
    """Return the seconds ``condition()`` took to hold; raises ``AssertionError`` with ``message`` after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f'{message} (after {timeout} s)')
        time.sleep(interval)
    return time.monotonic() - start


class TcpBalancer:
    """A round-robin TCP forwarder on 127.0.0.1 in front of ``backends`` (ports on 127.0.0.1)."""

    def __init__(self, backends: Sequence[int], port: int = 0) -> None:
        self.backends = list(backends)
        self.port = port
        self._next = 0
        self._lock = threading.Lock()
        self._open: dict[socket.socket, int] = {}  # both ends of each forwarded connection -> backend port
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    def start(self) -> None:
        """Listen (again, on the same port after :meth:`stop`)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(('127.0.0.1', self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), name='balancer', daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and cut every forwarded connection."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            sockets, self._open = list(self._open), {}
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def connections(self) -> dict[int, int]:
        """Return how many connections are open to each backend port."""
        with self._lock:
            counts = dict.fromkeys(self.backends, 0)
            for backend in self._open.values():
                counts[backend] += 1
        return {port: count // 2 for port, count in counts.items()}  # two sockets per connection

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = self._connect()
            if upstream is None:
                client.close()
                continue
            sock, backend = upstream
            with self._lock:
                self._open[client] = self._open[sock] = backend
            for source, target in ((client, sock), (sock, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _connect(self) -> tuple[socket.socket, int] | None:
        for _ in range(len(self.backends)):
            with self._lock:
                backend = self.backends[self._next % len(self.backends)]
                self._next += 1
            try:
                return socket.create_connection(('127.0.0.1', backend), timeout=2), backend
            except OSError:
                continue  # that backend is down: the next one
        return None

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            source.settimeout(None)
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.pop(source, None)
                self._open.pop(target, None)
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


class StreamRecorder:
    """Records the update messages of one server's SSE stream in a background thread."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key
        self.events: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._client = httpx.Client(
            base_url=url, headers={'Authorization': f'bearer {key}'}, timeout=httpx.Timeout(5.0, read=None)
        )
        self._thread = threading.Thread(target=self._run, name=f'recorder-{url}', daemon=True)
        self._thread.start()
        if not self.connected.wait(10):
            raise AssertionError(f'no stream from {url}')

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with connect_sse(self._client, 'GET', '/v1/variable-updates/') as source:
                    self.connected.set()
                    for event in source.iter_sse():
                        if event.data:
                            self.events.append(json.loads(event.data))
            except (httpx.HTTPError, RuntimeError):
                if not self._stop.is_set():
                    time.sleep(0.1)

    def close(self) -> None:
        self._stop.set()
        self._client.close()
        self._thread.join(5)


@contextlib.contextmanager
def recording(urls: Sequence[str], key: str) -> Iterator[list[StreamRecorder]]:
    """Yield a :class:`StreamRecorder` on each server, closed on exit."""
    recorders: list[StreamRecorder] = []
    try:
        for url in urls:
            recorders.append(StreamRecorder(url, key))
        yield recorders
    finally:
        for recorder in recorders:
            recorder.close()


def assert_chained(events: Sequence[dict[str, Any]], start: str) -> None:
    """Assert that ``events`` chain from ETag ``start``: each carries changes and the ``previous_etag`` before it."""
    etag = start
    for i, event in enumerate(events):
        assert event.get('previous_etag') == etag, f'message {i} goes from {event.get("previous_etag")}, not {etag}'
        assert event.get('changes'), f'message {i} carries no changes: {event}'
        etag = event['etag']
