"""Server-sent events read with a size bound; the events themselves are decoded by httpx-sse.

httpx-sse buffers a line until its end arrives and an event's ``data:`` lines until the blank line
that ends it, so a server sending an endless line or an endless event would grow the client without
limit. :class:`EventStreamGuard` counts the bytes as they arrive and stops the stream as soon as a
line or an event passes the bound; :func:`bounded_event_source` puts it between the response and
httpx-sse's :class:`~httpx_sse.EventSource`. The guard also counts comment lines (``: keepalive``),
which tell the stream's reader that the server is alive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Final

import httpx
from httpx_sse import EventSource

from remotevars._errors import ApiError

__all__ = ['EventStreamGuard', 'EventTooLarge', 'bounded_event_source', 'decoded_headers']

#: A line ends with CRLF, CR or LF (the SSE grammar).
_LINE_END: Final = re.compile(rb'\r\n|\r|\n')


class EventTooLarge(ApiError):
    """A line or an event of an event stream is larger than the bound; the stream is abandoned."""


class EventStreamGuard:
    """Bounds an event stream as its bytes arrive: a line, and an event's lines together, at most ``max_bytes``.

    Comment lines (keepalives) are not part of an event (httpx-sse drops them) but are bounded as
    lines. Pure: feed it the chunks in order.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._line = 0  # bytes of the line in progress
        self._comment = False  # whether the line in progress is a comment
        self._event = 0  # bytes of the complete lines of the event in progress
        self._after_cr = False  # the last chunk ended with CR: an LF opening the next one belongs to it

    def feed(self, chunk: bytes) -> int:
        """Account for ``chunk``; return how many comment lines it ends.

        Raises :class:`EventTooLarge` once a line or an event is larger than the bound.
        """
        start = 1 if self._after_cr and chunk[:1] == b'\n' else 0
        self._after_cr = chunk[-1:] == b'\r'
        comments = 0
        position = start
        for end in _LINE_END.finditer(chunk, start):
            self._extend(chunk, position, end.start())
            self._check()
            if self._line == 0:
                self._event = 0  # a blank line ends the event
            elif self._comment:
                comments += 1
            else:
                self._event += self._line + 1
            self._line = 0
            self._comment = False
            position = end.end()
        self._extend(chunk, position, len(chunk))
        self._check()
        return comments

    def _extend(self, chunk: bytes, start: int, end: int) -> None:
        if end > start:
            if self._line == 0:
                self._comment = chunk[start : start + 1] == b':'
            self._line += end - start

    def _check(self) -> None:
        pending = self._line if self._comment else self._event + self._line
        if pending > self.max_bytes:
            raise EventTooLarge(f'the update stream sent a line or an event larger than {self.max_bytes} bytes')


class _GuardedStream(httpx.SyncByteStream):
    def __init__(self, chunks: Iterator[bytes], guard: EventStreamGuard, on_chunk: Callable[[int], None]) -> None:
        self._chunks = chunks
        self._guard = guard
        self._on_chunk = on_chunk

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            comments = self._guard.feed(chunk)
            self._on_chunk(comments)
            yield chunk


#: Headers that describe the bytes on the wire, not the decoded bytes handed on.
_WIRE_HEADERS: Final = frozenset({'content-encoding', 'content-length', 'transfer-encoding'})


def decoded_headers(response: httpx.Response) -> list[tuple[str, str]]:
    """Return ``response``'s headers without those describing the wire bytes (for a copy holding decoded bytes)."""
    return [(name, value) for name, value in response.headers.multi_items() if name not in _WIRE_HEADERS]


def bounded_event_source(
    response: httpx.Response, max_bytes: int, on_chunk: Callable[[int], None] | None = None
) -> EventSource:
    """Return an httpx-sse event source over ``response``'s body, bounded by an :class:`EventStreamGuard`.

    ``on_chunk`` is called as each chunk arrives, with the number of comment lines it ends. Iterating
    the events raises :class:`EventTooLarge` once the bound is passed, and whatever reading
    ``response`` raises.
    """
    headers = decoded_headers(response)
    guarded = _GuardedStream(response.iter_bytes(), EventStreamGuard(max_bytes), on_chunk or (lambda _: None))
    return EventSource(httpx.Response(response.status_code, headers=headers, stream=guarded, request=response.request))
