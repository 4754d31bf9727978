"""Reading a request body under a size cap: refused (413) as soon as it is known to be too large.

A declared ``Content-Length`` over the cap is refused before any of the body is read; a chunked body
(no length) is counted while it streams in and refused the moment it passes the cap, so the server
never holds more than the cap plus one chunk of it. The app reads every body this way, the console's
forms included, and decodes it off the event loop (:class:`BodyReader`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from starlette.requests import ClientDisconnect, Request

from remotevars.server._limits import Limits
from remotevars.server._wire import WriteRejected

__all__ = ['BodyReader', 'read_body']

T = TypeVar('T')


class BodyReader(Protocol):
    """Reads a request's body under the size cap and returns ``decode(body, limits)``, run off the event loop."""

    def __call__(self, request: Request, decode: Callable[[bytes, Limits], T]) -> Awaitable[T]:
        """Return the decoded body; raises :class:`~._wire.WriteRejected` (413, 400) and what ``decode`` raises."""
        ...


async def read_body(request: Request, max_bytes: int) -> bytes:
    """Return the body of ``request``; raises :class:`WriteRejected` (413 too large, 400 cut short)."""
    declared = request.headers.get('content-length')
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise WriteRejected(f'body: invalid Content-Length {declared[:40]!r}', 400) from None
        if size > max_bytes:
            raise WriteRejected(f'body: {size} bytes is more than the limit of {max_bytes} bytes', 413)
    chunks: list[bytes] = []
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes:
                raise WriteRejected(f'body: more than the limit of {max_bytes} bytes', 413)
            chunks.append(chunk)
    except ClientDisconnect:
        # The connection closed (by the client, or by the server's body timeout): nobody reads the answer.
        raise WriteRejected('body: the connection closed before the body arrived whole', 400) from None
    return b''.join(chunks)
