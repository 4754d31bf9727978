"""Connection guard: uvicorn's httptools protocol with deadlines, a header-size cap and a connection cap.

uvicorn closes idle keep-alive connections but puts no bound on a connection that never finishes its
request (slowloris): one that sends nothing, drips header bytes, or drips a body stays open forever,
and enough of them exhaust the file descriptors. :func:`guarded_protocol` returns a subclass of
uvicorn's ``HttpToolsProtocol`` (passed as ``http=`` to ``uvicorn.Config``) that follows each
connection through three states:

- *awaiting headers* (from the moment it is ready for a request): its request line and headers must
  arrive within ``header_timeout`` and ``max_header_bytes``, or it is closed (431 when too large);
- *receiving the body*: the body must arrive whole within ``body_timeout`` after the headers, whether
  the app reads it or has already answered; otherwise the connection is closed;
- *handling* (the app works or streams, e.g. an SSE stream): no deadline.

Past ``max_connections`` open connections, a new one closes the connection that has been awaiting its
headers the longest (the new one itself if every other is busy), so connections that never send a
request cannot starve the ones that do, and descriptors never run out. (The protocol also turns off
Nagle's algorithm on every connection; see :func:`_disable_nagle`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from remotevars.server._limits import Limits

__all__ = ['ConnectionGuard', 'GuardCounts', 'GuardedHttpToolsProtocol', 'guarded_protocol']

logger = logging.getLogger('remotevars.server')

_HEADERS_TOO_LARGE = (
    b'HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n'
    b'content-length: 31\r\nconnection: close\r\n\r\nRequest header fields too large'
)
#: At most one warning line per this many seconds while connections are being shed.
_LOG_INTERVAL = 10.0


@dataclass
class GuardCounts:
    """How many connections the guard closed, by reason (for tests, benchmarks and monitoring)."""

    header_timeouts: int = 0
    body_timeouts: int = 0
    headers_too_large: int = 0
    evicted: int = 0  # closed while awaiting headers, to admit a new connection past the cap
    refused: int = 0  # new connections closed at once: the cap was reached and every other one was busy


class ConnectionGuard:
    """The state one server's guarded connections share: their count and who awaits headers, oldest first."""

    def __init__(self, limits: Limits, max_connections: int) -> None:
        self.header_timeout = limits.header_timeout
        self.body_timeout = limits.body_timeout
        self.idle_timeout = limits.idle_timeout
        self.max_header_bytes = limits.max_header_bytes
        self.max_connections = max_connections
        self.open_connections = 0
        self.counts = GuardCounts()
        #: Connections awaiting headers, in the order they began to wait (an OrderedDict used as a set).
        self.awaiting: OrderedDict[GuardedHttpToolsProtocol, None] = OrderedDict()
        self._shed_since_log = 0
        self._last_log = float('-inf')

    def admit(self, newcomer: GuardedHttpToolsProtocol) -> None:
        """Count ``newcomer``; past the cap, close the longest-waiting connection (or ``newcomer`` itself)."""
        self.open_connections += 1
        if self.open_connections <= self.max_connections:
            return
        victim = next(iter(self.awaiting), newcomer)
        if victim is newcomer:
            self.counts.refused += 1
        else:
            self.counts.evicted += 1
        victim.close_connection()
        self._note_shed()

    def _note_shed(self) -> None:
        self._shed_since_log += 1
        now = time.monotonic()
        if now - self._last_log >= _LOG_INTERVAL:
            logger.warning(
                'connection limit (%d) reached: closed %d connection(s) waiting for request headers or new',
                self.max_connections,
                self._shed_since_log,
            )
            self._last_log = now
            self._shed_since_log = 0


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the deadlines and caps of :class:`ConnectionGuard` (see the module)."""

    guard: ClassVar[ConnectionGuard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_keep_alive = self.guard.idle_timeout  # type: ignore[assignment]  # uvicorn declares int
        self._deadline: asyncio.TimerHandle | None = None
        self._counted = False
        self._awaiting_headers = False
        self._header_bytes = 0
        self._headers_seen = 0
        self._message_done = True

    # -- connection lifetime ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start awaiting the first request's headers, and admit the connection under the cap."""
        super().connection_made(transport)
        _disable_nagle(transport)
        self._counted = True
        self._await_request()
        self.guard.admit(self)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection, then let uvicorn end its request."""
        self._forget()
        super().connection_lost(exc)

    def close_connection(self) -> None:
        """Close the connection now (no response); the guard stops counting it at once."""
        self._forget()
        if not self.transport.is_closing():
            self.transport.close()

    def _forget(self) -> None:
        self._stop_awaiting()
        if self._counted:
            self._counted = False
            self.guard.open_connections -= 1

    # -- state changes ------------------------------------------------------------------------------

    def _arm(self, delay: float, expired: Any) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(delay, expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _await_request(self) -> None:
        self._awaiting_headers = True
        self._header_bytes = 0
        self.guard.awaiting.pop(self, None)
        self.guard.awaiting[self] = None  # last: the newest waiter
        self._arm(self.guard.header_timeout, self._headers_expired)

    def _stop_awaiting(self) -> None:
        self._awaiting_headers = False
        self.guard.awaiting.pop(self, None)
        self._disarm()

    def _headers_expired(self) -> None:
        self._deadline = None
        self.guard.counts.header_timeouts += 1
        self.close_connection()

    def _body_expired(self) -> None:
        self._deadline = None
        self.guard.counts.body_timeouts += 1
        self.close_connection()

    # -- uvicorn's hooks ----------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Parse ``data``; while headers are awaited, bytes that did not complete them count against the cap.

        A chunk during which the awaiting began or ended (the end of a body, or headers completed) is not
        counted: it is mostly something else, and the next chunk counts in full.
        """
        awaiting, seen = self._awaiting_headers, self._headers_seen
        super().data_received(data)
        if awaiting and self._awaiting_headers and self._headers_seen == seen and not self.transport.is_closing():
            self._header_bytes += len(data)
            if self._header_bytes > self.guard.max_header_bytes:
                self.guard.counts.headers_too_large += 1
                self.transport.write(_HEADERS_TOO_LARGE)
                self.close_connection()

    def on_message_begin(self) -> None:
        """A request begins; a pipelined one (the previous still handled) starts its own header deadline."""
        super().on_message_begin()
        if not self._awaiting_headers:
            self._await_request()

    def on_headers_complete(self) -> None:
        """Headers are in: the body deadline starts (lifted again at once when there is no body)."""
        self._headers_seen += 1
        self._stop_awaiting()
        self._message_done = False
        self._arm(self.guard.body_timeout, self._body_expired)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The body is in; if the response is already sent too, the connection awaits its next request."""
        self._disarm()
        self._message_done = True
        super().on_message_complete()
        if self.cycle is not None and self.cycle.response_complete and not self.transport.is_closing():
            self._await_request()

    def on_response_complete(self) -> None:
        """A response is sent; once its request's body is in as well, the connection awaits its next request."""
        super().on_response_complete()
        if (
            self._message_done
            and self.cycle is not None
            and self.cycle.response_complete
            and not self.transport.is_closing()
        ):
            self._await_request()


def _disable_nagle(transport: asyncio.Transport) -> None:
    # A response goes out as two writes (headers, then body): with Nagle's algorithm the body waits for
    # the client's delayed ACK of the headers, 40 ms on Linux, on every request of a kept-alive
    # connection. uvloop turns it off; asyncio skips sockets created without an explicit protocol number.
    sock = transport.get_extra_info('socket')
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def guarded_protocol(limits: Limits, max_connections: int) -> type[GuardedHttpToolsProtocol]:
    """Return a protocol class for one server, with its own :class:`ConnectionGuard` (as ``.guard``)."""
    guard = ConnectionGuard(limits, max_connections)
    return type('ServerHttpToolsProtocol', (GuardedHttpToolsProtocol,), {'guard': guard})
