"""Tests of the HTTP API client (remotevars._api) against the real server and a fault-injecting one.

``FaultServer`` is a tiny real HTTP server (``http.server`` on 127.0.0.1) whose answers a test scripts:
status codes, hangs, garbage bodies, SSE streams fed by the test. It stands in for faults the real
server cannot produce; the provider tests use it too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from remotevars import (
    ConfigurationError,
    LabeledValue,
    LabelRef,
    Rollout,
    RolloutOverride,
    ValueEquals,
    ValueIsIn,
    ValueMatchesRegex,
    VariableAlreadyExistsError,
    VariableConfig,
    VariableNotFoundError,
    VariableTypeConfig,
    VariableWriteError,
)
from remotevars._api import ApiClient, config_to_api_body, resolve_api_key, resolve_base_url, variable_type_to_api_body
from remotevars._errors import ApiConnectionError, ApiError, BulkWriteUnsupported
from remotevars._options import VariablesOptions
from remotevars.config import KeyIsPresent
from tests.serverutil import RunningServer, free_port, running_server

SECRET_READ = 'rk-SECRET-5f1e0c'
SECRET_WRITE = 'wk-SECRET-93ab7d'

# -- the fault-injecting server ----------------------------------------------------------------------


@dataclass
class Seen:
    """One request the fault server received."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b''
    at: float = field(default_factory=time.monotonic)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler thread: nothing leaks past a test
    block_on_close = True
    fault: FaultServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5.0  # a connection that never sends its request cannot keep a handler thread forever

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""

    def do_GET(self) -> None:
        self.server.fault.handle(self)

    do_POST = do_PUT = do_DELETE = do_GET


