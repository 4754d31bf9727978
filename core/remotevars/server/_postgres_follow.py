"""Listening for the commits of other instances: a thread holding one PostgreSQL connection in ``LISTEN``.

Each notification's payload goes to ``on_notice``, in the order PostgreSQL delivers them (commit
order). Every time the connection is (re)established, ``LISTEN`` is issued first and ``on_connect``
runs next, so that a commit made while no connection listened is read from the database rather than
lost. A silent connection is checked every few seconds (a dead one is only noticed when used); any
error closes it and the thread connects again, waiting 0.1 s, then doubling up to 5 s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import psycopg

from remotevars._errors import RemoteVarsError

__all__ = ['NotificationFollower']

logger = logging.getLogger('remotevars.server')

#: How long one wait for notifications lasts (bounds how long :meth:`NotificationFollower.stop` takes).
_WAIT: Final = 0.2
#: A connection that delivered nothing for this many seconds is checked with a query.
_CHECK_AFTER: Final = 5.0
_BACKOFF_INITIAL: Final = 0.1
_BACKOFF_MAX: Final = 5.0


class NotificationFollower:
    """Follows ``channel`` on connections from ``connect`` in a daemon thread, started at once."""

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[Any]],
        channel: str,
        *,
        on_notice: Callable[[str], None],
        on_connect: Callable[[], None],
    ) -> None:
        self._connect = connect
        self._channel = channel
        self._on_notice = on_notice
        self._on_connect = on_connect
        self._stop = threading.Event()
        #: Whether a connection is listening and caught up.
        self.connected = False
        self._thread = threading.Thread(target=self._run, name='remotevars-postgres-follow', daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening; returns once the thread ended (within a fraction of a second)."""
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        backoff = _BACKOFF_INITIAL
        failures = 0
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(f'LISTEN {self._channel}')
                    self._on_connect()
                    self.connected = True
                    if failures:
                        logger.warning('listening for the commits of other instances again')
                    backoff, failures = _BACKOFF_INITIAL, 0
                    self._listen(conn)
            except (psycopg.Error, RemoteVarsError) as exc:
                self.connected = False
                if failures == 0 and not self._stop.is_set():
                    logger.warning('not listening for the commits of other instances (%s); reconnecting', exc)
                failures += 1
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
            except Exception:  # pragma: no cover - a bug must not stop the following silently
                self.connected = False
                logger.exception('the thread following other instances failed; restarting it')
                self._stop.wait(_BACKOFF_MAX)
        self.connected = False

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        quiet_since = time.monotonic()
        while not self._stop.is_set():
            for notify in conn.notifies(timeout=_WAIT):
                self._on_notice(notify.payload)
                quiet_since = time.monotonic()
            if time.monotonic() - quiet_since > _CHECK_AFTER:
                conn.execute('SELECT 1')
                quiet_since = time.monotonic()
