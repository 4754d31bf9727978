"""Tests of the remote provider with real clients against the real server (and a fault-injecting one).

Polling faster than the 10 s minimum uses the test-only ``VariablesOptions(_allow_fast_polling=True)``.
Faults the real server cannot produce (500s, hangs, garbage, odd SSE data) come from ``FaultServer``
(a real HTTP server, see test_api.py); connection drops come from ``TcpProxy``, a real TCP proxy in
front of the real server.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import queue
import random
import select
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import anyio
import pytest

import remotevars
from remotevars import ConfigurationError, VariablesOptions
from remotevars._api import ApiClient
from remotevars.providers import RemoteProvider
from remotevars.providers import _stream as stream_module
from remotevars.providers import remote as remote_module
from remotevars.providers._failure_log import FailureLog
from remotevars.providers._stream import is_change_event, pushed_changes
from remotevars.providers.remote import next_poll_delay
from tests.core.test_api import FaultServer, simple
from tests.serverutil import RunningServer, api_client, free_port, running_server, server_process, variable_body

CONFIG = '/v1/variables/'
STREAM = '/v1/variable-updates/'


# -- helpers -----------------------------------------------------------------------------------------


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` every 5 ms until it is true or ``timeout`` passes; return its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def config_json(**values: Any) -> bytes:
    """A read-format config: one variable per keyword, label ``production`` at version 1 holding the value."""
    return json.dumps(
        {
            'variables': {
                name: {
                    'name': name,
                    'labels': {'production': {'version': 1, 'serialized_value': json.dumps(value)}},
                    'rollout': {'labels': {'production': 1.0}},
                    'overrides': [],
                }
                for name, value in values.items()
            }
        }
    ).encode()


def fast(url: str, interval: float = 0.2, **kwargs: Any) -> VariablesOptions:
    """Options that poll every ``interval`` seconds (test-only knob)."""
    return VariablesOptions(
        api_key=kwargs.pop('api_key', 'read-key'),
        base_url=url,
        polling_interval=interval,
        _allow_fast_polling=True,
        **kwargs,
    )


def remote_threads() -> list[threading.Thread]:
    """The provider threads alive right now."""
    return [t for t in threading.enumerate() if t.name.startswith('remotevars-remote')]


class TcpProxy:
    """A real TCP proxy on 127.0.0.1 in front of ``target_port`` that can cut or refuse connections.

    One thread runs a select loop; :meth:`cut` drops every open connection, and while ``refusing``
    new connections are closed as soon as they are accepted.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.refusing = False
        self.accepted = 0
        self._listener = socket.create_server(('127.0.0.1', 0))
        self._peers: dict[socket.socket, socket.socket] = {}
        self._cut = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='tcp-proxy')

    @property
    def url(self) -> str:
        """The proxy's origin."""
        return f'http://127.0.0.1:{self._listener.getsockname()[1]}'

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in list(self._peers):
            sock.close()
        self._listener.close()

    def cut(self) -> None:
        """Drop every open connection (both sides see it end)."""
        self._cut.set()
        wait_until(lambda: not self._cut.is_set(), 5)

    def _close_pair(self, sock: socket.socket) -> None:
        peer = self._peers.pop(sock, None)
        if peer is not None:
            self._peers.pop(peer, None)
            peer.close()
        sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._cut.is_set():
                for sock in list(self._peers):
                    if sock in self._peers:
                        self._close_pair(sock)
                self._cut.clear()
            readable, _, _ = select.select([self._listener, *self._peers], [], [], 0.02)
            for sock in readable:
                if sock is self._listener:
                    conn, _ = sock.accept()
                    self.accepted += 1
                    if self.refusing:
                        conn.close()
                        continue
                    upstream = socket.create_connection(('127.0.0.1', self.target_port))
                    self._peers[conn] = upstream
                    self._peers[upstream] = conn
                elif sock in self._peers:
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b''
                    if not data:
                        self._close_pair(sock)
                    else:
                        try:
                            self._peers[sock].sendall(data)
                        except OSError:
                            self._close_pair(sock)


