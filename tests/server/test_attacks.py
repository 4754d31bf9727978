"""The server-side attacks of issue 10, each against a real server on 127.0.0.1; all got through before.

1. a NaN/Infinity in a body was committed and broke ``GET /v1/variables/`` for every client;
3. hostile patterns and deeply nested values answered 500 (with huge tracebacks) and reset the connection;
4. a body of any size was read whole (100 MB: 1.2 GB peak);
5. validation ran on the event loop (a slow write stalled every read);
6. connections that never finish their headers stayed open forever (slowloris).

After every test the served configuration must still be strict JSON.
"""

from __future__ import annotations

import contextlib
import json
import logging
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from remotevars.server import Limits
from tests.server.attackutil import KeepAlive, assert_served_strict, open_socket
from tests.serverutil import RunningServer, api_client, running_server, server_process, variable_body

INFINITE_SCHEMA = b'{"name":"p1","json_schema":{"maximum":Infinity},"rollout":{"labels":{}},"overrides":[]}'


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server (default limits) for the module, holding one variable 'a'."""
    with running_server(tmp_path_factory.mktemp('attacks') / 'db.sqlite3') as running:
        with api_client(running.url, running.write_key) as client:
            client.post('/v1/variables/', json=variable_body('a', 1)).raise_for_status()
        yield running


@pytest.fixture(autouse=True)
def _served_config_stays_strict(server: RunningServer) -> Iterator[None]:
    yield
    assert 'a' in assert_served_strict(server.url, server.read_key)


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Records of the server's loggers (uvicorn's do not propagate to the root logger)."""
    uvicorn_error = logging.getLogger('uvicorn.error')
    uvicorn_error.addHandler(caplog.handler)
    caplog.set_level(logging.WARNING)
    try:
        yield caplog
    finally:
        uvicorn_error.removeHandler(caplog.handler)


def _etag(server: RunningServer) -> str:
    with api_client(server.url, server.read_key) as client:
        return client.get('/v1/variables/').headers['etag']


# -- 1. non-finite numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('method', 'path', 'content', 'field'),
    [
        ('POST', '/v1/variables/', INFINITE_SCHEMA, 'json_schema.maximum'),
        ('POST', '/v1/variables/bulk/', b'[' + INFINITE_SCHEMA + b']', '0.json_schema.maximum'),
        ('POST', '/v1/variables/bulk/', b'{"upsert":[' + INFINITE_SCHEMA + b']}', 'upsert.0.json_schema.maximum'),
        ('PUT', '/v1/variables/a/', INFINITE_SCHEMA.replace(b'p1', b'a'), 'json_schema.maximum'),
        ('POST', '/v1/variables/', INFINITE_SCHEMA.replace(b'Infinity', b'1e400'), 'json_schema.maximum'),
        ('POST', '/v1/variables/', INFINITE_SCHEMA.replace(b'Infinity', b'-Infinity'), 'json_schema.maximum'),
        (
            'POST',
            '/v1/variables/',
            b'{"name":"p1","rollout":{"labels":{}},"overrides":[{"conditions":[{"kind":"value-equals",'
            b'"attribute":"x","value":NaN}],"rollout":{"labels":{}}}]}',
            'overrides.0.conditions.0.value',
        ),
        ('POST', '/v1/variable-types/', b'{"name":"T","json_schema":{"minimum":NaN}}', 'json_schema.minimum'),
        # The edit endpoints read bodies the same way.
        ('POST', '/v1/variables/a/versions/', b'{"serialized_value":"1","labels":[-Infinity]}', 'labels.0'),
        ('PUT', '/v1/variables/a/labels/x/', b'{"version":NaN}', 'version'),
        ('PUT', '/v1/variables/a/rollout/', b'{"labels":{"production":Infinity}}', 'labels.production'),
        (
            'POST',
            '/v1/variables/a/overrides/',
            b'{"conditions":[{"kind":"value-equals","attribute":"x","value":NaN}],"rollout":{"labels":{}}}',
            'conditions.0.value',
        ),
        ('POST', '/v1/variables/a/rollback/', b'{"to":1e400}', 'to'),
    ],
)
def test_non_finite_numbers_are_refused_naming_the_field(
    server: RunningServer, method: str, path: str, content: bytes, field: str
) -> None:
    before = _etag(server)
    with api_client(server.url, server.write_key) as client:
        response = client.request(method, path, content=content)
    assert response.status_code == 422, response.text
    assert response.json() == {'detail': f'{field}: NaN and Infinity are not JSON numbers (expected a finite number)'}
    assert _etag(server) == before


