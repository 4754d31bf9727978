"""Slowing down key guessing: wrong keys at the console's sign-in, counted per client address.

After ``attempts`` wrong keys within ``window`` seconds, an address must wait until the oldest of them
leaves the window. The table is bounded (the addresses seen longest ago are forgotten first), so a
flood of addresses cannot grow it without limit. In memory, per process.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ['SignInLimiter']


class SignInLimiter:
    """Counts wrong keys per client; ``clock`` returns monotonic seconds."""

    def __init__(
        self,
        *,
        attempts: int = 5,
        window: float = 60.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts = attempts
        self.window = window
        self._max_clients = max_clients
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.get(client)
        if failures is None:
            return deque()
        cutoff = self._clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[client]
        return failures

    def retry_after(self, client: str) -> float:
        """Return how many seconds ``client`` must wait before trying a key again (0: it may try now)."""
        failures = self._recent(client)
        if len(failures) < self.attempts:
            return 0.0
        return max(0.0, failures[0] + self.window - self._clock())

    def failed(self, client: str) -> None:
        """Record a wrong key from ``client``."""
        failures = self._recent(client)
        self._failures[client] = failures
        self._failures.move_to_end(client)
        failures.append(self._clock())
        while len(self._failures) > self._max_clients:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        """Forget ``client``'s wrong keys (it signed in)."""
        self._failures.pop(client, None)