class Lines:
    """Lines of a subprocess's stdout, read by a thread so that waits can have deadlines."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._pump, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _pump(self, stdout: IO[str]) -> None:
        for line in stdout:
            self._queue.put(line.strip())

    def wait_for(self, prefix: str, timeout: float = 20.0) -> str:
        """Return the first line starting with ``prefix``; raises AssertionError after ``timeout``."""
        end = time.monotonic() + timeout
        for line in self.seen:
            if line.startswith(prefix):
                return line
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f'no line starting with {prefix!r} within {timeout}s; got {self.seen}')
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            if line.startswith(prefix):
                return line


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_provider_threads_left() -> Iterator[None]:
    """Every test must leave no provider thread behind (after its client is shut down)."""
    yield
    assert wait_until(lambda: not remote_threads(), 3.0), remote_threads()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """The real server, keepalives every 0.5 s."""
    with running_server(tmp_path / 'variables.sqlite3', keepalive_interval=0.5) as running:
        yield running


@pytest.fixture
def writer(server: RunningServer) -> Iterator[ApiClient]:
    """An API client holding the write key."""
    with ApiClient(server.url, server.write_key) as api:
        yield api


@pytest.fixture
def fault() -> Iterator[FaultServer]:
    """A fault-injecting server serving ``{flag: 'one', other: 'one'}``."""
    with FaultServer() as running:
        running.config = config_json(flag='one', other='one')
        yield running


# -- delivery: SSE and polling -----------------------------------------------------------------------


def test_change_arrives_over_sse_without_waiting_for_a_poll(
    server: RunningServer, writer: ApiClient, client: remotevars.Client
) -> None:
    writer.create_variable(simple('flag', 'one'))
    flag = client.var('flag', default='default')
    client.configure(VariablesOptions(api_key=server.read_key, base_url=server.url, polling_interval=3600))
    assert flag.get().value == 'one'
    assert wait_until(lambda: client.status().stream_connected is True)

    started = time.monotonic()
    writer.update_variable('flag', simple('flag', 'two', version=2))
    assert wait_until(lambda: flag.get().value == 'two', 5.0)
    assert time.monotonic() - started < 5.0  # the poll would come after an hour
    resolved = flag.get()
    assert (resolved.reason, resolved.label, resolved.version) == ('resolved', 'production', 2)


def test_polling_delivers_when_sse_is_disabled(
    server: RunningServer, writer: ApiClient, client: remotevars.Client
) -> None:
    writer.create_variable(simple('flag', 'one'))
    flag = client.var('flag', default='default')
    client.configure(fast(server.url, 0.3, sse=False))
    assert flag.get().value == 'one'
    assert client.status().stream_connected is None
    assert server.subscriber_count == 0
    writer.update_variable('flag', simple('flag', 'two'))
    assert wait_until(lambda: flag.get().value == 'two', 5.0)


def test_polling_delivers_when_the_stream_is_refused(fault: FaultServer, client: remotevars.Client) -> None:
    fault.stream_mode = 'status:404'
    flag = client.var('flag', default='default')
    client.configure(fast(fault.url, 0.3))
    assert flag.get().value == 'one'
    fault.config = config_json(flag='two')
    assert wait_until(lambda: flag.get().value == 'two', 5.0)
    assert client.status().stream_connected is False
    assert fault.count(STREAM) >= 1


def test_server_down_at_start_then_values_arrive_once_it_is_up(tmp_path: Path, client: remotevars.Client) -> None:
    port = free_port()
    flag = client.var('flag', default='default')
    started = time.monotonic()
    client.configure(
        VariablesOptions(api_key='read-key', base_url=f'http://127.0.0.1:{port}', first_resolve_timeout=1.0)
    )
    first = flag.get()
    assert time.monotonic() - started < 1.5
    assert (first.value, first.reason) == ('default', 'missing_config')  # no config yet: code default
    assert client.status().connected is False

    with running_server(tmp_path / 'db.sqlite3', port=port, keepalive_interval=0.5) as server:
        with ApiClient(server.url, server.write_key) as writer:
            writer.create_variable(simple('flag', 'up'))
        # Found by the stream's reconnection (or the poller's retry backoff), not by the hourly poll.
        assert wait_until(lambda: flag.get().value == 'up', 10.0)
        assert client.status().connected is True
        client.shutdown()


@pytest.mark.parametrize('with_cache', [False, True])
def test_first_resolve_is_bounded_when_the_server_hangs(
    fault: FaultServer, client: remotevars.Client, tmp_path: Path, with_cache: bool
) -> None:
    # §9.18: the reference can block a first read for two requests' timeouts (20 s by default).
    # The first request gets a budget inside the deadline, so a cache file is still served in time.
    cache = tmp_path / 'variables.json'
    if with_cache:
        cache.write_bytes(config_json(flag='from cache'))
    fault.config_mode = 'hang'
    flag = client.var('flag', default='default')
    started = time.monotonic()
    client.configure(VariablesOptions(api_key='k', base_url=fault.url, first_resolve_timeout=1.0, cache_file=cache))
    resolved = flag.get()
    assert time.monotonic() - started < 1.5
    if with_cache:
        assert (resolved.value, resolved.reason) == ('from cache', 'cached')
    else:
        assert (resolved.value, resolved.reason) == ('default', 'missing_config')
    fault.config_mode = 'ok'
    fault.release_hangs()
    assert wait_until(lambda: flag.get().value == 'one', 10.0)  # retried with backoff
    assert flag.get().reason == 'resolved'


@pytest.mark.parametrize('backend', ['asyncio', 'trio'])
def test_a_read_on_an_event_loop_never_waits_for_the_first_config(
    fault: FaultServer, client: remotevars.Client, backend: str
) -> None:
    # Waiting would stall every other task of the loop (an async server's other requests).
    fault.config_mode = 'hang'
    flag = client.var('flag', default='default')
    client.configure(VariablesOptions(api_key='k', base_url=fault.url, first_resolve_timeout=5.0))

    async def read() -> tuple[object, str]:
        resolved = flag.get()
        return resolved.value, resolved.reason

    started = time.monotonic()
    assert anyio.run(read, backend=backend) == ('default', 'missing_config')
    assert time.monotonic() - started < 2.0
    fault.config_mode = 'ok'
    fault.release_hangs()


def test_block_before_first_resolve_false_serves_defaults_at_once(
    fault: FaultServer, client: remotevars.Client
) -> None:
    fault.config_mode = 'hang'
    flag = client.var('flag', default='default')
    started = time.monotonic()
    client.configure(VariablesOptions(api_key='k', base_url=fault.url, block_before_first_resolve=False))
    assert flag.get().value == 'default'
    assert time.monotonic() - started < 0.5
    fault.release_hangs()


# -- bad payloads keep good data -------------------------------------------------------------------


@pytest.fixture
def settled(fault: FaultServer, client: remotevars.Client) -> remotevars.Client:
    """A client on the fault server, no stream, hourly polls: only forced refreshes fetch."""
    client.var('flag', default='default')
    client.var('other', default='default')
    client.configure(VariablesOptions(api_key='k', base_url=fault.url, sse=False, timeout=(0.5, 0.5)))
    assert client.get_variable('flag').get().value == 'one'  # type: ignore[union-attr]
    return client


def values(client: remotevars.Client) -> dict[str, Any]:
    """The values of the client's variables."""
    return {v.name: v.get().value for v in client.variables()}


