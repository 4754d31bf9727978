"""The client's bounds, piece by piece: event-stream guard, keepalive period, watchdog, body caps, cut().

Pure parts are tested with plain asserts; ``ApiClient`` against the fault server of test_api.py and the
real server (for the keepalive period it announces).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from remotevars import ConfigurationError, VariablesOptions
from remotevars._api import ApiClient, _is_loopback
from remotevars._errors import ApiConnectionError, ApiError
from remotevars._sse import EventStreamGuard, EventTooLarge, bounded_event_source
from remotevars.providers._stream import KEEPALIVE_HEADER, KeepalivePeriod, announced_period
from remotevars.providers._watchdog import Watchdog
from tests.core.test_api import FaultServer
from tests.serverutil import running_server

# -- the event-stream guard ---------------------------------------------------------------------------


def test_the_guard_counts_keepalive_comments_and_lets_events_through() -> None:
    guard = EventStreamGuard(100)
    assert guard.feed(b': keepalive\n\n') == 1
    assert guard.feed(b'data: {"event": "updated"}\n\n: keepalive\r\n\r\n: ka') == 1
    assert guard.feed(b'\n\n') == 1  # a comment split across chunks
    assert guard.feed(b'event: x\r') == 0
    assert guard.feed(b'\ndata: 1\r\n\r\n') == 0  # CR LF split across chunks is one line end


@pytest.mark.parametrize(
    'chunks',
    [
        [b'data: ' + b'x' * 101],  # one long line
        [b'data: ', b'x' * 60, b'x' * 60],  # one long line in pieces
        [b': ' + b'x' * 200],  # a long comment (httpx-sse buffers the line all the same)
        [b'data: 1234567890\n' * 6],  # an event of many short lines, no blank line ending it
        [b'data: 12345\r' * 12],
    ],
)
def test_the_guard_stops_a_line_or_an_event_past_the_bound(chunks: list[bytes]) -> None:
    guard = EventStreamGuard(100)
    with pytest.raises(EventTooLarge, match='larger than 100 bytes'):
        for chunk in chunks:
            guard.feed(chunk)


def test_the_guard_bounds_each_event_not_the_stream() -> None:
    guard = EventStreamGuard(100)
    for _ in range(1000):
        guard.feed(b'data: ' + b'x' * 80 + b'\n\n: keepalive\n\n')


def test_bounded_event_source_decodes_with_httpx_sse() -> None:
    body = b': hi\n\nevent: updated\ndata: {"a":\ndata: 1}\nid: 7\n\ndata: ' + b'y' * 50 + b'\n\n'
    request = httpx.Request('GET', 'http://127.0.0.1/v1/variable-updates/')
    response = httpx.Response(200, headers={'content-type': 'text/event-stream'}, content=body, request=request)
    seen: list[int] = []
    events = list(bounded_event_source(response, 100, seen.append).iter_sse())
    assert [(e.event, e.data, e.id) for e in events[:1]] == [('updated', '{"a":\n1}', '7')]
    assert events[1].data == 'y' * 50
    assert sum(seen) == 1
    response = httpx.Response(200, headers={'content-type': 'text/event-stream'}, content=body, request=request)
    with pytest.raises(EventTooLarge):
        list(bounded_event_source(response, 40).iter_sse())


# -- the keepalive period ------------------------------------------------------------------------------


def test_a_period_is_learned_from_two_gaps_and_bounds_the_silence() -> None:
    period = KeepalivePeriod(cap=60.0)
    period.opened(None)
    assert period.allowed_silence() == 60.0  # unknown: sse_read_timeout
    for at in (10.0, 11.0):
        period.keepalive(at)
    assert period.period is None  # one gap is not enough
    period.keepalive(12.2)
    assert period.period == pytest.approx(1.2)
    assert period.learned
    assert period.allowed_silence() == pytest.approx(5.6)  # 3 periods + 2 s
    period.opened(None)  # a new connection keeps what was learned, gaps start again
    period.keepalive(30.0)
    assert period.period == pytest.approx(1.2)
    period.forget()
    assert period.allowed_silence() == 60.0


def test_the_silence_bound_has_a_floor_and_a_cap() -> None:
    period = KeepalivePeriod(cap=60.0)
    period.opened(0.1)
    assert not period.learned
    assert period.allowed_silence() == 5.0
    period.opened(30.0)
    assert period.allowed_silence() == 60.0
    period.opened(15.0)
    assert period.allowed_silence() == 47.0
    assert KeepalivePeriod(cap=0.3).allowed_silence() == 0.3


@pytest.mark.parametrize(
    ('value', 'period'),
    [('15', 15.0), ('0.5', 0.5), (None, None), ('', None), ('0', None), ('-1', None), ('nan', None), ('inf', None)],
)
def test_an_announced_period_must_be_a_positive_number(value: str | None, period: float | None) -> None:
    assert announced_period(value) == period


def test_the_server_announces_its_keepalive_period(tmp_path: Path) -> None:
    with (
        running_server(tmp_path / 'db.sqlite3', keepalive_interval=2.5) as server,
        ApiClient(server.url, server.read_key) as api,
        api.updates_stream(5.0) as source,
    ):
        assert source.response.headers[KEEPALIVE_HEADER] == '2.5'


# -- the watchdog --------------------------------------------------------------------------------------


def test_the_watchdog_runs_what_is_due_once_and_says_so() -> None:
    watchdog = Watchdog('test-watchdog')
    watchdog.start()
    ran: list[str] = []
    try:
        watchdog.arm('a', 0.05, lambda: ran.append('a'))
        watchdog.arm('b', 10.0, lambda: ran.append('b'))
        watchdog.arm('c', 0.05, lambda: ran.append('c'))
        watchdog.arm('c', 10.0, lambda: ran.append('c'))  # pushed back
        time.sleep(0.3)
        assert ran == ['a']
        assert watchdog.disarm('a') is True
        assert watchdog.disarm('a') is False
        assert watchdog.disarm('b') is False
        watchdog.arm('d', 0.0, lambda: ran.append('d'))
        assert wait_for(lambda: ran == ['a', 'd'])
    finally:
        watchdog.stop(1.0)
    assert not any(t.name == 'test-watchdog' for t in threading.enumerate())


def wait_for(predicate: object, timeout: float = 2.0) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes."""
    assert callable(predicate)
    end = time.monotonic() + timeout
    while time.monotonic() < end and not predicate():
        time.sleep(0.01)
    return bool(predicate())


