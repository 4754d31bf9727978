"""The remote provider: configs fetched over HTTP, refreshed at once by the server's update stream.

``RemoteProvider`` coordinates three daemon threads: the poller (here) fetches ``GET /v1/variables/``
at start, every ``polling_interval`` and whenever the stream announces a change; the update stream
(:mod:`._stream`) applies the changes events carry; the watchdog (:mod:`._watchdog`) cuts a fetch
past its deadline and a stream silent too long. The last good config is kept in a cache file
(:mod:`._cache_file`) when one is configured. The behaviour users see is described in README.md
("The remote provider") and docs/server.md ("The update stream").
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final, Literal

import httpx

from remotevars._api import VARIABLES_PATH, ApiClient, resolve_api_key, resolve_base_url
from remotevars._errors import ApiConnectionError, ApiError, ConfigPayloadError
from remotevars.providers._base import ConfigSink, ProviderStatus, VariableProvider
from remotevars.providers._cache_file import CacheFile
from remotevars.providers._failure_log import FailureLog
from remotevars.providers._stream import (
    PushedChanges,
    UpdateStream,
    is_change_event,
    patch_config_body,
    pushed_changes,
)
from remotevars.providers._watchdog import Watchdog

if TYPE_CHECKING:
    from httpx_sse import ServerSentEvent

    from remotevars._options import VariablesOptions
    from remotevars._snapshot import VariableIssue

__all__ = ['RemoteProvider', 'next_poll_delay']

logger = logging.getLogger('remotevars.remote')

#: When an announced change is not visible yet (304), fetch once more after this many seconds.
FOLLOW_UP_DELAY: Final = 2.0
#: The watchdog deadline of a fetch.
_FETCH: Final = 'fetch'

FetchOutcome = Literal['changed', 'not_modified', 'failed']

# Objects of a parent process that a forked child must keep alive but never use: closing or shutting
# down their sockets in the child would break the parent's connections.
_ABANDONED_IN_CHILD: list[object] = []


def next_poll_delay(interval: float, consecutive_failures: int, rng: random.Random) -> float:
    """Return the wait before the next fetch: the interval (±10 %), or a shorter backoff after failures."""
    base = interval if consecutive_failures == 0 else min(interval, 2.0 ** min(consecutive_failures - 1, 16))
    return base * rng.uniform(0.9, 1.1)


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
        self._cache = CacheFile(options.cache_file) if options.cache_file is not None else None
        self._source = self._base_url + VARIABLES_PATH
        self._clock = clock
        self._rng = rng or random.Random()
        self._transport = transport
        self._sink: ConfigSink | None = None
        self._started = False
        # What the next fetch sends, and what status() reports.
        self._etag: str | None = None
        self._have_config = False
        self._cache_rejected: str | None = None  # why the cache file was last ignored (said once)
        self._last_attempt: float | None = None
        self._last_refresh: float | None = None
        self._connected: bool | None = None
        self._last_error: str | None = None
        self._failures = FailureLog()
        self._change_announced = False  # an event announced a change the poller has not fetched yet
        self._issues_logged: dict[str, str] = {}
        self._api: ApiClient | None = None
        self._stream: UpdateStream | None = None
        self._poller: threading.Thread | None = None
        self._streamer: threading.Thread | None = None
        self._new_sync_primitives()

    def _new_sync_primitives(self) -> None:
        self._fetch_lock = threading.Lock()  # one fetch (or one pushed update) at a time
        self._wake = threading.Event()  # set: the poller should fetch now
        self._stop = threading.Event()
        self._watchdog = Watchdog('remotevars-remote-watchdog')
        if self._cache is not None:
            self._cache.new_lock_after_fork()

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
        options = self._options
        return ApiClient(
            self._base_url,
            self._api_key,
            timeout=options.timeout,
            max_body_bytes=options.max_config_bytes,
            transport=self._transport,
        )

    def _start_threads(self, *, first: bool) -> None:
        self._watchdog.start()
        self._poller = threading.Thread(
            target=self._run_poller, args=(first,), name='remotevars-remote-poll', daemon=True
        )
        self._poller.start()
        if self._options.sse:
            self._stream = UpdateStream(
                self._new_api,
                self._options,
                source=self._base_url,
                stop=self._stop,
                watchdog=self._watchdog,
                on_open=self._request_fetch,
                on_event=self._on_event,
                clock=self._clock,
                rng=self._rng,
            )
            self._streamer = threading.Thread(target=self._stream.run, name='remotevars-remote-sse', daemon=True)
            self._streamer.start()

    def shutdown(self, timeout: float = 1.0) -> None:
        """Stop all threads within ``timeout`` seconds; idempotent; nothing is delivered afterwards.

        The connections of a fetch in progress and of the stream are cut, so no thread stays blocked
        on the network.
        """
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        if self._api is not None:
            self._api.cut()
        if self._stream is not None:
            self._stream.interrupt()
        for thread in (self._poller, self._streamer):
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        self._watchdog.stop(max(0.0, deadline - time.monotonic()))
        if not self._started and self._api is not None:  # pragma: no cover - only if start() failed midway
            self._api.close()

    def after_fork_in_child(self) -> None:
        """Give a forked child its own HTTP clients, locks and threads (a stopped provider stays stopped)."""
        # The parent's clients share sockets with the parent: keep them referenced (so no finaliser
        # closes them) and never touch them again.
        stream_api = self._stream.abandon() if self._stream is not None else None
        _ABANDONED_IN_CHILD.extend(obj for obj in (self._api, stream_api) if obj is not None)
        stopped = self._stop.is_set()
        self._new_sync_primitives()
        self._poller = self._streamer = None
        self._stream = None
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
            stream_connected=self._stream.connected if self._stream is not None else None,
            last_refresh=self._last_refresh,
            last_error=self._last_error,
        )

    # -- fetching --------------------------------------------------------------------------------

    def _run_poller(self, first: bool) -> None:
        follow_up_at: float | None = None
        try:
            self._fetch(first=first)
            if first and self._sink is not None:
                self._sink.first_attempt_done()
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
                    # The event was seen before the server's read path showed the change: look again.
                    follow_up_at = self._clock() + FOLLOW_UP_DELAY
        except Exception:  # pragma: no cover - a bug must not end updates silently
            logger.exception('The remotevars polling thread stopped unexpectedly')
        finally:
            with self._fetch_lock:
                api, self._api = self._api, None
                if api is not None:
                    api.close()

    def _limits(self, first: bool) -> tuple[tuple[float, float] | None, float]:
        """Return the timeouts ``(connect, read)`` of a fetch (None: the client's) and its deadline."""
        options = self._options
        if first and options.block_before_first_resolve and options.first_resolve_timeout > 0:
            # The client stops waiting for the first config at first_resolve_timeout; give the first
            # request a budget within it so that, if it fails, the cache is still served in time.
            budget = min(options.fetch_deadline, max(0.1, 0.45 * options.first_resolve_timeout))
            connect, read = options.timeout
            return (min(connect, budget), min(read, budget)), budget
        return None, options.fetch_deadline

    def _fetch(self, *, first: bool = False) -> FetchOutcome:
        """Fetch once and deliver a changed config; return what came of it.

        While no config was ever fetched, a failure serves the cache file (if any).
        """
        with self._fetch_lock:
            outcome, issues = self._fetch_and_apply(first)
            if outcome == 'failed' and not self._have_config and not self._stop.is_set():
                self._load_cache()
        if issues is not None:
            self._report_issues(issues)
        if outcome == 'changed':
            self._save_cache()
        return outcome

    def _fetch_and_apply(self, first: bool) -> tuple[FetchOutcome, list[VariableIssue] | None]:
        # Called with the fetch lock held.
        api, sink = self._api, self._sink
        if self._stop.is_set() or api is None or sink is None:
            return 'failed', None
        self._last_attempt = self._clock()
        timeouts, deadline = self._limits(first)
        self._watchdog.arm(_FETCH, deadline, api.cut)
        try:
            result = api.fetch_config(self._etag, timeout=timeouts)
        except Exception as exc:
            self._fetch_failed(exc, cut=self._watchdog.disarm(_FETCH), deadline=deadline)
            return 'failed', None
        self._watchdog.disarm(_FETCH)
        if result.not_modified:
            self._on_success()
            return 'not_modified', None
        if self._stop.is_set():
            return 'failed', None
        body = result.body or b''
        try:
            issues = sink.apply(body, source=self._source)
        except ConfigPayloadError as exc:
            self._on_failure(exc, serious=False)
            return 'failed', None
        except Exception as exc:
            self._on_failure(exc, serious=True, unexpected=True)
            return 'failed', None
        self._etag = result.etag
        self._have_config = True
        if self._cache is not None:
            self._cache.hold(body)
        self._on_success()
        return 'changed', issues

    def _fetch_failed(self, exc: Exception, *, cut: bool, deadline: float) -> None:
        if cut:  # the watchdog ended it: say so rather than how the cut connection failed
            exc = ApiConnectionError(f'GET {VARIABLES_PATH}: no complete answer within {deadline:g} s; abandoned')
        if isinstance(exc, ApiError):
            self._on_failure(exc, serious=not exc.transient)
        else:  # a bug below us must not stop the updates
            self._on_failure(exc, serious=True, unexpected=True)

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
            held = self._cache.held if self._cache is not None else None
            if self._cache is not None and held is not None:
                try:
                    self._cache.hold(patch_config_body(held, pushed.variables))
                except ValueError:
                    self._cache.hold(None)  # cannot happen with a body the sink accepted; stop writing
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

    # -- the cache file ----------------------------------------------------------------------------

    def _save_cache(self) -> None:
        if self._cache is not None:
            self._cache.save()

    def _load_cache(self) -> None:
        cache, sink = self._cache, self._sink
        if cache is None or sink is None:
            return
        data = cache.read()
        if data is None:
            return
        try:
            issues = sink.apply(data, source=f'cache file {cache.path}', from_cache=True)
        except ConfigPayloadError as exc:
            if str(exc) != self._cache_rejected:  # tried again on each failed fetch: say it once
                self._cache_rejected = str(exc)
                logger.warning('Ignoring the variables cache file %s: %s', cache.path, exc)
            return
        self._have_config = True
        logger.warning('Serving the last good variables config from %s until %s answers', cache.path, self._source)
        self._report_issues(issues)

    # -- the update stream's events ----------------------------------------------------------------

    def _on_event(self, event: ServerSentEvent) -> None:
        pushed = pushed_changes(event.data)
        if pushed is not None and self._apply_pushed(pushed):
            return
        if pushed is not None or is_change_event(event):
            self._change_announced = True
            self._request_fetch()

    def _request_fetch(self) -> None:
        self._wake.set()