@pytest.mark.parametrize(
    ('mode', 'error'),
    [
        ('status:500', 'ApiError: GET /v1/variables/ returned HTTP 500: injected failure'),
        ('status:429', 'HTTP 429'),
        ('status:401', 'HTTP 401'),
        ('hang', 'ApiConnectionError: GET /v1/variables/: ReadTimeout'),
        ('garbage', 'ConfigPayloadError: not a valid variables config'),
    ],
)
def test_failures_keep_the_last_good_config(
    fault: FaultServer, settled: remotevars.Client, mode: str, error: str
) -> None:
    fault.config = config_json(flag='two', other='two')
    fault.config_mode = mode
    started = time.monotonic()
    settled.refresh(force=True)
    assert time.monotonic() - started < 2.0  # a hang ends at the read timeout
    assert values(settled) == {'flag': 'one', 'other': 'one'}
    status = settled.status()
    assert status.connected is False
    assert status.last_error is not None
    assert error in status.last_error

    fault.config_mode = 'ok'
    settled.refresh(force=True)
    assert values(settled) == {'flag': 'two', 'other': 'two'}
    assert settled.status().connected is True
    assert settled.status().last_error is None


def test_one_malformed_variable_keeps_its_last_good_version_while_others_update(
    fault: FaultServer, settled: remotevars.Client, caplog: pytest.LogCaptureFixture
) -> None:
    broken = json.loads(config_json(flag='two', other='two'))
    broken['variables']['flag']['rollout'] = {'labels': {'ghost': 1.0}}  # a label that does not exist
    fault.config = json.dumps(broken).encode()
    with caplog.at_level(logging.INFO, logger='remotevars.remote'):
        settled.refresh(force=True)
        settled.refresh(force=True)  # same body again: 304, not logged twice
    assert values(settled) == {'flag': 'one', 'other': 'two'}
    flag = settled.get_variable('flag')
    assert flag is not None
    assert (flag.get().reason, flag.get().version) == ('resolved', 1)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Variable 'flag'" in warnings[0].getMessage()
    assert 'kept its previous version' in warnings[0].getMessage()
    assert "'ghost'" in warnings[0].getMessage()
    assert settled.status().connected is True


def test_failure_logs_are_rate_limited_and_escalate(
    fault: FaultServer, client: remotevars.Client, caplog: pytest.LogCaptureFixture
) -> None:
    client.var('flag', default='default')
    with caplog.at_level(logging.INFO, logger='remotevars.remote'):
        client.configure(fast(fault.url, 0.02, sse=False))
        assert client.get_variable('flag').get().value == 'one'  # type: ignore[union-attr]
        before = fault.count(CONFIG)
        fault.config_mode = 'status:503'
        assert wait_until(lambda: fault.count(CONFIG) >= before + 12, 10.0)
        assert wait_until(lambda: len(caplog.records) >= 2, 5.0)
        failing = [(r.levelno, r.getMessage()) for r in caplog.records]
        fault.config_mode = 'ok'
        assert wait_until(lambda: any('again after' in r.getMessage() for r in caplog.records), 5.0)
    # One warning for the first failure, one error when it persists (5th failure), then quiet.
    assert [level for level, _ in failing] == [logging.WARNING, logging.ERROR]
    assert 'HTTP 503' in failing[0][1]
    assert '(1 consecutive failure(s); keeping the last good config)' in failing[0][1]
    assert '(5 consecutive failure(s)' in failing[1][1]
    assert client.get_variable('flag').get().value == 'one'  # type: ignore[union-attr]


def test_not_modified_logs_nothing(
    fault: FaultServer, client: remotevars.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger='remotevars'):
        client.configure(fast(fault.url, 0.02, sse=False))
        assert wait_until(lambda: fault.count(CONFIG) >= 6, 5.0)
    assert [r for r in caplog.records if r.name.startswith('remotevars.remote')] == []
    assert 'if-none-match' in fault.requests(CONFIG)[-1].headers


def test_failure_log_escalates_after_five_minutes_and_repeats_once_a_minute() -> None:
    log = FailureLog()
    assert log.failure(0.0, serious=False) == logging.WARNING
    assert log.failure(10.0, serious=False) is None
    assert log.failure(61.0, serious=False) == logging.WARNING  # a minute later: said again
    assert log.failure(62.0, serious=False) is None
    assert log.failure(300.0, serious=False) == logging.ERROR  # 5 minutes: escalated at once
    assert log.failure(301.0, serious=False) is None
    assert log.success() == 6
    assert log.failure(400.0, serious=True) == logging.ERROR  # serious (e.g. 401): error from the start
    assert log.consecutive == 1


def test_refresh_does_not_hammer_a_failing_server(fault: FaultServer, client: remotevars.Client) -> None:
    # §9.19: the reference only remembers successes, so every refresh() hits a failing server.
    fault.config_mode = 'status:500'
    client.configure(VariablesOptions(api_key='k', base_url=fault.url, sse=False))
    client.var('flag', default='default').get()  # waits for the first attempt
    before = fault.count(CONFIG)
    assert before >= 1
    for _ in range(50):
        client.refresh()
    assert fault.count(CONFIG) <= before + 1  # at most the poller's own backoff retry
    client.refresh(force=True)
    assert fault.count(CONFIG) >= before + 1


# -- the stream ----------------------------------------------------------------------------------------


