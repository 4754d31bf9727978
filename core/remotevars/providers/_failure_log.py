"""When and how loudly to log a run of consecutive failures (of fetches, of the update stream)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

__all__ = ['FailureLog']


@dataclass
class FailureLog:
    """When and how loudly to log a run of consecutive failures (pure: the caller passes the time).

    The first failure is logged; repeats at most every ``repeat_every`` seconds, except that a rise in
    level (warning to error) is logged at once. A failure is an error when it is serious, or once the
    run reaches ``escalate_count`` failures or lasts ``escalate_seconds``.
    """

    repeat_every: float = 60.0
    escalate_count: int = 5
    escalate_seconds: float = 300.0
    consecutive: int = 0
    first_at: float | None = None
    last_logged_at: float | None = None
    last_level: int = logging.NOTSET

    def failure(self, now: float, *, serious: bool) -> int | None:
        """Record a failure; return the logging level to log it at, or None to stay quiet."""
        self.consecutive += 1
        if self.first_at is None:
            self.first_at = now
        lasting = self.consecutive >= self.escalate_count or now - self.first_at >= self.escalate_seconds
        level = logging.ERROR if serious or lasting else logging.WARNING
        if self.last_logged_at is None or level > self.last_level or now - self.last_logged_at >= self.repeat_every:
            self.last_logged_at = now
            self.last_level = level
            return level
        return None

    def success(self) -> int:
        """Record a success; return how many consecutive failures it ends (0: none)."""
        ended = self.consecutive
        self.consecutive = 0
        self.first_at = None
        self.last_logged_at = None
        self.last_level = logging.NOTSET
        return ended
