"""Each body limit answers a clear 4xx naming what was exceeded, is configurable, and changes nothing.

A server with small limits (so bodies stay small), plus the defaults and the ``remotevars serve``
options that set them.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from remotevars.cli.serve import LIMIT_OPTIONS
from remotevars.server import Limits
from tests.server.attackutil import assert_served_strict, open_socket
from tests.server.console.consoleutil import Browser, csrf_of
from tests.serverutil import RunningServer, api_client, running_server, server_process, variable_body

SMALL = Limits(
    max_body_bytes=10_000,
    max_json_depth=8,
    max_pattern_length=50,
    max_total_pattern_length=80,
    max_labels=3,
    max_overrides=2,
    max_name_length=16,
    max_label_length=10,
)


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server with :data:`SMALL` limits for the module, holding 'e': as many labels and overrides as allowed."""
    with running_server(tmp_path_factory.mktemp('limits') / 'db.sqlite3', limits=SMALL) as running:
        with api_client(running.url, running.write_key) as client:
            labels = {'prod': {'target_type': 'version', 'serialized_value': '1'}} | _labels('x', 'y')
            full = variable_body('e', labels=labels, overrides=[_regex('a'), _regex('b')])
            client.post('/v1/variables/', json=full).raise_for_status()
        yield running


@pytest.fixture
def writer(server: RunningServer) -> Iterator[httpx.Client]:
    """A write client; checks that every test leaves the served configuration strict and unchanged."""
    with api_client(server.url, server.write_key) as client:
        before = client.get('/v1/variables/').headers['etag']
        yield client
        assert client.get('/v1/variables/').headers['etag'] == before
    assert_served_strict(server.url, server.read_key)


def _regex(pattern: str) -> dict[str, Any]:
    return {'conditions': [{'kind': 'value-matches-regex', 'attribute': 'a', 'pattern': pattern}], 'rollout': {}}


def _override(pattern: str) -> dict[str, Any]:
    return {**_regex(pattern), 'rollout': {'labels': {}}}  # the body of POST .../overrides/


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = {'a': value}
    return value


def _labels(*names: str) -> dict[str, Any]:
    return {name: {'target_type': 'code_default'} for name in names}