class FaultServer:
    """A real HTTP server on 127.0.0.1 whose behaviour the test sets through attributes.

    - ``config`` / ``config_mode``: ``GET /v1/variables/`` serves ``config`` with an ETag (304 on a
      match) when the mode is ``'ok'``; ``'status:<n>'`` answers that status, ``'echo'`` a 500 whose
      body repeats the request headers, ``'garbage'`` a 200 that is not JSON, ``'hang'`` never answers.
    - ``stream_mode``: ``GET /v1/variable-updates/`` is an SSE stream fed by :meth:`push` when
      ``'sse'`` (with ``: keepalive`` comments every ``keepalive`` seconds if set); ``'status:<n>'``
      or ``'html'`` refuse it.
    - ``routes``: other ``(method, path)`` -> ``(status, content type, body)``; anything else is 404.
    """

    def __init__(self) -> None:
        self.config: bytes = b'{"variables": {}}'
        self.config_mode = 'ok'
        self.stream_mode = 'sse'
        self.keepalive: float | None = None
        self.routes: dict[tuple[str, str], tuple[int, str, bytes]] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._streams: list[queue.Queue[bytes | None]] = []
        self._stopping = threading.Event()
        self._released = threading.Event()
        self._server = _Server(('127.0.0.1', 0), _Handler)
        self._server.fault = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name='fault-server')

    @property
    def url(self) -> str:
        """The server's origin."""
        return f'http://127.0.0.1:{self._server.server_address[1]}'

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._released.set()
        self.drop_streams()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def count(self, path: str, method: str = 'GET') -> int:
        """Return how many requests for ``method path`` arrived so far."""
        return len(self.requests(path, method))

    def requests(self, path: str, method: str = 'GET') -> list[Seen]:
        """Return the requests for ``method path`` so far, oldest first."""
        with self._lock:
            return [s for s in self.seen if s.path == path and s.method == method]

    @property
    def open_streams(self) -> int:
        """Return how many SSE streams are open right now."""
        with self._lock:
            return len(self._streams)

    def push(self, raw: bytes) -> None:
        """Write ``raw`` (SSE bytes) to every open stream."""
        with self._lock:
            for stream in self._streams:
                stream.put(raw)

    def release_hangs(self) -> None:
        """End the requests held by the ``'hang'`` mode (closed without an answer)."""
        self._released.set()

    def drop_streams(self) -> None:
        """Close every open stream (the client sees the connection end)."""
        with self._lock:
            for stream in self._streams:
                stream.put(None)

    # -- request handling (handler threads) --------------------------------------------------------

    def handle(self, h: _Handler) -> None:
        length = int(h.headers.get('Content-Length') or 0)
        body = h.rfile.read(length) if length else b''
        seen = Seen(h.command, h.path, {k.lower(): v for k, v in h.headers.items()}, body)
        with self._lock:
            self.seen.append(seen)
        try:
            if h.path == '/v1/variables/' and h.command == 'GET':
                self._config(h, seen)
            elif h.path == '/v1/variable-updates/' and h.command == 'GET':
                self._stream(h)
            else:
                status, content_type, payload = self.routes.get((h.command, h.path), (404, 'text/plain', b'Not Found'))
                self._send(h, status, payload, content_type)
        except (BrokenPipeError, ConnectionResetError):
            pass

    @staticmethod
    def _send(h: _Handler, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        h.send_header('Content-Type', content_type)
        h.send_header('Content-Length', str(len(body)))
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(body)

    def _config(self, h: _Handler, seen: Seen) -> None:
        mode = self.config_mode
        if mode == 'hang':
            self._released.wait(30)
            return
        if mode.startswith('status:'):
            self._send(h, int(mode[7:]), b'{"detail": "injected failure"}', 'application/json')
        elif mode == 'echo':
            self._send(h, 500, json.dumps({'detail': seen.headers}).encode(), 'application/json')
        elif mode == 'garbage':
            self._send(h, 200, b'<html>surely not json', 'application/json')
        else:
            config = self.config
            etag = '"' + hashlib.sha256(config).hexdigest()[:16] + '"'
            if seen.headers.get('if-none-match') == etag:
                h.send_response(304)
                h.send_header('ETag', etag)
                h.end_headers()
            else:
                self._send(h, 200, config, 'application/json', {'ETag': etag})

    def _stream(self, h: _Handler) -> None:
        mode = self.stream_mode
        if mode.startswith('status:'):
            self._send(h, int(mode[7:]), b'{"detail": "no stream here"}', 'application/json')
            return
        if mode == 'html':
            self._send(h, 200, b'<html>a proxy error page</html>', 'text/html')
            return
        h.send_response(200)
        h.send_header('Content-Type', 'text/event-stream')
        h.send_header('Cache-Control', 'no-cache')
        h.end_headers()
        h.wfile.flush()
        stream: queue.Queue[bytes | None] = queue.Queue()
        with self._lock:
            self._streams.append(stream)
        try:
            while not self._stopping.is_set():
                try:
                    item = stream.get(timeout=self.keepalive or 0.05)
                except queue.Empty:
                    if self.keepalive:
                        h.wfile.write(b': keepalive\n\n')
                        h.wfile.flush()
                    continue
                if item is None:
                    break
                h.wfile.write(item)
                h.wfile.flush()
        finally:
            with self._lock:
                self._streams.remove(stream)


@pytest.fixture
def fault() -> Iterator[FaultServer]:
    """A fault-injecting server."""
    with FaultServer() as server:
        yield server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """The real server, with keys that are easy to spot if they leak."""
    with running_server(
        tmp_path / 'variables.sqlite3', read_keys=(SECRET_READ,), write_keys=(SECRET_WRITE,), keepalive_interval=0.5
    ) as running:
        yield running


@pytest.fixture
def writer(server: RunningServer) -> Iterator[ApiClient]:
    """An API client holding the write key."""
    with ApiClient(server.url, server.write_key) as api:
        yield api


@pytest.fixture
def reader(server: RunningServer) -> Iterator[ApiClient]:
    """An API client holding the read key."""
    with ApiClient(server.url, server.read_key) as api:
        yield api


def simple(name: str, value: Any, *, version: int = 1, description: str | None = None) -> VariableConfig:
    """A variable whose one label ``production`` holds ``value``, rolled out to everyone."""
    return VariableConfig(
        name=name,
        description=description,
        labels={'production': LabeledValue(version=version, serialized_value=json.dumps(value))},
        rollout=Rollout(labels={'production': 1.0}),
        overrides=[],
    )


# -- base URL and key resolution ---------------------------------------------------------------------


def test_explicit_base_url_wins_and_keeps_its_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('REMOTEVARS_BASE_URL', 'http://from-env.example')
    assert resolve_base_url('pylf_v1_eu_x', 'https://vars.example/') == 'https://vars.example'
    assert resolve_base_url(None, 'https://proxy.example/some/prefix/') == 'https://proxy.example/some/prefix'
    assert resolve_base_url(None, 'http://127.0.0.1:8123') == 'http://127.0.0.1:8123'
    with ApiClient('https://proxy.example/some/prefix/', 'k') as api:
        assert api.url('/v1/variables/') == 'https://proxy.example/some/prefix/v1/variables/'


def test_base_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('REMOTEVARS_BASE_URL', 'http://from-env.example:9000')
    assert resolve_base_url('pylf_v1_eu_x', None) == 'http://from-env.example:9000'


@pytest.mark.parametrize(
    ('key', 'url'),
    [
        ('pylf_v2_stagingeu_9f9ba85a-1234_0kYh', 'https://logfire-eu.pydantic.info'),
        ('pylf_v2_stagingus_abc_def', 'https://logfire-us.pydantic.info'),
        ('pylf_v1_us_abc_def', 'https://logfire-us.pydantic.dev'),
        ('pylf_v1_eu_abc_def', 'https://logfire-eu.pydantic.dev'),
        ('pylf_legacy0123', 'https://logfire-us.pydantic.dev'),
    ],
)
def test_base_url_from_a_logfire_key_region(monkeypatch: pytest.MonkeyPatch, key: str, url: str) -> None:
    monkeypatch.delenv('REMOTEVARS_BASE_URL', raising=False)
    assert resolve_base_url(key, None) == url


def test_unknown_region_warns_and_uses_us(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv('REMOTEVARS_BASE_URL', raising=False)
    with caplog.at_level(logging.WARNING, logger='remotevars.api'):
        assert resolve_base_url('pylf_v1_mars_abc', None) == 'https://logfire-us.pydantic.dev'
    assert (
        "Unknown region 'mars' in Logfire token, falling back to the US region. Known regions: eu, us." in caplog.text
    )


def test_a_non_logfire_key_never_falls_back_to_logfire(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('REMOTEVARS_BASE_URL', raising=False)
    with pytest.raises(ConfigurationError, match='need a server URL.*REMOTEVARS_BASE_URL') as info:
        resolve_base_url('my-self-hosted-secret', None)
    assert 'my-self-hosted-secret' not in str(info.value)
    with pytest.raises(ConfigurationError, match='need a server URL'):
        resolve_base_url(None, None)


@pytest.mark.parametrize(
    'url', ['ftp://h.example', 'h.example', 'https://', 'https://h.example/?a=1', 'https://u:p@h.example']
)
def test_unusable_base_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match='base URL'):
        resolve_base_url('k', url)


def test_api_key_from_argument_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('REMOTEVARS_API_KEY', 'env-key')
    assert resolve_api_key('arg-key') == 'arg-key'
    assert resolve_api_key(None) == 'env-key'
    monkeypatch.delenv('REMOTEVARS_API_KEY')
    with pytest.raises(ConfigurationError, match='require an API key.*REMOTEVARS_API_KEY'):
        resolve_api_key(None)


def test_client_from_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('REMOTEVARS_API_KEY', SECRET_READ)
    monkeypatch.setenv('REMOTEVARS_BASE_URL', 'http://127.0.0.1:1')
    with ApiClient.from_options(VariablesOptions(timeout=(1.0, 2.0))) as api:
        assert api.base_url == 'http://127.0.0.1:1'
        assert SECRET_READ not in repr(api)


# -- write bodies (contract §1.7, §1.8) ----------------------------------------------------------------


def test_write_body_matches_the_contract_example_byte_for_byte() -> None:
    config = VariableConfig(
        name='v',
        json_schema={'type': 'string'},
        labels={
            'prod': LabeledValue(version=2, serialized_value='"x"'),
            'stg': LabelRef(ref='prod'),
            'l': LabelRef(version=4, ref='latest'),
            'cd': LabelRef(ref='code_default'),
        },
        rollout=Rollout(labels={'prod': 0.9, 'l': 0.1}),
        overrides=[
            RolloutOverride(
                conditions=[
                    ValueEquals(attribute='plan', value='ent'),
                    ValueIsIn(attribute='c', values=('US', 'UK')),
                    ValueMatchesRegex(attribute='e', pattern=r'@x\.com$'),
                    KeyIsPresent(attribute='k'),
                ],
                rollout=Rollout(labels={'stg': 1.0}),
            )
        ],
        aliases=['old'],
        example='"ex"',
        latest_version=None,
        type_name='Ignored',
    )
    expected = (
        '{"name": "v", "description": null, "json_schema": {"type": "string"}, '
        '"rollout": {"labels": {"prod": 0.9, "l": 0.1}}, '
        '"overrides": [{"conditions": ['
        '{"kind": "value-equals", "attribute": "plan", "value": "ent"}, '
        '{"kind": "value-is-in", "attribute": "c", "values": ["US", "UK"]}, '
        '{"kind": "value-matches-regex", "attribute": "e", "pattern": "@x\\\\.com$"}, '
        '{"kind": "key-is-present", "attribute": "k"}], '
        '"rollout": {"labels": {"stg": 1.0}}}], '
        '"aliases": ["old"], "example": "\\"ex\\"", '
        '"labels": {"prod": {"target_type": "version", "version": 2, "serialized_value": "\\"x\\""}, '
        '"stg": {"target_type": "label", "target_label": "prod"}, '
        '"l": {"target_type": "latest"}, '
        '"cd": {"target_type": "code_default"}}}'
    )
    assert json.dumps(config_to_api_body(config)) == expected


def test_write_body_omits_what_the_reference_omits() -> None:
    body = config_to_api_body(VariableConfig(name='bare', rollout=Rollout(), overrides=[], aliases=[]))
    assert body == {'name': 'bare', 'description': None, 'rollout': {'labels': {}}, 'overrides': [], 'aliases': []}
    assert list(body) == ['name', 'description', 'rollout', 'overrides', 'aliases']


def test_compiled_regex_is_sent_as_its_source() -> None:
    import re

    override = RolloutOverride(
        conditions=[ValueMatchesRegex(attribute='e', pattern=re.compile('^a+$'))], rollout=Rollout(labels={'p': 1.0})
    )
    config = VariableConfig(
        name='r',
        labels={'p': LabeledValue(version=1, serialized_value='1')},
        rollout=Rollout(),
        overrides=[override],
    )
    assert config_to_api_body(config)['overrides'][0]['conditions'] == [
        {'kind': 'value-matches-regex', 'attribute': 'e', 'pattern': '^a+$'}
    ]


def test_variable_type_body() -> None:
    assert variable_type_to_api_body(VariableTypeConfig(name='T', json_schema={'type': 'integer'})) == {
        'name': 'T',
        'json_schema': {'type': 'integer'},
        'description': None,
    }
    hinted = VariableTypeConfig(name='T', json_schema={}, description='d', source_hint='m.T')
    assert variable_type_to_api_body(hinted)['source_hint'] == 'm.T'


# -- against the real server ------------------------------------------------------------------------


def test_create_read_update_delete_round_trip(writer: ApiClient, reader: ApiClient) -> None:
    created = simple('flag', 'one', description='first')
    assert writer.create_variable(created) is created
    got = reader.get_variable('flag')
    assert got is not None
    assert got.description == 'first'
    assert got.labels['production'] == LabeledValue(version=1, serialized_value='"one"')

    writer.update_variable('flag', simple('flag', 'two', version=2))
    config = reader.list_variables()
    assert config.variables['flag'].resolve_value()[0] == '"two"'

    with pytest.raises(VariableNotFoundError, match="^Variable 'flag/../x' not found$"):
        writer.delete_variable('flag/../x')  # quoted into one path segment: no such variable
    assert reader.get_variable('flag') is not None
    writer.delete_variable('flag')
    assert reader.get_variable('flag') is None
    assert reader.list_variables().variables == {}


def test_list_variables_returns_a_fresh_object_each_time(writer: ApiClient, reader: ApiClient) -> None:
    writer.create_variable(simple('flag', 'one'))
    first = reader.list_variables()
    first.variables.clear()
    assert set(reader.list_variables().variables) == {'flag'}


def test_conditional_fetch_answers_304_until_something_changes(writer: ApiClient, reader: ApiClient) -> None:
    first = reader.fetch_config()
    assert first.status == 200
    assert first.etag
    assert json.loads(first.body or b'') == {'variables': {}}
    again = reader.fetch_config(first.etag)
    assert again.not_modified
    assert again.body is None
    writer.create_variable(simple('flag', 'one'))
    changed = reader.fetch_config(first.etag)
    assert changed.status == 200
    assert changed.etag != first.etag
    assert 'flag' in json.loads(changed.body or b'')['variables']


def test_create_conflict_raises_already_exists(writer: ApiClient) -> None:
    writer.create_variable(simple('flag', 'one'))
    with pytest.raises(VariableAlreadyExistsError, match="^Variable 'flag' already exists$") as info:
        writer.create_variable(simple('flag', 'two'))
    assert isinstance(info.value.__cause__, ApiError)
    assert info.value.__cause__.status == 409


def test_update_and_delete_of_a_missing_variable_raise_not_found(writer: ApiClient) -> None:
    with pytest.raises(VariableNotFoundError, match="^Variable 'ghost' not found$"):
        writer.update_variable('ghost', simple('ghost', 1))
    with pytest.raises(VariableNotFoundError, match="^Variable 'ghost' not found$"):
        writer.delete_variable('ghost')


def test_write_with_a_read_key_fails_with_the_servers_reason(reader: ApiClient) -> None:
    with pytest.raises(
        VariableWriteError, match=r'^Failed to create variable: POST /v1/variables/ returned HTTP 403: '
    ) as info:
        reader.create_variable(simple('flag', 'one'))
    assert not isinstance(info.value, VariableAlreadyExistsError | VariableNotFoundError)
    with pytest.raises(VariableWriteError, match='^Failed to update variable: .*HTTP 403'):
        reader.update_variable('flag', simple('flag', 'one'))
    with pytest.raises(VariableWriteError, match='^Failed to delete variable: .*HTTP 403'):
        reader.delete_variable('flag')


def test_a_refused_body_names_the_field(writer: ApiClient) -> None:
    bad = VariableConfig.model_construct(
        name='bad', description=None, labels={}, rollout=Rollout(labels={'nowhere': 1.0}), overrides=[]
    )
    with pytest.raises(VariableWriteError, match=r'^Failed to create variable: .*HTTP 4\d\d: .*nowhere'):
        writer.create_variable(bad)


def test_reads_raise_api_errors_with_status(server: RunningServer) -> None:
    with (
        ApiClient(server.url, 'not-a-key') as api,
        pytest.raises(ApiError, match='GET /v1/variables/ returned HTTP 401') as info,
    ):
        api.fetch_config()
    assert info.value.status == 401
    assert not info.value.transient


def test_unreachable_server_raises_connection_error() -> None:
    with ApiClient(f'http://127.0.0.1:{free_port()}', 'k', timeout=(1.0, 1.0)) as api:
        with pytest.raises(ApiConnectionError, match='^GET /v1/variables/: ConnectError') as info:
            api.fetch_config()
        assert info.value.status is None
        assert info.value.transient
        with pytest.raises(VariableWriteError, match='^Failed to create variable: POST /v1/variables/: ConnectError'):
            api.create_variable(simple('flag', 1))


def test_bulk_write_is_transactional(writer: ApiClient, reader: ApiClient) -> None:
    writer.create_variable(simple('a', 1))
    writer.create_variable(simple('b', 2))
    writer.bulk_write([simple('a', 10, version=2), simple('c', 3)], ['b'])
    config = reader.list_variables()
    assert sorted(config.variables) == ['a', 'c']
    assert config.variables['a'].resolve_value()[0] == '10'

    with pytest.raises(VariableNotFoundError, match='ghost'):
        writer.bulk_write([simple('d', 4)], ['ghost'])
    assert sorted(reader.list_variables().variables) == ['a', 'c']  # the upsert of d was rolled back


def test_bulk_write_with_a_read_key_is_a_write_error(reader: ApiClient) -> None:
    with pytest.raises(VariableWriteError, match='^Failed to apply bulk write: .*HTTP 403') as info:
        reader.bulk_write([simple('a', 1)], [])
    assert not isinstance(info.value, BulkWriteUnsupported)


@pytest.mark.parametrize(
    ('status', 'content_type', 'body'),
    [
        (404, 'text/plain', b'Not Found'),
        (404, 'application/json', b'{"detail": "Not Found"}'),
        (405, 'text/plain', b''),
    ],
)
def test_bulk_write_on_a_server_without_it_is_unsupported(
    fault: FaultServer, status: int, content_type: str, body: bytes
) -> None:
    fault.routes['POST', '/v1/variables/bulk/'] = (status, content_type, body)
    with ApiClient(fault.url, 'k') as api, pytest.raises(BulkWriteUnsupported, match='no bulk write endpoint') as info:
        api.bulk_write([simple('a', 1)], ['gone'])
    assert info.value.status == status
    sent = [s for s in fault.seen if s.path == '/v1/variables/bulk/']
    assert json.loads(sent[0].body)['delete'] == ['gone']
    assert json.loads(sent[0].body)['upsert'][0]['name'] == 'a'


def test_variable_types_round_trip(writer: ApiClient, reader: ApiClient) -> None:
    assert reader.list_variable_types() == {}
    feature = VariableTypeConfig(name='Feature', json_schema={'type': 'object'}, source_hint='app.Feature')
    assert writer.upsert_variable_type(feature) is feature
    writer.upsert_variable_type(VariableTypeConfig(name='Feature', json_schema={'type': 'integer'}))
    types = reader.list_variable_types()
    assert list(types) == ['Feature']
    assert types['Feature'].json_schema == {'type': 'integer'}
    assert reader.get_variable_type('Feature') == types['Feature']
    assert reader.get_variable_type('Other') is None


def test_variable_type_failures_are_write_errors(reader: ApiClient, fault: FaultServer) -> None:
    with pytest.raises(VariableWriteError, match='^Failed to upsert variable type: .*HTTP 403'):
        reader.upsert_variable_type(VariableTypeConfig(name='T', json_schema={}))
    fault.routes['GET', '/v1/variable-types/'] = (200, 'application/json', b'[{"json_schema": {}}]')
    with ApiClient(fault.url, 'k') as api, pytest.raises(VariableWriteError, match='^Failed to list variable types: '):
        api.list_variable_types()
    fault.routes['GET', '/v1/variable-types/'] = (200, 'application/json', b'not json')
    with (
        ApiClient(fault.url, 'k') as api,
        pytest.raises(VariableWriteError, match='^Failed to list variable types: .*not JSON'),
    ):
        api.list_variable_types()


def test_headers_sent(fault: FaultServer) -> None:
    fault.routes['POST', '/v1/variables/'] = (201, 'application/json', b'{}')
    with ApiClient(fault.url, 'the-key') as api:
        api.fetch_config()
        api.create_variable(simple('a', 1))
    get, post = fault.seen
    assert get.headers['authorization'] == 'bearer the-key'
    assert get.headers['user-agent'].startswith('remotevars/')
    assert post.headers['content-type'] == 'application/json'
    assert json.loads(post.body) == config_to_api_body(simple('a', 1))


def test_the_api_key_never_shows(server: RunningServer, fault: FaultServer, caplog: pytest.LogCaptureFixture) -> None:
    shown: list[str] = []
    with caplog.at_level(logging.DEBUG):
        with ApiClient(server.url, SECRET_WRITE) as api:
            shown.append(repr(api))
            api.create_variable(simple('a', 1))
        # A wrong key that happens to look like a secret, and a server that echoes request headers.
        for url in (server.url, fault.url):
            fault.config_mode = 'echo'
            with ApiClient(url, SECRET_READ + '-wrong') as api:
                for call in (api.fetch_config, api.list_variables, lambda: api.create_variable(simple('b', 2))):
                    with pytest.raises(Exception) as info:  # any error: its text is what matters
                        call()
                    shown += [str(info.value), repr(info.value), ''.join(traceback.format_exception(info.value))]
    assert any('authorization' in text for text in shown)  # the echo really came back, scrubbed
    for text in [*shown, caplog.text]:
        assert SECRET_WRITE not in text
        assert SECRET_READ not in text


def test_closed_client_refuses_requests(server: RunningServer) -> None:
    api = ApiClient(server.url, server.read_key)
    api.close()
    api.close()  # idempotent
    with pytest.raises((ApiConnectionError, RuntimeError)):
        api.fetch_config()


def test_request_json_for_extensions(writer: ApiClient, fault: FaultServer) -> None:
    writer.create_variable(simple('flag', 'one'))
    data = writer.request_json('GET', '/v1/variables/flag/')
    assert data['name'] == 'flag'
    fault.routes['GET', '/x/'] = (200, 'text/plain', b'nope')
    with ApiClient(fault.url, 'k') as api, pytest.raises(ApiError, match='not JSON'):
        api.request_json('GET', '/x/')


def test_stream_of_updates(writer: ApiClient, reader: ApiClient) -> None:
    with reader.updates_stream(read_timeout=5.0) as source:
        assert source.response.status_code == 200
        writer.create_variable(simple('flag', 'one'))
        events = source.iter_sse()
        event = next(event for event in events if event.data)
        assert json.loads(event.data)['event'] == 'created'


def test_stream_refused_raises(fault: FaultServer) -> None:
    fault.stream_mode = 'status:403'
    with ApiClient(fault.url, 'k') as api:
        with pytest.raises(ApiError, match='HTTP 403: no stream here') as info, api.updates_stream(1.0):
            pass
        assert info.value.status == 403
        fault.stream_mode = 'html'
        with pytest.raises(ApiConnectionError, match='text/event-stream'), api.updates_stream(1.0) as source:
            list(source.iter_sse())


def test_stream_read_timeout(fault: FaultServer) -> None:
    with (
        ApiClient(fault.url, 'k') as api,
        pytest.raises(ApiConnectionError, match='ReadTimeout'),
        api.updates_stream(0.3) as source,
    ):
        list(source.iter_sse())


def test_transport_can_be_injected() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={'variables': {}}, headers={'ETag': '"e"'})

    with ApiClient('http://nowhere.invalid', 'k', transport=httpx.MockTransport(handler)) as api:
        assert api.fetch_config().etag == '"e"'
