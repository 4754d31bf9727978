"""The connection guard: header and body deadlines, idle keep-alive, header size, and the connection cap.

Each test runs its own server on 127.0.0.1 with short bounds and talks raw HTTP over sockets, so a
connection the server closes shows as end-of-file. Timing bounds are generous (a busy 2-core machine)
but tell the mechanisms apart: nothing closes before its deadline.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from remotevars.server import Limits
from tests.server.attackutil import KeepAlive, open_socket
from tests.serverutil import RunningServer, running_server


@contextlib.contextmanager
def _server(tmp_path: Path, **limits: Any) -> Iterator[RunningServer]:
    with running_server(tmp_path / 'db.sqlite3', limits=Limits(**limits)) as running:
        yield running


def _request(server: RunningServer, method: str = 'GET', extra: bytes = b'') -> bytes:
    return (
        f'{method} /v1/variables/ HTTP/1.1\r\nHost: x\r\nAuthorization: bearer {server.read_key}\r\n'.encode()
        + extra
        + b'\r\n'
    )


def _seconds_until_closed(sock: socket.socket, started: float, limit: float = 15.0) -> tuple[float, bytes]:
    """Return (seconds from ``started`` until the server closed ``sock``, everything it sent before)."""
    sock.settimeout(limit)
    received = b''
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b''
        if not chunk:
            return time.monotonic() - started, received
        received += chunk


def _read_answer(sock: socket.socket) -> bytes:
    """Return one whole answer to ``GET /v1/variables/`` on an empty server (headers and body)."""
    received = b''
    while not received.endswith(b'{"variables":{}}'):
        chunk = sock.recv(65536)
        assert chunk, f'closed after {received!r}'
        received += chunk
    return received


@pytest.fixture
def short_headers(tmp_path: Path) -> Iterator[RunningServer]:
    """Headers within 1 s; idle keep-alive 30 s (so only the header deadline can close a connection)."""
    with _server(tmp_path, header_timeout=1.0, idle_timeout=30.0, body_timeout=30.0) as running:
        yield running


def test_a_silent_connection_is_closed_at_the_header_deadline(short_headers: RunningServer) -> None:
    with open_socket(short_headers.port) as sock:
        started = time.monotonic()
        elapsed, received = _seconds_until_closed(sock, started)
    assert received == b''
    assert 0.8 < elapsed < 4.0
    assert short_headers.guard.counts.header_timeouts >= 1


def test_dripping_headers_do_not_extend_the_deadline(short_headers: RunningServer) -> None:
    with open_socket(short_headers.port) as sock:
        started = time.monotonic()
        sock.sendall(b'GET /v1/variables/ HTTP/1.1\r\n')
        with pytest.raises(OSError):
            for _ in range(40):  # 4 s of one byte every 0.1 s, far past the 1 s deadline
                sock.sendall(b'X')
                time.sleep(0.1)
        elapsed = time.monotonic() - started
    assert 0.8 < elapsed < 4.0


def test_the_next_request_on_a_kept_alive_connection_gets_its_own_header_deadline(
    short_headers: RunningServer,
) -> None:
    with open_socket(short_headers.port) as sock:
        sock.sendall(_request(short_headers))
        assert _read_answer(sock).startswith(b'HTTP/1.1 200 ')
        time.sleep(0.5)  # idle, within the deadline
        sock.sendall(b'GET /v1/vari')  # then half a request
        started = time.monotonic()
        elapsed, received = _seconds_until_closed(sock, started)
    assert received == b''
    assert elapsed < 4.0


def test_a_request_with_its_headers_in_time_is_answered(short_headers: RunningServer) -> None:
    connection = KeepAlive(short_headers.port, short_headers.read_key)
    try:
        for _ in range(3):  # each within the deadline, together past it: the deadline is per request
            assert connection.request('GET', '/v1/variables/')[0] == 200
            time.sleep(0.6)
        assert connection.request('GET', '/v1/variables/')[0] == 200
    finally:
        connection.close()


def test_an_idle_keep_alive_connection_is_closed(tmp_path: Path) -> None:
    with _server(tmp_path, idle_timeout=1.0, header_timeout=30.0) as running:
        with open_socket(running.port) as sock:
            sock.sendall(_request(running))
            assert _read_answer(sock).startswith(b'HTTP/1.1 200 ')
            elapsed, received = _seconds_until_closed(sock, time.monotonic())
        assert received == b''
        assert 0.8 < elapsed < 4.0


def test_a_slow_body_is_closed_at_the_body_deadline(tmp_path: Path) -> None:
    with _server(tmp_path, body_timeout=1.0, header_timeout=30.0, idle_timeout=30.0) as running:
        with open_socket(running.port) as sock:
            head = _request(running, 'POST', b'Content-Type: application/json\r\nContent-Length: 100\r\n')
            sock.sendall(head + b'{"name": ')
            started = time.monotonic()
            elapsed, _received = _seconds_until_closed(sock, started)
        assert 0.8 < elapsed < 4.0
        assert running.guard.counts.body_timeouts == 1


def test_a_body_left_unread_after_the_answer_must_still_arrive_in_time(tmp_path: Path) -> None:
    # A GET is answered without reading its declared body; dripping that body must not hold the connection.
    with _server(tmp_path, body_timeout=1.0, header_timeout=30.0, idle_timeout=30.0) as running:
        with open_socket(running.port) as sock:
            sock.sendall(_request(running, 'GET', b'Content-Length: 1000000\r\n'))
            started = time.monotonic()
            elapsed, received = _seconds_until_closed(sock, started)
        assert received.startswith(b'HTTP/1.1 200 ')
        assert 0.8 < elapsed < 4.0


def test_headers_past_the_size_cap_get_431_and_are_closed(tmp_path: Path) -> None:
    with _server(tmp_path, max_header_bytes=4096) as running:
        with open_socket(running.port) as sock:
            sock.sendall(_request(running, extra=b'X-Fill: ' + b'a' * 3000 + b'\r\n'))  # under the cap: answered
            assert _read_answer(sock).startswith(b'HTTP/1.1 200 ')
        with open_socket(running.port) as sock, contextlib.suppress(OSError):  # closed while sending: fine
            sock.sendall(b'GET /v1/variables/ HTTP/1.1\r\nHost: x\r\n')
            for i in range(20):  # 20 KB of headers that never end, a line at a time
                sock.sendall(f'X-Fill-{i}: '.encode() + b'a' * 1000 + b'\r\n')
                time.sleep(0.01)
        with open_socket(running.port) as sock:  # in one go
            sock.sendall(b'GET /v1/variables/ HTTP/1.1\r\nHost: x\r\nX-Fill: ' + b'a' * 8000)
            _elapsed, received = _seconds_until_closed(sock, time.monotonic())
        assert received.startswith(b'HTTP/1.1 431 Request Header Fields Too Large\r\n')
        assert running.guard.counts.headers_too_large == 2


def test_past_the_connection_cap_the_longest_waiting_connection_makes_room(tmp_path: Path) -> None:
    with _server(tmp_path, max_connections=20, header_timeout=30.0) as running:
        silent = [open_socket(running.port) for _ in range(40)]
        try:
            started = time.monotonic()
            connection = KeepAlive(running.port, running.read_key)  # arrives past the cap
            assert connection.request('GET', '/v1/variables/')[0] == 200
            assert time.monotonic() - started < 2.0  # not after any deadline: at once
            connection.close()
            # The oldest silent connections were closed to admit the newer ones (and the reader).
            oldest_elapsed, _ = _seconds_until_closed(silent[0], started, limit=5.0)
            assert oldest_elapsed < 2.0
            assert running.guard.counts.evicted >= 20
            assert running.guard.counts.refused == 0
        finally:
            for sock in silent:
                sock.close()


def test_past_the_cap_with_every_connection_busy_a_new_one_is_refused(tmp_path: Path) -> None:
    with _server(tmp_path, max_connections=5, header_timeout=30.0) as running:
        streams = [open_socket(running.port) for _ in range(5)]
        try:
            for sock in streams:  # five update streams: connections busy with a response, never evicted
                sock.sendall(
                    f'GET /v1/variable-updates/ HTTP/1.1\r\nHost: x\r\nAuthorization: bearer {running.read_key}\r\n'
                    '\r\n'.encode()
                )
                assert sock.recv(65536).startswith(b'HTTP/1.1 200 ')
            with open_socket(running.port) as extra:
                elapsed, received = _seconds_until_closed(extra, time.monotonic(), limit=5.0)
            assert (received, elapsed < 2.0) == (b'', True)
            assert running.guard.counts.refused == 1
            for sock in streams:  # still streaming
                sock.setblocking(False)
                with pytest.raises(BlockingIOError):
                    sock.recv(1)
        finally:
            for sock in streams:
                sock.close()