def test_stream_drop_reconnects_and_catches_up(
    server: RunningServer, writer: ApiClient, client: remotevars.Client
) -> None:
    writer.create_variable(simple('flag', 'one'))
    flag = client.var('flag', default='default')
    with TcpProxy(server.port) as proxy:
        client.configure(VariablesOptions(api_key=server.read_key, base_url=proxy.url, polling_interval=3600))
        assert flag.get().value == 'one'
        assert wait_until(lambda: client.status().stream_connected is True)

        proxy.refusing = True
        proxy.cut()
        assert wait_until(lambda: client.status().stream_connected is False, 5.0)
        writer.update_variable('flag', simple('flag', 'two'))  # written while the client is cut off
        time.sleep(0.3)
        assert flag.get().value == 'one'

        proxy.refusing = False
        assert wait_until(lambda: flag.get().value == 'two', 10.0)  # the reconnection fetched
        assert wait_until(lambda: client.status().stream_connected is True, 5.0)
        writer.update_variable('flag', simple('flag', 'three'))
        assert wait_until(lambda: flag.get().value == 'three', 5.0)  # and the new stream works
        client.shutdown()


def test_server_restart_loses_nothing(tmp_path: Path, client: remotevars.Client) -> None:
    with server_process(tmp_path / 'db.sqlite3', keepalive_interval=0.5) as server:
        with ApiClient(server.url, server.write_key) as writer:
            writer.create_variable(simple('flag', 'one'))
            writer.create_variable(simple('kept', 'before'))
        flag = client.var('flag', default='default')
        kept = client.var('kept', default='default')
        client.configure(VariablesOptions(api_key=server.read_key, base_url=server.url, polling_interval=3600))
        assert (flag.get().value, kept.get().value) == ('one', 'before')
        assert wait_until(lambda: client.status().stream_connected is True)

        server.kill()  # a crash, not a clean stop
        assert wait_until(lambda: client.status().stream_connected is False, 5.0)
        assert (flag.get().value, kept.get().value) == ('one', 'before')  # served from memory meanwhile

        server.start()
        with ApiClient(server.url, server.write_key) as writer:
            assert writer.get_variable('kept') is not None  # the database survived the crash
            writer.update_variable('flag', simple('flag', 'two'))
        # The stream reconnects with backoff (up to ~8 s after a few seconds of downtime), then catches up.
        assert wait_until(lambda: flag.get().value == 'two', 30.0)
        assert kept.get().value == 'before'
        client.shutdown()


def test_non_object_sse_data_is_ignored(fault: FaultServer, client: remotevars.Client) -> None:
    # §9.20: the reference treats `data: 1` as a broken connection and reconnects with backoff.
    flag = client.var('flag', default='default')
    client.configure(VariablesOptions(api_key='k', base_url=fault.url))
    assert flag.get().value == 'one'
    assert wait_until(lambda: client.status().stream_connected is True)
    assert wait_until(lambda: fault.count(CONFIG) >= 2)  # the catch-up fetch of the connection
    time.sleep(0.2)
    fetches = fault.count(CONFIG)
    fault.push(b'data: 1\n\ndata: "x"\n\ndata: [1]\n\ndata: null\n\ndata: {not json\n\ndata: {"event": "ping"}\n\n')
    time.sleep(0.5)
    assert fault.count(CONFIG) == fetches
    assert fault.count(STREAM) == 1
    assert client.status().stream_connected is True

    fault.config = config_json(flag='two')
    fault.push(b'event: message\ndata: {"event": "updated",\ndata:  "name": "flag"}\n\n')  # multi-line data
    assert wait_until(lambda: flag.get().value == 'two', 5.0)


def test_silent_stream_is_reopened_after_the_read_timeout(fault: FaultServer, client: remotevars.Client) -> None:
    # §9.20: without a read timeout a half-open connection stalls the stream for ever.
    client.configure(VariablesOptions(api_key='k', base_url=fault.url, sse_read_timeout=0.3))
    assert wait_until(lambda: fault.count(STREAM) >= 2, 5.0)


def test_keepalives_keep_the_stream_open(fault: FaultServer, client: remotevars.Client) -> None:
    fault.keepalive = 0.1
    client.configure(VariablesOptions(api_key='k', base_url=fault.url, sse_read_timeout=0.5))
    assert wait_until(lambda: client.status().stream_connected is True)
    time.sleep(1.5)
    assert fault.count(STREAM) == 1
    assert client.status().stream_connected is True


