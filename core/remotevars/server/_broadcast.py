"""Fan-out of committed writes to SSE subscribers: one small bounded queue per open stream.

Lives on the server's event loop. Publishing never blocks. A subscriber whose queue is full has fallen
far behind: its pending messages are replaced by one *resync* message (no ``changes``), which makes a
client fetch the whole configuration, so nothing a client needs is lost even though messages are
dropped. ``close`` ends every stream (used on shutdown). The API's streams get each message's
pre-encoded frame, the console's the names of the changed variables: nothing is decoded per subscriber.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from remotevars.server._updates import Update

__all__ = ['Broadcaster']

_QUEUE_SIZE = 64

T = TypeVar('T')


class Broadcaster:
    """Delivers :class:`Update` frames to every current subscriber."""

    def __init__(self, queue_size: int = _QUEUE_SIZE) -> None:
        self._queues: set[asyncio.Queue[Update | None]] = set()
        self._queue_size = queue_size
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        """Return how many streams are open."""
        return len(self._queues)

    def publish(self, update: Update | None) -> None:
        """Queue ``update`` for every subscriber (call on the event loop); None, or after :meth:`close`, is ignored."""
        if update is None or self._closed:
            return
        for queue in self._queues:
            try:
                queue.put_nowait(update)
            except asyncio.QueueFull:
                # Every pending message would now be applied on top of a gap anyway: replace them all
                # by one that makes the client fetch the whole configuration.
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(update.resynced())

    def close(self) -> None:
        """End every stream, now and for later subscribers (call on the event loop)."""
        self._closed = True
        for queue in self._queues:
            # Make room for the end marker: the stream is ending, pending events no longer matter.
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(None)

    def subscribe(self) -> AsyncIterator[bytes]:
        """Yield SSE frames as they are published, until :meth:`close` or the consumer stops iterating."""
        return self._subscribe(lambda update: update.frame)

    def subscribe_names(self) -> AsyncIterator[tuple[str, ...]]:
        """Yield the names of the variables each published message changed (as :meth:`subscribe`)."""
        return self._subscribe(lambda update: update.names)

    async def _subscribe(self, pick: Callable[[Update], T]) -> AsyncIterator[T]:
        if self._closed:
            return
        queue: asyncio.Queue[Update | None] = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        try:
            while (update := await queue.get()) is not None:
                yield pick(update)
        finally:
            self._queues.discard(queue)
