"""Deadlines for blocking network work, enforced from one thread: an action runs when its deadline passes.

httpx bounds each read, not a whole request, so a server that drips a byte a second keeps a request
alive for ever, and a stream that goes silent is noticed only after its read timeout. The provider
arms a deadline before such work and the watchdog thread cuts the connection (``ApiClient.cut``)
when it passes; the blocked thread then fails at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

__all__ = ['Watchdog']

logger = logging.getLogger('remotevars.remote')


class Watchdog:
    """Runs each armed action once its deadline passes, on one daemon thread started by :meth:`start`.

    Deadlines are named: arming a name again replaces its deadline (a stream pushes its silence
    deadline back whenever bytes arrive). Thread-safe.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._condition = threading.Condition()
        self._armed: dict[str, tuple[float, Callable[[], None]]] = {}
        self._fired: set[str] = set()
        self._wakes_at = float('inf')  # when the thread next looks at the deadlines
        self._stopped = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stop the thread within ``timeout`` seconds; pending actions never run. Idempotent."""
        with self._condition:
            self._stopped = True
            self._armed.clear()
            self._condition.notify()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def arm(self, name: str, seconds: float, action: Callable[[], None]) -> None:
        """Run ``action`` in ``seconds`` unless :meth:`disarm` or another :meth:`arm` of ``name`` comes first."""
        at = time.monotonic() + seconds
        with self._condition:
            self._armed[name] = (at, action)
            self._fired.discard(name)
            if at < self._wakes_at:  # pushing a deadline back needs no wake-up
                self._condition.notify()

    def disarm(self, name: str) -> bool:
        """Drop the deadline of ``name``; return whether its action ran since it was last armed."""
        with self._condition:
            self._armed.pop(name, None)
            fired = name in self._fired
            self._fired.discard(name)
            return fired

    def _run(self) -> None:
        while True:
            with self._condition:
                if self._stopped:
                    return
                now = time.monotonic()
                due = [name for name, (at, _) in self._armed.items() if at <= now]
                actions = [self._armed.pop(name)[1] for name in due]
                self._fired.update(due)
                if not actions:
                    self._wakes_at = min((at for at, _ in self._armed.values()), default=float('inf'))
                    self._condition.wait(None if self._wakes_at == float('inf') else self._wakes_at - now)
                    self._wakes_at = float('inf')
                    continue
            for action in actions:
                try:
                    action()
                except Exception:  # pragma: no cover - a bug in an action must not end the watchdog
                    logger.exception('A remotevars watchdog action failed')