def test_stream_reconnects_with_growing_backoff_reset_once_healthy(
    fault: FaultServer, client: remotevars.Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(stream_module, 'STREAM_HEALTHY_AFTER', 0.3)
    fault.stream_mode = 'status:503'
    caplog.set_level(logging.INFO, logger='remotevars.remote')
    client.configure(VariablesOptions(api_key='k', base_url=fault.url))
    assert wait_until(lambda: fault.count(STREAM) >= 3, 10.0)
    fault.stream_mode = 'sse'
    stream_logs = [r for r in caplog.records if 'update stream' in r.getMessage()]
    assert [r.levelno for r in stream_logs] == [logging.WARNING]  # said once, not on every attempt
    assert 'unavailable (GET /v1/variable-updates/ returned HTTP 503' in stream_logs[0].getMessage()
    times = [s.at for s in fault.requests(STREAM)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert 0.4 <= gaps[0] <= 1.6  # 1 s with jitter in [0.5, 1] (plus load)
    assert 0.9 <= gaps[1] <= 2.8  # 2 s with jitter in [1, 2]
    assert wait_until(lambda: client.status().stream_connected is True, 10.0)  # after a 2-4 s wait
    assert 'connected again' in caplog.records[-1].getMessage()
    time.sleep(0.5)  # the stream proves healthy
    dropped_at = time.monotonic()
    fault.drop_streams()
    assert wait_until(lambda: fault.count(STREAM) >= 5, 5.0)
    assert fault.requests(STREAM)[4].at - dropped_at < 2.5  # back to the first delay, not 4-8 s


def test_a_burst_of_events_is_coalesced_into_one_fetch(fault: FaultServer, client: remotevars.Client) -> None:
    flag = client.var('flag', default='default')
    client.configure(VariablesOptions(api_key='k', base_url=fault.url))
    assert wait_until(lambda: client.status().stream_connected is True)
    assert wait_until(lambda: fault.count(CONFIG) >= 2)
    time.sleep(0.2)
    before = fault.count(CONFIG)
    fault.config = config_json(flag='two')
    fault.push(b'data: {"event": "updated", "name": "flag"}\n\n' * 50)
    assert wait_until(lambda: flag.get().value == 'two', 5.0)
    time.sleep(remote_module.FOLLOW_UP_DELAY + 0.5)
    assert fault.count(CONFIG) - before == 1  # §9.21: the reference makes 2 GETs per event


def test_a_change_the_read_path_does_not_show_yet_is_fetched_again(
    fault: FaultServer, client: remotevars.Client
) -> None:
    # A server whose reads lag behind its events: the event's fetch finds nothing new (304), so one
    # follow-up fetch comes ~2 s later and finds the change.
    flag = client.var('flag', default='default')
    client.configure(VariablesOptions(api_key='k', base_url=fault.url))
    assert wait_until(lambda: client.status().stream_connected is True)
    assert wait_until(lambda: fault.count(CONFIG) >= 2)
    time.sleep(0.2)
    before = fault.count(CONFIG)
    fault.push(b'data: {"event": "updated", "name": "flag"}\n\n')
    assert wait_until(lambda: fault.count(CONFIG) == before + 1, 5.0)
    fault.config = config_json(flag='late')  # the read path catches up, no further event
    started = time.monotonic()
    assert wait_until(lambda: flag.get().value == 'late', 5.0)
    assert 1.0 < time.monotonic() - started < 3.0
    time.sleep(remote_module.FOLLOW_UP_DELAY + 0.5)
    assert fault.count(CONFIG) == before + 2  # one follow-up, not a loop


# -- changes carried by the stream ---------------------------------------------------------------------


def server_reads(server: RunningServer) -> int:
    """How many times the server has answered ``GET /v1/variables/`` (200 or 304)."""
    counts = server.app.state.counts
    return int(counts.config_full + counts.config_not_modified)


def fault_etag(config: bytes) -> str:
    """The ETag the fault server gives ``config``."""
    return '"' + hashlib.sha256(config).hexdigest()[:16] + '"'


def pushed(previous_etag: str, etag: str, **variables: Any) -> bytes:
    """An SSE message of our server's shape: each keyword a variable (read shape) or None (deleted)."""
    changes = [
        {'event': 'deleted', 'name': name} if shape is None else {'event': 'updated', 'name': name, 'variable': shape}
        for name, shape in variables.items()
    ]
    first = changes[0]
    data = {'event': first['event'], 'name': first['name'], 'etag': etag, 'previous_etag': previous_etag}
    return b'data: ' + json.dumps({**data, 'changes': changes}).encode() + b'\n\n'


def shape(name: str, value: Any, version: int = 2) -> dict[str, Any]:
    """The read shape of a variable whose label ``production`` (rolled out to all) holds ``value``."""
    variable: dict[str, Any] = json.loads(config_json(**{name: value}))['variables'][name]
    variable['labels']['production']['version'] = version
    return variable


@pytest.fixture
def streaming(fault: FaultServer, client: remotevars.Client) -> remotevars.Client:
    """A client on the fault server holding its stream, with the catch-up fetch of the connection done."""
    client.var('flag', default='default')
    client.var('other', default='default')
    client.configure(VariablesOptions(api_key='k', base_url=fault.url, polling_interval=3600))
    assert wait_until(lambda: client.status().stream_connected is True)
    assert wait_until(lambda: fault.count(CONFIG) >= 2)
    time.sleep(0.2)
    return client


def test_a_change_arrives_with_the_stream_and_no_fetch(
    server: RunningServer, writer: ApiClient, client: remotevars.Client, tmp_path: Path
) -> None:
    cache = tmp_path / 'variables.json'
    writer.create_variable(simple('flag', 'one'))
    writer.create_variable(simple('gone', 'here'))
    flag = client.var('flag', default='default')
    gone = client.var('gone', default='default')
    fresh = client.var('fresh', default='default')
    client.configure(
        VariablesOptions(api_key=server.read_key, base_url=server.url, polling_interval=3600, cache_file=cache)
    )
    assert flag.get().value == 'one'
    assert wait_until(lambda: client.status().stream_connected is True)
    assert wait_until(lambda: server_reads(server) == 2)  # the first fetch and the stream's catch-up (304)
    time.sleep(0.2)

    writer.update_variable('flag', simple('flag', 'two', version=2))
    assert wait_until(lambda: flag.get().value == 'two', 5.0)
    resolved = flag.get()
    assert (resolved.reason, resolved.label, resolved.version) == ('resolved', 'production', 2)
    with api_client(server.url, server.write_key) as http:
        bulk = {'upsert': [variable_body('fresh', 'new')], 'delete': ['gone']}
        assert http.post('/v1/variables/bulk/', json=bulk).status_code == 200
    assert wait_until(lambda: (fresh.get().value, gone.get().value) == ('new', 'default'), 5.0)
    time.sleep(0.3)
    assert server_reads(server) == 2  # no GET for either write

    # The ETag adopted is the server's: a poll now is a 304, and the cache file holds what GET returns.
    client.refresh(force=True)
    assert server.app.state.counts.config_not_modified == 2
    with ApiClient(server.url, server.read_key) as reader:
        assert json.loads(cache.read_bytes()) == json.loads(reader.fetch_config().body or b'')
    client.shutdown()


def test_a_gap_in_the_etag_chain_falls_back_to_a_full_fetch(fault: FaultServer, streaming: remotevars.Client) -> None:
    flag = streaming.get_variable('flag')
    assert flag is not None
    held = fault_etag(fault.config)

    fault.config = config_json(flag='three', other='one')
    before = fault.count(CONFIG)
    fault.push(pushed('"not-what-the-client-holds"', '"e-9"', flag=shape('flag', 'two')))
    assert wait_until(lambda: flag.get().value == 'three', 5.0)  # fetched, the pushed value skipped
    assert fault.count(CONFIG) == before + 1
    assert fault.requests(CONFIG)[-1].headers['if-none-match'] == held

    # Back in the chain: applied without a fetch, and the pushed ETag becomes the one polls send.
    held = fault_etag(fault.config)
    fault.push(pushed(held, '"e-10"', flag=shape('flag', 'four'), other=None))
    assert wait_until(lambda: flag.get().value == 'four', 5.0)
    assert values(streaming) == {'flag': 'four', 'other': 'default'}
    time.sleep(0.2)
    assert fault.count(CONFIG) == before + 1
    # A message for a write the client already has (its fetch got there first) costs nothing.
    fault.push(pushed(held, '"e-10"', flag=shape('flag', 'four'), other=None))
    time.sleep(0.3)
    assert fault.count(CONFIG) == before + 1
    streaming.refresh(force=True)
    assert fault.requests(CONFIG)[-1].headers['if-none-match'] == '"e-10"'


def test_a_malformed_pushed_variable_keeps_its_last_good_version(
    fault: FaultServer, streaming: remotevars.Client, caplog: pytest.LogCaptureFixture
) -> None:
    held = fault_etag(fault.config)
    broken = shape('flag', 'two')
    broken['rollout'] = {'labels': {'ghost': 1.0}}  # a label that does not exist
    fault.config = json.dumps({'variables': {'flag': broken, 'other': shape('other', 'two')}}).encode()
    before = fault.count(CONFIG)
    with caplog.at_level(logging.INFO, logger='remotevars.remote'):
        fault.push(pushed(held, '"e-2"', flag=broken, other=shape('other', 'two')))
        assert wait_until(lambda: values(streaming)['other'] == 'two', 5.0)
        # The invalid variable sends the client to the full config, which stays the authority.
        assert wait_until(lambda: fault.count(CONFIG) == before + 1, 5.0)
        time.sleep(0.3)
    assert values(streaming) == {'flag': 'one', 'other': 'two'}
    flag = streaming.get_variable('flag')
    assert flag is not None
    assert (flag.get().reason, flag.get().version) == ('resolved', 1)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # logged once, not again by the fetch that found the same problem
    assert "Variable 'flag'" in warnings[0]
    assert 'kept its previous version' in warnings[0]
    assert fault.count(CONFIG) == before + 1


def test_pushed_changes_without_a_config_or_variable_are_fetched(
    fault: FaultServer, streaming: remotevars.Client
) -> None:
    flag = streaming.get_variable('flag')
    assert flag is not None
    held = fault_etag(fault.config)
    fault.config = config_json(flag='fetched', other='one')
    before = fault.count(CONFIG)
    # An updated change without its variable cannot be applied: the event still means "fetch".
    message: dict[str, Any] = {'event': 'updated', 'name': 'flag', 'etag': '"e-2"', 'previous_etag': held}
    fault.push(
        b'data: ' + json.dumps({**message, 'changes': [{'event': 'updated', 'name': 'flag'}]}).encode() + b'\n\n'
    )
    assert wait_until(lambda: flag.get().value == 'fetched', 5.0)
    assert fault.count(CONFIG) == before + 1


def test_pushed_changes_parsing() -> None:
    variable = {'name': 'a', 'labels': {}}
    data = {'event': 'updated', 'name': 'a', 'etag': '"2"', 'previous_etag': '"1"', 'extra': [1]}
    changes = [{'event': 'updated', 'name': 'a', 'variable': variable}, {'event': 'deleted', 'name': 'b'}]
    parsed = pushed_changes(json.dumps({**data, 'changes': changes}))
    assert parsed is not None
    assert (parsed.previous_etag, parsed.etag) == ('"1"', '"2"')
    assert parsed.variables.keys() == {'a', 'b'}
    assert parsed.variables['b'] is None
    assert json.loads(parsed.variables['a'] or b'') == variable
    unusable = [
        data,  # no changes: a plain event
        {**data, 'changes': []},
        {**data, 'previous_etag': None, 'changes': changes},
        {**data, 'changes': [{'event': 'updated', 'name': 'a'}]},  # no variable
        {**data, 'changes': [{'event': 'renamed', 'name': 'a', 'variable': variable}]},
        {**data, 'changes': 'a'},
        {**data, 'etag': 3, 'changes': changes},
    ]
    for item in unusable:
        assert pushed_changes(json.dumps(item)) is None, item
    for raw in ('1', '[]', '{broken', ''):
        assert pushed_changes(raw) is None


# -- the last-good cache file ------------------------------------------------------------------------


def test_cache_file_is_written_atomically_after_each_change(
    server: RunningServer, writer: ApiClient, client: remotevars.Client, tmp_path: Path
) -> None:
    cache = tmp_path / 'cache' / 'variables.json'
    writer.create_variable(simple('flag', 'one'))
    flag = client.var('flag', default='default')
    client.configure(VariablesOptions(api_key=server.read_key, base_url=server.url, cache_file=cache))
    assert flag.get().value == 'one'
    assert wait_until(cache.exists)
    with ApiClient(server.url, server.read_key) as reader:
        assert json.loads(cache.read_bytes()) == json.loads(reader.fetch_config().body or b'')
    writer.update_variable('flag', simple('flag', 'two'))
    assert wait_until(lambda: '"\\"two\\""' in cache.read_text(), 5.0)
    assert sorted(p.name for p in cache.parent.iterdir()) == ['variables.json']  # no temp files left


def test_cache_file_is_served_when_the_server_is_down_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / 'variables.json'
    port = free_port()
    with running_server(tmp_path / 'db.sqlite3', port=port) as server:
        with ApiClient(server.url, server.write_key) as writer:
            writer.create_variable(simple('flag', 'remembered'))
        first = remotevars.Client()
        first.configure(VariablesOptions(api_key=server.read_key, base_url=server.url, cache_file=cache, sse=False))
        assert first.var('flag', default='default').get().value == 'remembered'
        first.shutdown()

    later = remotevars.Client()
    flag = later.var('flag', default='default')
    try:
        with caplog.at_level(logging.WARNING, logger='remotevars.remote'):
            later.configure(VariablesOptions(api_key='read-key', base_url=server.url, cache_file=cache))
            resolved = flag.get()
        assert (resolved.value, resolved.reason) == ('remembered', 'cached')
        assert f'Serving the last good variables config from {cache}' in caplog.text
        assert later.status().connected is False

        with running_server(tmp_path / 'db.sqlite3', port=port) as server:
            with ApiClient(server.url, server.write_key) as writer:
                writer.update_variable('flag', simple('flag', 'fresh'))
            assert wait_until(lambda: flag.get().value == 'fresh', 10.0)
            assert flag.get().reason == 'resolved'
            later.shutdown()
    finally:
        later.shutdown()


def test_unusable_cache_file_is_ignored(
    tmp_path: Path, client: remotevars.Client, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / 'variables.json'
    cache.write_text('{"half": ')
    flag = client.var('flag', default='default')
    with caplog.at_level(logging.WARNING, logger='remotevars.remote'):
        client.configure(
            VariablesOptions(api_key='k', base_url=f'http://127.0.0.1:{free_port()}', cache_file=cache, sse=False)
        )
        assert (flag.get().value, flag.get().reason) == ('default', 'missing_config')
    assert f'Ignoring the variables cache file {cache}' in caplog.text


def test_the_cache_file_is_tried_on_each_failure_until_a_config_arrives_and_reported_once(
    tmp_path: Path, client: remotevars.Client, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / 'variables.json'
    cache.write_text('{"half": ')
    flag = client.var('flag', default='default')
    with caplog.at_level(logging.WARNING, logger='remotevars.remote'):
        client.configure(
            VariablesOptions(api_key='k', base_url=f'http://127.0.0.1:{free_port()}', cache_file=cache, sse=False)
        )
        for _ in range(3):
            client.refresh(force=True)
        assert caplog.text.count('Ignoring the variables cache file') == 1
        cache.write_bytes(config_json(flag='cached'))  # another process of the app saved one meanwhile
        client.refresh(force=True)
    assert (flag.get().value, flag.get().reason) == ('cached', 'cached')


# -- fork, shutdown, status, secrecy, configuration ----------------------------------------------

FORK_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import remotevars

    url, key = sys.argv[1], sys.argv[2]
    client = remotevars.Client()
    flag = client.var('flag', default='default')
    client.configure(remotevars.VariablesOptions(api_key=key, base_url=url, polling_interval=3600))

    def say(*parts):
        # One write per line: parent and child share the pipe, and print() writes piece by piece
        # when stdout is unbuffered (PYTHONUNBUFFERED), so their lines could interleave.
        os.write(1, (' '.join(str(p) for p in parts) + chr(10)).encode())

    def wait(predicate, timeout=15.0):
        end = time.monotonic() + timeout
        while not predicate() and time.monotonic() < end:
            time.sleep(0.005)
        return predicate()

    assert flag.get().value == 'one'
    assert wait(lambda: client.status().stream_connected)
    parent_http = client._provider._api._http
    pid = os.fork()
    if pid == 0:
        api = client._provider._api
        fresh = api is not None and api._http is not parent_http
        say('child-ready', fresh, wait(lambda: client.status().stream_connected))
        say('child', wait(lambda: flag.get().value == 'two') and flag.get().value)
        client.shutdown()
        os._exit(0)
    say('parent', wait(lambda: flag.get().value == 'two') and flag.get().value)
    _, status = os.waitpid(pid, 0)
    client.shutdown()
    say('exit', status)
    """
)


def test_forked_child_gets_its_own_connections_and_keeps_updating(
    server: RunningServer, writer: ApiClient, tmp_path: Path
) -> None:
    writer.create_variable(simple('flag', 'one'))
    script = tmp_path / 'fork_script.py'
    script.write_text(FORK_SCRIPT)
    process = subprocess.Popen(
        [sys.executable, str(script), server.url, server.read_key], stdout=subprocess.PIPE, text=True
    )
    try:
        lines = Lines(process)
        assert lines.wait_for('child-ready') == 'child-ready True True'
        assert wait_until(lambda: server.subscriber_count == 2, 5.0)  # parent and child each hold a stream
        writer.update_variable('flag', simple('flag', 'two'))
        assert lines.wait_for('child ') == 'child two'
        assert lines.wait_for('parent ') == 'parent two'
        assert lines.wait_for('exit ') == 'exit 0'
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        assert process.stdout is not None
        process.stdout.close()


def test_provider_shut_down_before_fork_stays_down(fault: FaultServer, client: remotevars.Client) -> None:
    client.configure(VariablesOptions(api_key='k', base_url=fault.url))
    assert wait_until(lambda: client.status().stream_connected is True)
    client.shutdown()
    # A fetch cut by the shutdown may still be reaching the server's thread: let it land before counting.
    time.sleep(0.2)
    fetches = fault.count(CONFIG)
    client._after_fork_in_child()  # what the at-fork hook runs in a child
    time.sleep(0.2)
    assert remote_threads() == []
    client.refresh(force=True)
    assert fault.count(CONFIG) == fetches


def test_shutdown_stops_everything_within_a_second(tmp_path: Path, client: remotevars.Client) -> None:
    # Keepalives every 30 s: the stream thread is blocked in a read when shutdown comes.
    with running_server(tmp_path / 'db.sqlite3', keepalive_interval=30) as server:
        client.configure(VariablesOptions(api_key=server.read_key, base_url=server.url))
        assert wait_until(lambda: client.status().stream_connected is True)
        time.sleep(0.2)
        assert len(remote_threads()) == 3  # poller, stream and watchdog
        started = time.monotonic()
        client.shutdown()
        assert time.monotonic() - started < 1.0
        assert remote_threads() == []
        assert wait_until(lambda: server.subscriber_count == 0, 5.0)
        client.shutdown()  # idempotent


def test_status_reports_the_connection(server: RunningServer, client: remotevars.Client) -> None:
    client.configure(VariablesOptions(api_key=server.read_key, base_url=server.url))
    assert wait_until(lambda: client.status().stream_connected is True)
    status = client.status()
    assert status.kind == 'remote'
    assert status.source == f'{server.url}/v1/variables/'
    assert status.connected is True
    assert status.last_refresh is not None
    assert abs(status.last_refresh - time.time()) < 10
    assert status.last_error is None


def test_the_api_key_never_shows(
    fault: FaultServer, client: remotevars.Client, caplog: pytest.LogCaptureFixture
) -> None:
    secret = 'rk-SECRET-4242'
    shown: list[str] = []
    with caplog.at_level(logging.DEBUG):
        options = VariablesOptions(api_key=secret, base_url=fault.url, sse_read_timeout=0.3)
        client.configure(options)
        client.var('flag', default='default').get()
        shown += [repr(options), repr(client), repr(client._provider), repr(client.status())]
        fault.config_mode = 'echo'  # a 500 whose body repeats the request headers
        fault.stream_mode = 'status:401'
        client.refresh(force=True)
        assert wait_until(lambda: fault.count(STREAM) >= 2, 5.0)
        shown += [repr(client.status()), str(client.status().last_error)]
    assert 'authorization' in str(client.status().last_error)  # the echo came back, scrubbed
    assert fault.requests(CONFIG)[0].headers['authorization'] == f'bearer {secret}'
    for text in [*shown, caplog.text]:
        assert secret not in text


def test_missing_key_fails_in_configure(monkeypatch: pytest.MonkeyPatch, client: remotevars.Client) -> None:
    monkeypatch.delenv('REMOTEVARS_API_KEY', raising=False)
    with pytest.raises(ConfigurationError, match='require an API key'):
        client.configure(VariablesOptions(base_url='http://127.0.0.1:1'))


def test_missing_url_fails_in_configure(monkeypatch: pytest.MonkeyPatch, client: remotevars.Client) -> None:
    monkeypatch.delenv('REMOTEVARS_BASE_URL', raising=False)
    with pytest.raises(ConfigurationError, match='need a server URL'):
        client.configure(VariablesOptions(api_key='self-hosted-key'))


def test_key_and_url_from_the_environment(
    server: RunningServer, writer: ApiClient, client: remotevars.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer.create_variable(simple('flag', 'env'))
    monkeypatch.setenv('REMOTEVARS_API_KEY', server.read_key)
    monkeypatch.setenv('REMOTEVARS_BASE_URL', server.url)
    flag = client.var('flag', default='default')
    client.configure(VariablesOptions())
    assert flag.get().value == 'env'


def test_options_refuse_fast_polling_and_bad_timeouts() -> None:
    with pytest.raises(ConfigurationError, match='at least 10 seconds, got 5s'):
        VariablesOptions(polling_interval=5)
    with pytest.raises(ConfigurationError, match='sse_read_timeout'):
        VariablesOptions(sse_read_timeout=0)
    with pytest.raises(ConfigurationError, match='timeout'):
        VariablesOptions(timeout=(0.0, 1.0))


# -- pure pieces ---------------------------------------------------------------------------------------


def test_poll_delay_has_jitter_and_backs_off_after_failures() -> None:
    rng = random.Random(1)
    delays = [next_poll_delay(60.0, 0, rng) for _ in range(200)]
    assert 54.0 <= min(delays) < 56.0
    assert 64.0 < max(delays) <= 66.0
    backoff = [next_poll_delay(60.0, n, rng) for n in (1, 2, 3, 4, 10)]
    assert 0.9 <= backoff[0] <= 1.1
    assert 1.8 <= backoff[1] <= 2.2
    assert 3.6 <= backoff[2] <= 4.4
    assert 7.2 <= backoff[3] <= 8.8
    assert 54.0 <= backoff[4] <= 66.0  # capped by the polling interval


def test_change_events() -> None:
    from httpx_sse import ServerSentEvent

    assert is_change_event(ServerSentEvent(data='{"event": "updated", "name": "x"}'))
    assert is_change_event(ServerSentEvent(data='{"event": "deleted"}'))
    assert is_change_event(ServerSentEvent(event='created', data='{}'))
    for data in ('1', '"updated"', '[{"event": "updated"}]', 'null', '', '{"event": "ping"}', '{broken'):
        assert not is_change_event(ServerSentEvent(data=data))


def test_provider_repr_has_no_key() -> None:
    provider = RemoteProvider(VariablesOptions(api_key='rk-SECRET-1', base_url='http://127.0.0.1:1/prefix'))
    assert repr(provider) == '<RemoteProvider http://127.0.0.1:1/prefix/v1/variables/>'
    assert provider.status().connected is None
    provider.shutdown()  # never started: nothing to stop