@pytest.mark.parametrize('value', ['NaN', 'Infinity', '[1e999]', '{"a": -Infinity}', '"\\ud800"'])
def test_version_values_are_strict_json_text(server: RunningServer, value: str) -> None:
    with api_client(server.url, server.write_key) as client:
        response = client.post('/v1/variables/a/versions/', json={'serialized_value': value})
        assert response.status_code == 422, response.text
        assert response.json()['detail'].startswith('serialized_value: not valid JSON text (')
        labelled = variable_body('a', labels={'x': {'target_type': 'version', 'serialized_value': value}})
        response = client.put('/v1/variables/a/', json=labelled)
        assert response.status_code == 422, response.text
        assert response.json()['detail'].startswith('labels.x.serialized_value: not valid JSON text (')


def test_unpaired_surrogates_are_refused(server: RunningServer) -> None:
    # json.loads keeps them; msgspec (every remotevars client) refuses the whole configuration.
    body = b'{"name":"p1","description":"\\udc00 alone","rollout":{"labels":{}},"overrides":[]}'
    with api_client(server.url, server.write_key) as client:
        response = client.post('/v1/variables/', content=body)
    assert (response.status_code, response.json()) == (
        422,
        {'detail': 'description: string holds an unpaired UTF-16 surrogate, which strict JSON refuses'},
    )
    paired = body.replace(b'\\udc00', b'\\ud83d\\ude00')  # a valid pair (an emoji) is fine
    with api_client(server.url, server.write_key) as client:
        assert client.post('/v1/variables/', content=paired).status_code == 201
        assert client.delete('/v1/variables/p1/').status_code == 204


# -- 3. inputs that answered 500 ------------------------------------------------------------------------


def _nested_list(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _pattern_body(pattern: str) -> dict[str, Any]:
    condition = {'kind': 'value-matches-regex', 'attribute': 'email', 'pattern': pattern}
    return variable_body('p3', 1, overrides=[{'conditions': [condition], 'rollout': {'labels': {}}}])


HOSTILE_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ('overflowing repeat', _pattern_body('a{4294967295}'), 'overrides.0.conditions.0.pattern: invalid regular'),
    ('unrolling repeats', _pattern_body('((a{1000}){1000}){1000}'), 'overrides.0.conditions.0.pattern: invalid'),
    ('1,000 nested groups', _pattern_body('(' * 1000 + 'a' + ')' * 1000), 'overrides.0.conditions.0.pattern: '),
    (
        'serialized_value 1,000 deep',
        variable_body('p3', labels={'x': {'target_type': 'version', 'serialized_value': '[' * 1000 + ']' * 1000}}),
        'labels.x.serialized_value: not valid JSON text',
    ),
    (
        'condition value 300 deep',
        variable_body(
            'p3',
            1,
            overrides=[
                {
                    'conditions': [{'kind': 'value-equals', 'attribute': 'x', 'value': _nested_list(300)}],
                    'rollout': {'labels': {}},
                }
            ],
        ),
        'overrides.0.conditions.0: nests deeper than 64 levels',
    ),
    (
        'a version number past 64 bits',
        variable_body('p3', labels={'x': {'target_type': 'version', 'version': 2**63, 'serialized_value': '1'}}),
        'labels.x.version: expected a positive integer or null',
    ),
]


def test_hostile_inputs_are_4xx_without_traceback_on_one_kept_alive_connection(
    server: RunningServer, server_log: pytest.LogCaptureFixture
) -> None:
    connection = KeepAlive(server.port, server.write_key)
    try:
        for what, body, message in HOSTILE_BODIES:
            status, _headers, content = connection.request('POST', '/v1/variables/', json.dumps(body).encode())
            assert status == 422, (what, content)
            assert json.loads(content)['detail'].startswith(message), (what, content)
        status, _headers, _content = connection.request('GET', '/v1/variables/')
        assert status == 200
        assert connection.requests == len(HOSTILE_BODIES) + 1
    finally:
        connection.close()
    assert [r for r in server_log.records if r.levelno >= logging.ERROR or r.exc_info] == []


def _override(condition: dict[str, Any]) -> bytes:
    return json.dumps({'conditions': [condition], 'rollout': {'labels': {}}}).encode()


def _regex_override(pattern: str) -> bytes:
    return _override({'kind': 'value-matches-regex', 'attribute': 'email', 'pattern': pattern})


