"""The update stream of the remote provider: ``GET /v1/variable-updates/`` held open, and what its events carry.

:class:`UpdateStream` holds the stream in its own thread and reconnects with exponential backoff and
jitter (1 s doubling to 60 s, back to 1 s once a stream stayed up); each (re)connection asks the
provider to fetch, to catch up on what was missed. A stream that stays silent longer than a few
keepalive periods (:class:`KeepalivePeriod`) is cut and reopened; so is one that sends a line or an
event past ``max_event_bytes``.

Events of ``remotevars serve`` carry the changed variables (:func:`pushed_changes`); events that do
not (as Logfire sends them) only announce a change (:func:`is_change_event`).
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import msgspec

from remotevars._errors import ApiError
from remotevars.providers._failure_log import FailureLog

if TYPE_CHECKING:
    from httpx_sse import ServerSentEvent

    from remotevars._api import ApiClient
    from remotevars._options import VariablesOptions
    from remotevars.providers._watchdog import Watchdog

__all__ = [
    'CHANGE_EVENTS',
    'KEEPALIVE_HEADER',
    'KeepalivePeriod',
    'PushedChanges',
    'UpdateStream',
    'is_change_event',
    'patch_config_body',
    'pushed_changes',
]

logger = logging.getLogger('remotevars.remote')

#: Reconnection: the first delay, its cap, and how long a stream must stay up to count as healthy.
STREAM_BACKOFF_INITIAL: Final = 1.0
STREAM_BACKOFF_MAX: Final = 60.0
STREAM_HEALTHY_AFTER: Final = 5.0
#: Events that mean "the configuration changed" (any other event, and non-object data, is ignored).
CHANGE_EVENTS: Final = frozenset({'created', 'updated', 'deleted'})
#: The response header in which ``remotevars serve`` announces its keepalive period, in seconds.
KEEPALIVE_HEADER: Final = 'X-Remotevars-Keepalive'
#: The silence allowed on a stream whose keepalive period is known: this many periods plus the
#: margin, never less than the floor (network hiccups, a paused process).
SILENCE_PERIODS: Final = 3
SILENCE_MARGIN: Final = 2.0
SILENCE_FLOOR: Final = 5.0
#: A period is learned from this many gaps between keepalives at least, and the last this many at most.
LEARN_MIN_GAPS: Final = 2
LEARN_WINDOW: Final = 8
#: The watchdog deadline of the stream (opening it, then its silence).
_WATCH: Final = 'stream'


# -- what events carry -------------------------------------------------------------------------------


class _PushedChange(msgspec.Struct):
    event: str
    name: str
    variable: msgspec.Raw = msgspec.Raw()  # the read shape, undecoded; empty when absent


class _PushedUpdate(msgspec.Struct):
    etag: str | None = None
    previous_etag: str | None = None
    changes: list[_PushedChange] | None = None


_PUSHED_DECODER: Final = msgspec.json.Decoder(_PushedUpdate)


@dataclass(frozen=True)
class PushedChanges:
    """The changes an update-stream event carries: the ETags it goes from and to, and the variables.

    ``variables`` maps each name to its read-shape JSON, or None when it was deleted (the argument of
    ``ConfigSink.apply_changes``).
    """

    previous_etag: str
    etag: str
    variables: dict[str, bytes | None]


def pushed_changes(data: str) -> PushedChanges | None:
    """Return the changes carried by an event's ``data``, or None when it carries none usable.

    None for plain events (``{"event", "name"}`` only), data that is not the documented shape, an
    unknown change kind, or a created/updated change without its ``variable``: the caller fetches.
    """
    try:
        update = _PUSHED_DECODER.decode(data)
    except msgspec.DecodeError:
        return None
    if update.etag is None or update.previous_etag is None or not update.changes:
        return None
    variables: dict[str, bytes | None] = {}
    for change in update.changes:
        if change.event == 'deleted':
            variables[change.name] = None
        elif change.event in CHANGE_EVENTS and len(change.variable):
            variables[change.name] = bytes(change.variable)
        else:
            return None
    return PushedChanges(update.previous_etag, update.etag, variables)


def patch_config_body(body: bytes, variables: dict[str, bytes | None]) -> bytes:
    """Return the config ``body`` (read shape) with ``variables`` replaced (JSON) or removed (None).

    Raises ValueError when ``body`` or a variable is not valid JSON or ``body`` has no variables object.
    """
    document = json.loads(body)
    target = document.get('variables') if isinstance(document, dict) else None
    if not isinstance(target, dict):
        raise ValueError('the config has no "variables" object')
    for name, raw in variables.items():
        if raw is None:
            target.pop(name, None)
        else:
            target[name] = json.loads(raw)
    return json.dumps(document, separators=(',', ':')).encode()


def is_change_event(event: ServerSentEvent) -> bool:
    """Return whether an SSE event announces a config change: its data is a JSON object naming one.

    The event type may also be given by the SSE ``event:`` field. Data that is not a JSON object (for
    instance ``data: 1``) is ignored rather than treated as a broken stream.
    """
    try:
        data = json.loads(event.data)
    except ValueError:
        return False
    if not isinstance(data, dict):
        return False
    return data.get('event') in CHANGE_EVENTS or event.event in CHANGE_EVENTS


# -- noticing a dead stream --------------------------------------------------------------------------


def announced_period(value: str | None) -> float | None:
    """Return the keepalive period a server announces in :data:`KEEPALIVE_HEADER`, or None (absent or unusable)."""
    try:
        period = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return period if math.isfinite(period) and period > 0 else None


class KeepalivePeriod:
    """The server's keepalive period, and how long its stream may stay silent (pure: the caller passes the time).

    The period is the one announced for the current connection, else the longest of the recent gaps
    between keepalives (learned once there are :data:`LEARN_MIN_GAPS`). Until it is known, a stream
    may stay silent ``cap`` seconds (``sse_read_timeout``).
    """

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.announced: float | None = None
        self._gaps: deque[float] = deque(maxlen=LEARN_WINDOW)
        self._last: float | None = None

    def opened(self, announced: float | None) -> None:
        """A connection opened, announcing ``announced`` (or nothing)."""
        self.announced = announced
        self._last = None

    def keepalive(self, now: float) -> None:
        """A keepalive arrived at ``now``."""
        if self._last is not None:
            self._gaps.append(now - self._last)
        self._last = now

    @property
    def period(self) -> float | None:
        """The period in seconds, or None while unknown."""
        if self.announced is not None:
            return self.announced
        return max(self._gaps) if len(self._gaps) >= LEARN_MIN_GAPS else None

    @property
    def learned(self) -> bool:
        """Whether the period was learned rather than announced."""
        return self.announced is None and self.period is not None

    def allowed_silence(self) -> float:
        """Return how long the stream may stay silent before it counts as dead."""
        period = self.period
        if period is None:
            return self.cap
        return min(self.cap, max(SILENCE_FLOOR, SILENCE_PERIODS * period + SILENCE_MARGIN))

    def forget(self) -> None:
        """Forget a learned period (the server was silent longer: it may have changed its period)."""
        self._gaps.clear()


# -- the stream thread -------------------------------------------------------------------------------


class UpdateStream:
    """Holds the update stream open in the thread that calls :meth:`run`, until ``stop`` is set.

    ``on_open`` is called at each (re)connection, ``on_event`` with each event. Opening gets the
    fetch deadline and an open stream the silence :class:`KeepalivePeriod` allows, both enforced
    by ``watchdog`` (which cuts the connection).
    """

    def __init__(
        self,
        new_api: Callable[[], ApiClient],
        options: VariablesOptions,
        *,
        source: str,
        stop: threading.Event,
        watchdog: Watchdog,
        on_open: Callable[[], None],
        on_event: Callable[[ServerSentEvent], None],
        clock: Callable[[], float],
        rng: random.Random,
    ) -> None:
        self._new_api = new_api
        self._options = options
        self._source = source
        self._stop = stop
        self._watchdog = watchdog
        self._on_open = on_open
        self._on_event = on_event
        self._clock = clock
        self._rng = rng
        self.connected = False
        self.keepalive = KeepalivePeriod(options.sse_read_timeout)
        self._api: ApiClient | None = None
        # Polling covers a missing stream, so its failures stay warnings, repeated every 10 minutes.
        self._failures = FailureLog(repeat_every=600.0, escalate_count=2**31, escalate_seconds=float('inf'))
        self._back_announced = False

    def run(self) -> None:
        """Hold the stream open, reconnecting, until ``stop`` is set; closes its HTTP client at the end."""
        api = self._api = self._new_api()
        delay = STREAM_BACKOFF_INITIAL
        try:
            while not self._stop.is_set():
                opened_at, error = self._hold(api)
                if self._stop.is_set():
                    break
                delay = self._after_end(opened_at, delay, error)
                if self._stop.wait(delay * self._rng.uniform(0.5, 1.0)):
                    break
                delay = min(delay * 2, STREAM_BACKOFF_MAX)
        finally:
            api.close()

    def _hold(self, api: ApiClient) -> tuple[float | None, str]:
        """Open the stream and read it until it ends; return when it opened (None: never) and why it ended."""
        opened_at: float | None = None
        options = self._options

        def on_chunk(keepalives: int) -> None:
            now = self._clock()
            for _ in range(keepalives):
                self.keepalive.keepalive(now)
            self._watchdog.arm(_WATCH, self.keepalive.allowed_silence(), api.cut)

        self._watchdog.arm(_WATCH, options.fetch_deadline, api.cut)
        try:
            with api.updates_stream(
                options.sse_read_timeout, max_event_bytes=options.max_event_bytes, on_chunk=on_chunk
            ) as events:
                if self._stop.is_set():  # shutdown raced with the connection
                    return None, 'shut down'
                opened_at = self._clock()
                self.keepalive.opened(announced_period(events.response.headers.get(KEEPALIVE_HEADER)))
                self._watchdog.arm(_WATCH, self.keepalive.allowed_silence(), api.cut)
                self.connected = True
                if self._failures.last_level and not self._back_announced:
                    self._back_announced = True
                    logger.info('Variable update stream from %s connected again', self._source)
                self._on_open()  # catch up on anything missed while disconnected
                for event in events.iter_sse():
                    self._on_event(event)
            error = 'the server closed the stream'
        except ApiError as exc:
            error = str(exc)
        except Exception as exc:  # the stream must survive anything a server sends
            error = f'{type(exc).__name__}: {exc}'
        finally:
            cut = self._watchdog.disarm(_WATCH)
            self.connected = False
        if cut and not self._stop.is_set():
            error = self._silence(opened_at)
        return opened_at, error

    def _silence(self, opened_at: float | None) -> str:
        """Return why the watchdog cut the stream, forgetting a learned period that proved too short."""
        if opened_at is None:
            return f'no answer within {self._options.fetch_deadline:g} s'
        keepalive = self.keepalive
        period, learned, allowed = keepalive.period, keepalive.learned, keepalive.allowed_silence()
        if learned:
            keepalive.forget()
        if period is None:
            return f'silent for {allowed:g} s'
        how = 'learned' if learned else 'announced'
        return f'silent for {allowed:g} s (keepalive period {period:g} s, {how})'

    def _after_end(self, opened_at: float | None, delay: float, error: str) -> float:
        """Log the end of a stream attempt; return the base delay before the next one."""
        if opened_at is not None and self._clock() - opened_at >= STREAM_HEALTHY_AFTER:
            # A stream that stayed up ending (a server restart, a proxy's connection lifetime, a
            # half-open connection) is routine: reconnect after the first delay, quietly.
            self._failures.success()
            logger.debug('Variable update stream ended (%s); reconnecting', error)
            return STREAM_BACKOFF_INITIAL
        level = self._failures.failure(self._clock(), serious=False)
        if level is not None:
            self._back_announced = False
            logger.log(
                level,
                'Variable update stream from %s unavailable (%s); polling meanwhile, reconnecting with backoff',
                self._source,
                error,
            )
        return delay

    def interrupt(self) -> None:
        """Cut the stream's connection from another thread: a blocked read fails at once."""
        api = self._api
        if api is not None:
            api.cut()

    def abandon(self) -> ApiClient | None:
        """Forget the HTTP client (in a forked child, which must never touch it); return it."""
        api, self._api = self._api, None
        return api