REFUSED: list[tuple[str, str, Any, int, str]] = [
    ('POST', '/v1/variables/', variable_body('b', 1, description='x' * 10_000), 413, 'body: 10'),
    (
        'POST',
        '/v1/variables/',
        {**variable_body('b', 1), 'json_schema': _nested(8)},
        422,
        'json_schema.a.a.a: nests deeper than 8 levels',  # where it passes the limit, cut to 4 steps
    ),
    (
        'POST',
        '/v1/variables/bulk/',
        {'upsert': [{**variable_body('b', 1), 'json_schema': _nested(6)}]},
        422,
        'upsert.0.json_schema.a: nests deeper than 8 levels',
    ),
    (
        'POST',
        '/v1/variables/',
        variable_body('b', labels={'x': {'target_type': 'version', 'serialized_value': json.dumps(_nested(9))}}),
        422,
        'labels.x.serialized_value: not valid JSON text (a.a.a.a: nests deeper than 8 levels)',
    ),
    (
        'POST',
        '/v1/variables/',
        variable_body('b', 1, overrides=[_regex('a' * 51)]),
        422,
        'overrides.0.conditions.0.pattern: patterns are at most 50 characters, got 51',
    ),
    (
        'POST',
        '/v1/variables/',
        variable_body('b', 1, overrides=[_regex('a' * 41), _regex('b' * 40)]),
        422,
        'overrides: the regex patterns of one request total at most 80 characters, got 81',
    ),
    (
        'POST',
        '/v1/variables/bulk/',
        [variable_body('b', 1, overrides=[_regex('a' * 41)]), variable_body('c', 1, overrides=[_regex('b' * 40)])],
        422,
        'overrides: the regex patterns of one request total at most 80 characters, got 81',
    ),
    (
        'POST',
        '/v1/variables/',
        variable_body('b', labels=_labels('w', 'x', 'y', 'z')),
        422,
        'labels: at most 3 labels per variable, got 4',
    ),
    (
        'POST',
        '/v1/variables/',
        variable_body('b', 1, overrides=[_regex('a')] * 3),
        422,
        'overrides: at most 2 overrides per variable, got 3',
    ),
    (
        'POST',
        '/v1/variables/',
        variable_body('b' * 17, 1),
        422,
        'name: variable names are at most 16 characters, got 17',
    ),
    ('GET', f'/v1/variables/{"b" * 17}/', None, 422, 'name: variable names are at most 16 characters'),
    ('PUT', f'/v1/variables/{"b" * 17}/', variable_body('b' * 17, 1), 422, 'name: variable names are at most 16'),
    ('DELETE', f'/v1/variables/{"b" * 17}/', None, 422, 'name: variable names are at most 16 characters'),
    (
        'POST',
        '/v1/variables/bulk/',
        {'delete': ['b' * 17]},
        422,
        'delete[0]: name: variable names are at most 16 characters, got 17',
    ),
    (
        'POST',
        '/v1/variables/',
        {**variable_body('b', 1), 'aliases': ['c' * 17]},
        422,
        'aliases.0: names are at most 16 characters, got 17',
    ),
    (
        'POST',
        '/v1/variables/',
        variable_body('b', labels=_labels('l' * 11)),
        422,
        "labels: label names are at most 10 characters, got 11 ('lllllllllll'...)",
    ),
    (
        'POST',
        '/v1/variables/',
        variable_body('b', labels=_labels('\x1b[31mred')),
        422,
        "labels: label names may not contain control, format or line-separator characters (found '\\x1b' in",
    ),
    ('POST', '/v1/variables/', variable_body('b', labels=_labels('a\u202eb')), 422, "(found '\\u202e' in"),
    ('POST', '/v1/variables/', variable_body('b', labels=_labels('a\u2028b')), 422, "(found '\\u2028' in"),
    # The edit endpoints: the same limits and label rule, through the operations.
    ('POST', '/v1/variables/e/versions/', {'serialized_value': '"' + 'x' * 10_000 + '"'}, 413, 'body: 10'),
    ('POST', '/v1/variables/e/versions/', {'serialized_value': json.dumps(_nested(9))}, 422, 'nests deeper than 8'),
    ('POST', '/v1/variables/e/versions/', {'serialized_value': '1', 'labels': ['l' * 11]}, 422, 'at most 10 char'),
    ('POST', '/v1/variables/e/versions/', {'serialized_value': '1', 'labels': ['a\x00']}, 422, "(found '\\x00' in"),
    ('POST', '/v1/variables/e/versions/', {'serialized_value': '1', 'labels': list('abcd')}, 422, 'at most 3 labels'),
    ('POST', '/v1/variables/e/versions/', {'serialized_value': '1', 'labels': ['z']}, 422, 'at most 3 labels'),
    ('PUT', '/v1/variables/e/labels/z/', {'version': 1}, 422, "Variable 'e': labels: at most 3 labels per variable"),
    ('PUT', '/v1/variables/e/labels/' + 'l' * 11 + '/', {'version': 1}, 422, 'label names are at most 10 char'),
    ('PUT', '/v1/variables/e/labels/%1B%5B31mred/', {'version': 1}, 422, "(found '\\x1b' in"),
    ('PUT', '/v1/variables/e/labels/a%E2%80%AEb/', {'version': 1}, 422, "(found '\\u202e' in"),
    ('PUT', '/v1/variables/e/labels/latest/', {'version': 1}, 422, "'latest' is reserved"),
    ('PUT', '/v1/variables/e/rollout/', {'labels': {'prod': 1}, 'x': _nested(8)}, 422, 'nests deeper than 8'),
    ('POST', '/v1/variables/e/overrides/', _override('c'), 422, "Variable 'e': overrides: at most 2 overrides"),
    ('POST', '/v1/variables/e/overrides/', _override('c' * 51), 422, 'override.conditions.0.pattern: patterns are'),
    (
        'POST',
        '/v1/variables/e/overrides/',
        {'conditions': _override('c' * 45)['conditions'] * 2, 'rollout': {'labels': {}}},
        422,
        'the regex patterns of one request total at most 80 characters, got 90',
    ),
    ('POST', '/v1/variables/e/overrides/', _override('a{4294967295}'), 422, 'pattern: invalid regular expression'),
    ('POST', '/v1/variables/e/rollback/', {'to': 1, 'pad': 'x' * 10_000}, 413, 'body: 10'),
    ('PUT', '/v1/variables/' + 'e' * 17 + '/labels/x/', {'version': 1}, 422, 'variable names are at most 16'),
]


@pytest.mark.parametrize(('method', 'path', 'body', 'status', 'message'), REFUSED)
def test_past_a_limit_is_refused_naming_it(
    writer: httpx.Client, method: str, path: str, body: Any, status: int, message: str
) -> None:
    response = writer.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert message in response.json()['detail']


def test_at_the_limits_is_accepted(server: RunningServer) -> None:
    labels = {'prod-eu': {'target_type': 'version', 'serialized_value': json.dumps(_nested(7))}}
    labels |= _labels('v1.2', 'café ☕ 10')
    body = {
        **variable_body('b' * 16, labels=labels, overrides=[_regex('a' * 40), _regex('b' * 40)]),
        'aliases': ['c' * 16],
        'json_schema': _nested(7),
    }
    encoded = json.dumps(body).encode()
    assert len(encoded) < 10_000
    with api_client(server.url, server.write_key) as writer:
        created = writer.post('/v1/variables/', content=encoded)
        assert created.status_code == 201, created.text
        assert set(created.json()['labels']) == {'prod-eu', 'v1.2', 'café ☕ 10'}
        assert_served_strict(server.url, server.read_key)
        assert writer.delete(f'/v1/variables/{"b" * 16}/').status_code == 204