EDIT_HOSTILE: list[tuple[str, str, bytes, str]] = [
    ('POST', 'overrides/', _regex_override('a{4294967295}'), 'override.conditions.0.pattern: invalid regular'),
    ('POST', 'overrides/', _regex_override('((a{1000}){1000}){1000}'), 'override.conditions.0.pattern: invalid'),
    ('POST', 'overrides/', _regex_override('(' * 1000 + 'a' + ')' * 1000), 'override.conditions.0.pattern: '),
    (
        'POST',
        'overrides/',
        _override({'kind': 'value-equals', 'attribute': 'x', 'value': _nested_list(300)}),
        'conditions.0.value.0: nests deeper than 64 levels',
    ),
    ('POST', 'versions/', json.dumps({'serialized_value': '[' * 1000 + ']' * 1000}).encode(), 'serialized_value: '),
    ('POST', 'versions/', b'{"serialized_value":"1","labels":["\\udc00"]}', 'labels.0: string holds an unpaired'),
    (
        'POST',
        'versions/',
        json.dumps({'serialized_value': '1', 'labels': ['\x1b[2J']}).encode(),
        'labels[0]: label names may not',
    ),
    ('PUT', 'labels/%E2%80%A8/', b'{"version":1}', 'label: label names may not contain control'),
    ('PUT', 'labels/x/', json.dumps({'ref': 'y' * 100_000}).encode(), "Label 'x' has ref"),
    ('PUT', 'rollout/', json.dumps({'labels': {'production': 1, 'ghost': 0}}).encode(), "Label 'ghost'"),
    # Integers past SQLite's 64 bits raised OverflowError in the store (a 500).
    ('POST', 'rollback/', b'{"to": 99999999999999999999999}', 'to: expected the id of a history entry'),
    ('PUT', 'labels/x/', b'{"version": 9223372036854775808}', 'version: expected a positive integer'),
]


def test_hostile_edits_are_4xx_without_traceback_on_one_kept_alive_connection(
    server: RunningServer, server_log: pytest.LogCaptureFixture
) -> None:
    before = _etag(server)
    connection = KeepAlive(server.port, server.write_key)
    try:
        for method, path, body, message in EDIT_HOSTILE:
            status, _headers, content = connection.request(method, '/v1/variables/a/' + path, body)
            assert status == 422, (path, content)
            assert message in json.loads(content)['detail'], (path, content)
        assert connection.requests == len(EDIT_HOSTILE)
    finally:
        connection.close()
    assert _etag(server) == before
    assert [r for r in server_log.records if r.levelno >= logging.ERROR or r.exc_info] == []