# -- body caps and cut() -------------------------------------------------------------------------------


@pytest.fixture
def fault() -> Iterator[FaultServer]:
    """A fault-injecting server."""
    with FaultServer() as server:
        yield server


def test_a_body_past_the_cap_is_abandoned(fault: FaultServer) -> None:
    fault.config = json.dumps({'variables': {}, 'padding': 'x' * 5000}).encode()
    with ApiClient(fault.url, 'k', max_body_bytes=4096) as api:
        with pytest.raises(ApiError, match='larger than the limit of 4096 bytes') as info:
            api.fetch_config()
        assert info.value.status == 200
    with ApiClient(fault.url, 'k', max_body_bytes=8192) as api:
        assert api.fetch_config().body == fault.config


def test_a_chunked_body_past_the_cap_is_abandoned_as_it_arrives() -> None:
    def endless() -> object:
        while True:
            yield b'x' * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())  # type: ignore[arg-type]

    transport = httpx.MockTransport(handler)
    with (
        ApiClient('http://nowhere.invalid', 'k', max_body_bytes=10_000, transport=transport) as api,
        pytest.raises(ApiError, match='larger than the limit'),
    ):
        api.fetch_config()


def test_an_error_body_is_cut_short_not_refused(fault: FaultServer) -> None:
    fault.routes['GET', '/v1/variable-types/'] = (500, 'text/plain', b'boom ' * 100_000)
    with ApiClient(fault.url, 'k', max_body_bytes=1024) as api, pytest.raises(ApiError, match='HTTP 500: boom') as info:
        api.request('GET', '/v1/variable-types/')
    assert len(str(info.value)) < 700


def test_cut_ends_a_request_blocked_on_a_silent_server(fault: FaultServer) -> None:
    fault.config_mode = 'hang'
    with ApiClient(fault.url, 'k', timeout=(5.0, 30.0)) as api:
        threading.Timer(0.3, api.cut).start()
        started = time.monotonic()
        with pytest.raises(ApiConnectionError):
            api.fetch_config()
        assert time.monotonic() - started < 5.0
        fault.release_hangs()
        fault.config_mode = 'ok'
        assert api.fetch_config().status == 200  # the pool opens a new connection


@pytest.mark.parametrize(
    ('host', 'loopback'),
    [
        ('127.0.0.1', True),
        ('127.1.2.3', True),
        ('::1', True),
        ('::ffff:127.0.0.1', True),
        ('localhost', True),
        ('LOCALHOST.', True),
        ('api.localhost', True),
        ('10.0.0.1', False),
        ('192.0.2.1', False),
        ('example.com', False),
        ('localhost.example.com', False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert _is_loopback(host) is loopback


@pytest.mark.parametrize('field', ['fetch_deadline', 'max_config_bytes', 'max_event_bytes'])
def test_options_refuse_bounds_that_are_not_positive(field: str) -> None:
    with pytest.raises(ConfigurationError, match=f'{field} must be positive'):
        VariablesOptions(api_key='k', base_url='http://127.0.0.1:1', **{field: 0})