def test_console_forms_are_held_to_the_same_body_limit(server: RunningServer) -> None:
    """The console reads its forms as the API reads bodies: past ``max_body_bytes``, 413 and nothing changes."""
    browser = Browser(server.url)
    try:
        assert browser.sign_in(server.write_key).status_code == 303  # a small form passes
        csrf = csrf_of(browser.get('/ui/'))
        with api_client(server.url, server.read_key) as reader:
            before = reader.get('/v1/variables/').headers['etag']
            too_big = {'csrf': csrf, 'mode': 'raw', 'raw': '"' + 'x' * SMALL.max_body_bytes + '"'}
            refused = browser.post('/ui/variables/e/versions/new', too_big)
            assert refused.status_code == 413
            assert 'The form is larger than the limit of 10,000 bytes.' in refused.text
            assert reader.get('/v1/variables/').headers['etag'] == before
    finally:
        browser.close()


def test_patterns_the_condition_engine_refuses_are_422(tmp_path: Path) -> None:
    # With room for them, 1,000 nested groups (re recursed past its limit: a 500 with a 3,000-line
    # traceback before) and repeats regex would unroll into gigabytes get the engine's own message.
    limits = Limits(max_pattern_length=5_000, max_total_pattern_length=5_000)
    cases = [
        ('(' * 1000 + 'a' + ')' * 1000, 'RecursionError: too large or too deeply nested'),
        ('(?:ab){6000}', 'its repeat counts unroll to more than 10,000 elements'),
        ('(?P<x>a)(?P<x>b)', 'redefinition of group name'),
    ]
    with (
        running_server(tmp_path / 'db.sqlite3', limits=limits) as running,
        api_client(running.url, running.write_key) as client,
    ):
        for pattern, reason in cases:
            response = client.post('/v1/variables/', json=variable_body('b', 1, overrides=[_regex(pattern)]))
            assert response.status_code == 422, response.text
            detail = response.json()['detail']
            assert detail.startswith('overrides.0.conditions.0.pattern: invalid regular expression (')
            assert reason in detail


def test_defaults() -> None:
    assert Limits() == Limits(
        max_body_bytes=2 * 1024 * 1024,
        max_json_depth=64,
        max_pattern_length=1_000,
        max_total_pattern_length=10_000,
        max_labels=100,
        max_overrides=100,
        max_name_length=128,
        max_label_length=128,
        header_timeout=10.0,
        body_timeout=30.0,
        idle_timeout=5.0,
        max_header_bytes=64 * 1024,
        max_connections=None,
    )


@pytest.mark.parametrize('field', ['max_body_bytes', 'max_json_depth', 'header_timeout', 'max_connections'])
@pytest.mark.parametrize('value', [0, -1, True])
def test_limits_must_be_positive(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f'Limits.{field} must be positive'):
        Limits(**{field: value})


def test_every_limit_is_a_serve_option_with_the_same_default() -> None:
    defaults = {field.name: field.default for field in dataclasses.fields(Limits)}
    assert {name: default for _option, name, _kind, default, _help in LIMIT_OPTIONS} == defaults
    assert [option for option, *_rest in LIMIT_OPTIONS] == [f'--{name.replace("_", "-")}' for name in defaults]


@pytest.mark.parametrize('workers', ['1', '2'])
def test_serve_options_reach_the_server(tmp_path: Path, workers: str) -> None:
    # With --workers, each worker builds its app and its connection guard from the same limits.
    options = ['--max-body-bytes', '300', '--max-labels', '1', '--header-timeout', '1', '--workers', workers]
    with (
        server_process(tmp_path / 'db.sqlite3', extra_args=options) as running,
        api_client(running.url, running.write_key) as client,
    ):
        response = client.post('/v1/variables/', json=variable_body('b', 1, description='x' * 300))
        assert (response.status_code, response.json()['detail']) == (
            413,
            f'body: {len(response.request.content)} bytes is more than the limit of 300 bytes',
        )
        response = client.post('/v1/variables/', json=variable_body('b', labels=_labels('x', 'y')))
        assert response.status_code == 422
        assert response.json()['detail'] == 'labels: at most 1 labels per variable, got 2'
        with open_socket(running.port) as silent:  # sends nothing: closed at the header timeout
            started = time.monotonic()
            assert silent.recv(1) == b''
            assert 0.6 < time.monotonic() - started < 4
