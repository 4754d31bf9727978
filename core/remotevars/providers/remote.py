"""The remote provider: configs fetched over HTTP, refreshed at once on server-sent events.

Two daemon threads per provider (contract §5, with the reference's sharp edges of §9 fixed):

- the *poller* fetches ``GET /v1/variables/`` at start, then every ``polling_interval`` (±10 % jitter)
  with ``If-None-Match``, and whenever the stream says something changed; events arriving while a
  fetch runs are coalesced into one more fetch. After a failure it retries sooner (1 s, 2 s, 4 s...
  up to the polling interval) so a server that comes back is noticed quickly;
- the *stream* thread holds ``GET /v1/variable-updates/`` (httpx-sse) with a read timeout
  (``sse_read_timeout``), so a half-open connection is noticed (§9.20); it reconnects with exponential
  backoff and jitter (1 s doubling to 60 s, reset once a stream stayed up), and every (re)connection
  triggers a fetch to catch up on what was missed. ``data:`` that is not a JSON object is ignored
  (§9.20). An event costs one fetch, not two (§9.21): the reference always fetches again ~2 s later
  in case the server's read path lags behind its events; here that follow-up is made only when the
  fetch an event caused found nothing new (304), the one case where a lagging read path can hide it.

Events of ``remotevars serve`` carry the changed variables (docs/server.md, "update stream"): when an
event's ``previous_etag`` is the ETag of the config held, its ``changes`` are applied at once through
``ConfigSink.apply_changes`` and its ``etag`` adopted, with no fetch. Anything else (a plain event as
Logfire sends, a gap in the ETag chain, no loaded config, an invalid variable, a fetch in progress)
falls back to the coalesced full fetch, which stays the authority. With a ``cache_file``, the patched
configuration is written to it (the last full body with the changes applied), so the file always
holds what the process serves.

A bad payload never replaces good data: HTTP errors, timeouts and unusable bodies keep the last good
config, and the snapshot builder keeps the previous version of one malformed variable while the
others update. Failures are logged at most once a minute, at warning level while a good config is
served and the failure is transient, at error level once it lasts (5 failures or 5 minutes) or when
the client only has code defaults. A 304 logs nothing.

The first fetch is bounded by ``first_resolve_timeout`` (§9.18): it gets shortened timeouts, and when
it fails the last good config saved in ``cache_file`` (if any) is served. A non-forced ``refresh()``
skips the network when the last *attempt*, successful or not, is younger than the polling interval
(§9.19). After ``fork()`` the child gets a new HTTP client, new locks and new threads, and never touches
the parent's sockets (§9.22).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import httpx
import msgspec

from remotevars._api import VARIABLES_PATH, ApiClient, resolve_api_key, resolve_base_url
from remotevars._errors import ApiError, ConfigPayloadError
from remotevars.providers._base import ConfigSink, ProviderStatus, VariableProvider

if TYPE_CHECKING:
    from httpx_sse import ServerSentEvent

    from remotevars._options import VariablesOptions
    from remotevars._snapshot import VariableIssue

__all__ = ['RemoteProvider']

logger = logging.getLogger('remotevars.remote')

#: Stream reconnection: the first delay, its cap, and how long a stream must stay up to count as healthy.
STREAM_BACKOFF_INITIAL: Final = 1.0
STREAM_BACKOFF_MAX: Final = 60.0
STREAM_HEALTHY_AFTER: Final = 5.0
#: Events that mean "the configuration changed" (any other event, and non-object data, is ignored).
CHANGE_EVENTS: Final = frozenset({'created', 'updated', 'deleted'})
#: When an announced change is not visible yet (304), fetch once more after this many seconds.
FOLLOW_UP_DELAY: Final = 2.0

FetchOutcome = Literal['changed', 'not_modified', 'failed']


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


# Objects of a parent process that a forked child must keep alive but never use: closing or shutting
# down their sockets in the child would break the parent's connections.
_ABANDONED_IN_CHILD: list[object] = []


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


def next_poll_delay(interval: float, consecutive_failures: int, rng: random.Random) -> float:
    """Return the wait before the next fetch: the interval (±10 %), or a shorter backoff after failures."""
    base = interval if consecutive_failures == 0 else min(interval, 2.0 ** min(consecutive_failures - 1, 16))
    return base * rng.uniform(0.9, 1.1)


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


class RemoteProvider(VariableProvider):
    """Serves configs from a variables server (``remotevars serve`` or Logfire), kept fresh by SSE.

    Raises :class:`~remotevars.ConfigurationError` when there is no API key or no usable base URL.
    ``clock``, ``rng`` and ``transport`` are for tests.
    """

    def __init__(
        self,
        options: VariablesOptions,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        api_key = resolve_api_key(options.api_key)
        self._base_url = resolve_base_url(api_key, options.base_url)
        self._api_key = api_key
        self._options = options
        self._interval = options.polling_seconds
        self._cache_path = Path(options.cache_file) if options.cache_file is not None else None
        self._source = self._base_url + VARIABLES_PATH
        self._clock = clock
        self._rng = rng or random.Random()
        self._transport = transport
        self._sink: ConfigSink | None = None
        self._started = False
        # What the next fetch sends, and what status() reports.
        self._etag: str | None = None
        self._have_config = False
        self._last_attempt: float | None = None
        self._last_refresh: float | None = None
        self._connected: bool | None = None
        self._stream_connected: bool | None = None
        self._last_error: str | None = None
        self._failures = FailureLog()
        # Polling covers a missing stream, so its failures stay warnings, repeated every 10 minutes.
        self._stream_failures = FailureLog(repeat_every=600.0, escalate_count=2**31, escalate_seconds=float('inf'))
        self._stream_back_announced = False
        self._change_announced = False  # an event announced a change the poller has not fetched yet
        self._issues_logged: dict[str, str] = {}
        # With a cache file: the body of the config held (deltas applied), and the last one written.
        self._cache_body: bytes | None = None
        self._cache_written: bytes | None = None
        self._api: ApiClient | None = None
        self._stream_response: httpx.Response | None = None
        self._poller: threading.Thread | None = None
        self._streamer: threading.Thread | None = None
        self._new_sync_primitives()

    def _new_sync_primitives(self) -> None:
        self._fetch_lock = threading.Lock()  # one fetch (or one pushed update) at a time
        self._cache_lock = threading.Lock()  # one cache-file write at a time
        self._wake = threading.Event()  # set: the poller should fetch now
        self._stop = threading.Event()

    def __repr__(self) -> str:
        return f'<RemoteProvider {self._source}>'

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, sink: ConfigSink) -> None:
        """Start fetching in the background; the first fetch reports to ``sink.first_attempt_done()``."""
        if self._started:
            return
        self._sink = sink
        self._started = True
        self._api = self._new_api()
        self._start_threads(first=True)

    def _new_api(self) -> ApiClient:
        return ApiClient(self._base_url, self._api_key, timeout=self._options.timeout, transport=self._transport)

    def _start_threads(self, *, first: bool) -> None:
        self._poller = threading.Thread(
            target=self._run_poller, args=(first,), name='remotevars-remote-poll', daemon=True
        )
        self._poller.start()
        if self._options.sse:
            self._stream_connected = False
            self._streamer = threading.Thread(target=self._run_stream, name='remotevars-remote-sse', daemon=True)
            self._streamer.start()

    def shutdown(self, timeout: float = 1.0) -> None:
        """Stop both threads within ``timeout`` seconds; idempotent; nothing is delivered afterwards.

        The stream's socket is shut down to wake its blocked read. A fetch already waiting on an
        unresponsive server ends by its own timeout in the background (its thread is a daemon).
        """
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        self._interrupt_stream()
        for thread in (self._poller, self._streamer):
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        if not self._started and self._api is not None:  # pragma: no cover - only if start() failed midway
            self._api.close()

    def after_fork_in_child(self) -> None:
        """Give a forked child its own HTTP client, locks and threads (a stopped provider stays stopped)."""
        # The parent's client and stream share sockets with the parent: keep them referenced (so no
        # finaliser closes them) and never touch them again.
        _ABANDONED_IN_CHILD.extend(obj for obj in (self._api, self._stream_response) if obj is not None)
        self._stream_response = None
        stopped = self._stop.is_set()
        self._new_sync_primitives()
        self._poller = self._streamer = None
        if not self._started or stopped:
            self._api = None
            self._stop.set()
            return
        self._api = self._new_api()
        self._start_threads(first=False)

    def refresh(self, force: bool = False) -> None:
        """Fetch now, in the caller's thread (waiting for a fetch in progress first).

        Without ``force``, nothing happens when the last attempt, failed or not, is younger than the
        polling interval, so a failing server is not hammered by callers.
        """
        if not self._started or self._stop.is_set():
            return
        if not force:
            last = self._last_attempt
            if last is not None and self._clock() - last < self._interval:
                return
        self._fetch()

    def status(self) -> ProviderStatus:
        """Return the connection state, the time of the last successful fetch and the last error."""
        return ProviderStatus(
            kind='remote',
            source=self._source,
            connected=self._connected,
            stream_connected=self._stream_connected,
            last_refresh=self._last_refresh,
            last_error=self._last_error,
        )

    # -- fetching --------------------------------------------------------------------------------

    def _run_poller(self, first: bool) -> None:
        follow_up_at: float | None = None
        try:
            if first:
                self._first_fetch()
            else:
                self._fetch()
            while not self._stop.is_set():
                delay = next_poll_delay(self._interval, self._failures.consecutive, self._rng)
                if follow_up_at is not None:
                    delay = min(delay, max(0.0, follow_up_at - self._clock()))
                self._wake.wait(delay)
                if self._stop.is_set():
                    break
                self._wake.clear()  # before fetching: events arriving during the fetch get one more
                announced, self._change_announced = self._change_announced, False
                if follow_up_at is not None and self._clock() >= follow_up_at:
                    follow_up_at = None
                outcome = self._fetch()
                if announced and outcome == 'not_modified':
                    follow_up_at = self._clock() + FOLLOW_UP_DELAY
        except Exception:  # pragma: no cover - a bug must not end updates silently
            logger.exception('The remotevars polling thread stopped unexpectedly')
        finally:
            with self._fetch_lock:
                api, self._api = self._api, None
                if api is not None:
                    api.close()

    def _first_fetch(self) -> None:
        outcome = self._fetch(first=True)
        if outcome == 'failed' and not self._stop.is_set():
            self._load_cache()
        if self._sink is not None:
            self._sink.first_attempt_done()

    def _first_timeouts(self) -> tuple[float, float] | None:
        # The client stops waiting for the first config at first_resolve_timeout; give the first
        # request a budget within it so that, if it fails, the cache is still served in time.
        options = self._options
        if not options.block_before_first_resolve or options.first_resolve_timeout <= 0:
            return None
        budget = max(0.1, 0.45 * options.first_resolve_timeout)
        connect, read = options.timeout
        return min(connect, budget), min(read, budget)

    def _fetch(self, *, first: bool = False) -> FetchOutcome:
        """Fetch once and deliver a changed config; return what came of it."""
        with self._fetch_lock:
            api, sink = self._api, self._sink
            if self._stop.is_set() or api is None or sink is None:
                return 'failed'
            self._last_attempt = self._clock()
            try:
                result = api.fetch_config(self._etag, timeout=self._first_timeouts() if first else None)
            except ApiError as exc:
                self._on_failure(exc, serious=not exc.transient)
                return 'failed'
            except Exception as exc:  # a bug below us must not stop the updates
                self._on_failure(exc, serious=True, unexpected=True)
                return 'failed'
            if result.not_modified:
                self._on_success()
                return 'not_modified'
            if self._stop.is_set():
                return 'failed'
            body = result.body or b''
            try:
                issues = sink.apply(body, source=self._source)
            except ConfigPayloadError as exc:
                self._on_failure(exc, serious=False)
                return 'failed'
            except Exception as exc:
                self._on_failure(exc, serious=True, unexpected=True)
                return 'failed'
            self._etag = result.etag
            self._have_config = True
            if self._cache_path is not None:
                self._cache_body = body
            self._on_success()
        self._report_issues(issues)
        self._save_cache()
        return 'changed'

    def _apply_pushed(self, pushed: PushedChanges) -> bool:
        """Apply the changes an event carries if they follow the config held; return whether they were.

        True without applying anything when the config held is already at the event's ETag. False (the
        caller then fetches) when a fetch is running, when the ETag chain has a gap, when no config is
        loaded, or when a variable was invalid (the others are applied, the invalid one keeps
        its last good version, and the ETag is not adopted so that the fetch gets the whole config).
        """
        # Never wait for a fetch: it may be stuck on a slow server while events keep coming.
        if not self._fetch_lock.acquire(blocking=False):
            return False
        try:
            sink = self._sink
            if self._etag is not None and pushed.etag == self._etag:
                return True  # a fetch (the catch-up of a reconnection, say) already got this write
            if self._stop.is_set() or sink is None or self._etag is None or pushed.previous_etag != self._etag:
                return False
            try:
                issues = sink.apply_changes(pushed.variables, source=self._source)
            except ConfigPayloadError:
                return False
            except Exception as exc:  # a bug below us must not stop the updates
                logger.error('Could not apply the variables pushed by %s: %s', self._source, exc, exc_info=exc)
                return False
            self._report_issues(issues, only=pushed.variables.keys())
            if issues:
                return False
            self._etag = pushed.etag
            self._last_refresh = time.time()
            if self._cache_body is not None:
                try:
                    self._cache_body = patch_config_body(self._cache_body, pushed.variables)
                except ValueError:
                    self._cache_body = None  # cannot happen with a body the sink accepted; stop writing
        finally:
            self._fetch_lock.release()
        self._save_cache()
        return True

    def _on_success(self) -> None:
        self._connected = True
        self._last_refresh = time.time()
        self._last_error = None
        ended = self._failures.success()
        if ended:
            logger.info('Variables fetched from %s again after %d failed attempt(s)', self._source, ended)

    def _on_failure(self, exc: Exception, *, serious: bool, unexpected: bool = False) -> None:
        self._connected = False
        self._last_error = f'{type(exc).__name__}: {exc}'
        level = self._failures.failure(self._clock(), serious=serious or not self._have_config)
        if level is not None:
            serving = 'keeping the last good config' if self._have_config else 'serving code defaults'
            logger.log(
                level,
                'Error retrieving variables from %s: %s (%d consecutive failure(s); %s)',
                self._source,
                self._last_error,
                self._failures.consecutive,
                serving,
                exc_info=exc if unexpected else None,
            )

    def _report_issues(self, issues: list[VariableIssue], only: Iterable[str] | None = None) -> None:
        # Log each malformed variable once per distinct error, not on every poll. ``only``: the issues
        # are those of these variables (a pushed update); the others' stay as they were.
        current = {issue.name: issue.error for issue in issues}
        if only is not None:
            others = dict(self._issues_logged)
            for name in only:
                others.pop(name, None)
            current = others | current
        for issue in issues:
            if self._issues_logged.get(issue.name) != issue.error:
                kept = 'kept its previous version' if issue.kept_previous else 'left out (code default served)'
                logger.warning(
                    'Variable %r from %s is invalid and was %s: %s', issue.name, self._source, kept, issue.error
                )
        self._issues_logged = current

    # -- the last-good cache file ------------------------------------------------------------------

    def _save_cache(self) -> None:
        # Writes the body held *now*, under its own lock: whichever thread writes last writes the latest.
        path = self._cache_path
        if path is None:
            return
        with self._cache_lock:
            body = self._cache_body
            if body is None or body is self._cache_written:
                return
            self._write_cache(path, body)
            self._cache_written = body

    def _write_cache(self, path: Path, body: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
            try:
                with os.fdopen(fd, 'wb') as file:
                    file.write(body)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(tmp, path)  # readers see the old file or the new one, never half of one
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            logger.warning('Cannot write the variables cache file %s: %s', path, exc)

    def _load_cache(self) -> None:
        path, sink = self._cache_path, self._sink
        if path is None or sink is None:
            return
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            logger.warning('Cannot read the variables cache file %s: %s', path, exc)
            return
        try:
            issues = sink.apply(data, source=f'cache file {path}', from_cache=True)
        except ConfigPayloadError as exc:
            logger.warning('Ignoring the variables cache file %s: %s', path, exc)
            return
        self._have_config = True
        logger.warning('Serving the last good variables config from %s until %s answers', path, self._source)
        self._report_issues(issues)

    # -- the update stream -------------------------------------------------------------------------

    def _run_stream(self) -> None:
        api = self._new_api()
        delay = STREAM_BACKOFF_INITIAL
        try:
            while not self._stop.is_set():
                opened_at: float | None = None
                try:
                    with api.updates_stream(self._options.sse_read_timeout) as source:
                        self._stream_response = source.response
                        if self._stop.is_set():  # shutdown raced with the connection
                            break
                        opened_at = self._clock()
                        self._stream_connected = True
                        if self._stream_failures.last_level and not self._stream_back_announced:
                            self._stream_back_announced = True
                            logger.info('Variable update stream from %s connected again', self._base_url)
                        self._request_fetch()  # catch up on anything missed while disconnected
                        for event in source.iter_sse():
                            self._on_event(event)
                    error = 'the server closed the stream'
                except ApiError as exc:
                    error = str(exc)
                except Exception as exc:  # the stream must survive anything a server sends
                    error = f'{type(exc).__name__}: {exc}'
                finally:
                    self._stream_response = None
                    self._stream_connected = False
                if self._stop.is_set():
                    break
                delay = self._after_stream_ended(opened_at, delay, error)
                if self._stop.wait(delay * self._rng.uniform(0.5, 1.0)):
                    break
                delay = min(delay * 2, STREAM_BACKOFF_MAX)
        finally:
            api.close()

    def _after_stream_ended(self, opened_at: float | None, delay: float, error: str) -> float:
        """Log the end of a stream attempt; return the base delay before the next one."""
        if opened_at is not None and self._clock() - opened_at >= STREAM_HEALTHY_AFTER:
            # A stream that stayed up ending (a server restart, a proxy's connection lifetime) is
            # routine: reconnect after the first delay and say nothing above debug level.
            self._stream_failures.success()
            logger.debug('Variable update stream ended (%s); reconnecting', error)
            return STREAM_BACKOFF_INITIAL
        level = self._stream_failures.failure(self._clock(), serious=False)
        if level is not None:
            self._stream_back_announced = False
            logger.log(
                level,
                'Variable update stream from %s unavailable (%s); polling meanwhile, reconnecting with backoff',
                self._base_url,
                error,
            )
        return delay

    def _on_event(self, event: ServerSentEvent) -> None:
        pushed = pushed_changes(event.data)
        if pushed is not None and self._apply_pushed(pushed):
            return
        if pushed is not None or is_change_event(event):
            self._change_announced = True
            self._request_fetch()

    def _request_fetch(self) -> None:
        self._wake.set()

    def _interrupt_stream(self) -> None:
        # Shutting the socket down wakes the stream thread's blocked read at once (closing it from
        # another thread would not); the thread then closes everything itself.
        response = self._stream_response
        if response is None:
            return
        stream: Any = response.extensions.get('network_stream')
        sock = stream.get_extra_info('socket') if stream is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