def test_a_real_500_is_logged_once_and_keeps_the_connection(
    server: RunningServer, server_log: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> list[dict[str, Any]]:
        raise RuntimeError('a bug in the store')

    monkeypatch.setattr(server.app.state.store, 'variable_types', broken)
    connection = KeepAlive(server.port, server.read_key)
    try:
        status, _headers, content = connection.request('GET', '/v1/variable-types/')
        assert (status, content) == (500, b'{"detail":"Internal server error"}')
        monkeypatch.undo()
        assert connection.request('GET', '/v1/variable-types/')[0] == 200
    finally:
        connection.close()
    errors = [r for r in server_log.records if r.levelno >= logging.ERROR]
    assert [(r.name, r.getMessage()) for r in errors] == [
        ('remotevars.server', 'unexpected error on GET /v1/variable-types/')
    ]
    assert errors[0].exc_info is not None and 'a bug in the store' in str(errors[0].exc_info[1])


# -- 4. body size ---------------------------------------------------------------------------------------


def _read_response_head(sock: socket.socket) -> bytes:
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_an_oversized_body_is_refused_before_it_is_sent(server: RunningServer) -> None:
    with open_socket(server.port) as sock:
        sock.sendall(
            b'POST /v1/variables/ HTTP/1.1\r\nHost: x\r\nAuthorization: bearer '
            + server.write_key.encode()
            + b'\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n'
        )
        # Not one byte of the 100 MB sent: the answer comes from the declared length alone.
        head = _read_response_head(sock)
    assert head.startswith(b'HTTP/1.1 413 '), head


def test_an_oversized_body_gets_413_and_the_connection_stays_usable(server: RunningServer) -> None:
    body = b'{"name": "p4", "description": "' + b'x' * (3 * 1024 * 1024) + b'"}'
    connection = KeepAlive(server.port, server.write_key)
    try:
        status, _headers, content = connection.request('POST', '/v1/variables/', body)
        assert status == 413
        assert content == f'{{"detail":"body: {len(body)} bytes is more than the limit of 2097152 bytes"}}'.encode()
        assert connection.request('GET', '/v1/variables/')[0] == 200
    finally:
        connection.close()


def _chunked_description(total: int) -> Iterator[bytes]:
    yield b'{"name": "p4", "rollout": {"labels": {}}, "overrides": [], "description": "'
    chunk = b'x' * (1024 * 1024)
    for _ in range(total // len(chunk)):
        yield chunk
    yield b'"}'


def test_a_100_mb_chunked_body_is_refused_and_server_memory_stays_flat(tmp_path: Path) -> None:
    # A real `remotevars serve` process, so its peak RSS is its own (before: 1.2 GB peak, 585 MB kept).
    with server_process(tmp_path / 'db.sqlite3') as running:
        assert running.process is not None
        status = Path(f'/proc/{running.process.pid}/status')

        def peak_kb() -> int:
            line = next(x for x in status.read_text().splitlines() if x.startswith('VmHWM:'))
            return int(line.split()[1])

        before = peak_kb()
        with api_client(running.url, running.write_key, timeout=60.0) as client:
            response = client.post('/v1/variables/', content=_chunked_description(100 * 1024 * 1024))
            assert (response.status_code, response.json()) == (
                413,
                {'detail': 'body: more than the limit of 2097152 bytes'},
            )
            assert client.get('/v1/variables/').json() == {'variables': {}}
        grown_mb = (peak_kb() - before) / 1024
    assert grown_mb < 40, f'server peak RSS grew by {grown_mb:.0f} MB'


# -- 5. validation off the event loop -----------------------------------------------------------------------


def test_a_slow_to_validate_write_does_not_stall_reads(tmp_path: Path) -> None:
    # Case-insensitive classes spanning the BMP cost `re` ~5 ms each to compile: ~1 s of validation.
    # Before, that ran on the event loop and every read waited for it.
    pattern = '(?i)' + '[\x00-\uffff]' * 200
    limits = Limits(max_pattern_length=len(pattern), max_total_pattern_length=len(pattern))
    with running_server(tmp_path / 'db.sqlite3', limits=limits) as running:
        latencies: list[float] = []
        stop = threading.Event()

        def read() -> None:
            with api_client(running.url, running.read_key) as client:
                while not stop.is_set():
                    started = time.perf_counter()
                    assert client.get('/v1/variables/').status_code == 200
                    latencies.append(time.perf_counter() - started)
                    time.sleep(0.005)

        reader = threading.Thread(target=read)
        reader.start()
        try:
            time.sleep(0.1)
            with api_client(running.url, running.write_key, timeout=60.0) as client:
                started = time.perf_counter()
                response = client.post('/v1/variables/', json=_pattern_body(pattern))
                write_seconds = time.perf_counter() - started
        finally:
            stop.set()
            reader.join()
        assert response.status_code == 201, response.text
        assert write_seconds > 0.5  # the write really was slow
        # Generous: a read waits for the GIL between the validating thread's slices, never for the write.
        assert max(latencies) < min(0.3, write_seconds / 3), (max(latencies), write_seconds)
        assert_served_strict(running.url, running.read_key)


# -- 6. slowloris -----------------------------------------------------------------------------------------


def test_500_slowloris_connections_are_closed_within_the_header_timeout_while_reads_go_on(tmp_path: Path) -> None:
    header_timeout = 1.5
    with server_process(tmp_path / 'db.sqlite3', extra_args=['--header-timeout', str(header_timeout)]) as running:
        selector = selectors.DefaultSelector()
        opened = time.monotonic()
        sockets = []
        for i in range(500):
            sock = open_socket(running.port)
            # Half send nothing; half start a request and then drip one header byte at a time.
            if i % 2:
                sock.sendall(b'GET /v1/variables/ HTTP/1.1\r\nHost: x\r\n')
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, data=i)
            sockets.append(sock)
        closed_after: dict[int, float] = {}
        read_latencies: list[float] = []
        try:
            with api_client(running.url, running.read_key, timeout=5.0) as client:
                while len(closed_after) < len(sockets) and time.monotonic() - opened < header_timeout + 8:
                    started = time.monotonic()
                    response = client.get('/v1/variables/')
                    read_latencies.append(time.monotonic() - started)
                    assert response.status_code == 200
                    for sock in sockets[1::2]:
                        if sock.fileno() in selector.get_map():
                            # A socket the server closed fails here; the selector below notices it.
                            with contextlib.suppress(OSError):
                                sock.send(b'X')
                    for key, _events in selector.select(timeout=0.1):
                        selector.unregister(key.fileobj)
                        closed_after[key.data] = time.monotonic() - opened
        finally:
            for sock in sockets:
                sock.close()
        assert len(closed_after) == 500
        # Closed by the header deadline: not before it, and all soon after it (generous for a busy machine).
        assert min(closed_after.values()) > header_timeout * 0.6
        assert max(closed_after.values()) < header_timeout + 5
        assert max(read_latencies) < 1.0
