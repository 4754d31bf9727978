"""Auth on every endpoint (401 without a key, 403 for a read key on writes) and bad input (4xx naming the field)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.serverutil import RunningServer, api_client, running_server, seed_variable, variable_body

READ_ENDPOINTS = [
    ('GET', '/v1/variables/'),
    ('GET', '/v1/variables/a/'),
    ('GET', '/v1/variables/a/versions/'),
    ('GET', '/v1/variable-types/'),
    ('GET', '/v1/variable-updates/'),
]
WRITE_ENDPOINTS: list[tuple[str, str, Any]] = [
    ('POST', '/v1/variables/', variable_body('b', 1)),
    ('PUT', '/v1/variables/a/', variable_body('a', 2)),
    ('DELETE', '/v1/variables/a/', None),
    ('POST', '/v1/variables/a/versions/', {'serialized_value': '3'}),
    ('POST', '/v1/variables/bulk/', [variable_body('b', 1)]),
    ('POST', '/v1/variable-types/', {'name': 'T', 'json_schema': {}}),
]
ALL = [(m, p, None) for m, p in READ_ENDPOINTS] + WRITE_ENDPOINTS


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for the module (every request here is refused, so none changes its state), seeded with 'a'."""
    with running_server(tmp_path_factory.mktemp('auth') / 'db.sqlite3') as running:
        seed_variable(running.url, running.write_key, variable_body('a', 1))
        yield running


@pytest.fixture(autouse=True)
def _unchanged(server: RunningServer) -> Iterator[None]:
    # Every request in this module is refused: check that none of them changed anything.
    with api_client(server.url, server.read_key) as client:
        before = client.get('/v1/variables/')
        yield
        after = client.get('/v1/variables/')
    assert after.headers['etag'] == before.headers['etag']


@pytest.mark.parametrize(('method', 'path', 'body'), ALL)
def test_missing_key_is_401(anonymous: httpx.Client, method: str, path: str, body: Any) -> None:
    response = anonymous.request(method, path, json=body)
    assert response.status_code == 401
    assert response.json() == {'detail': 'Missing API key (Authorization: bearer <key>)'}
    assert response.headers['www-authenticate'] == 'Bearer'


@pytest.mark.parametrize(('method', 'path', 'body'), ALL)
def test_unknown_key_is_401(server: RunningServer, method: str, path: str, body: Any) -> None:
    with api_client(server.url, 'not-a-key') as client:
        response = client.request(method, path, json=body)
    assert response.status_code == 401
    assert response.json() == {'detail': 'Invalid API key'}


@pytest.mark.parametrize(('method', 'path', 'body'), WRITE_ENDPOINTS)
def test_read_key_on_write_is_403(reader: httpx.Client, method: str, path: str, body: Any) -> None:
    response = reader.request(method, path, json=body)
    assert response.status_code == 403
    assert response.json() == {'detail': 'This API key can only read; a write key is required'}


@pytest.mark.parametrize('scheme', ['bearer', 'Bearer', 'BEARER'])
def test_scheme_is_case_insensitive_and_write_implies_read(server: RunningServer, scheme: str) -> None:
    for key in (server.read_key, server.write_key):
        with api_client(server.url, None) as client:
            response = client.get('/v1/variables/', headers={'Authorization': f'{scheme} {key}'})
        assert response.status_code == 200


def test_basic_scheme_is_refused(server: RunningServer) -> None:
    with api_client(server.url, None) as client:
        response = client.get('/v1/variables/', headers={'Authorization': f'Basic {server.write_key}'})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ('method', 'path'),
    [
        ('POST', '/v1/variables/'),
        ('PUT', '/v1/variables/a/'),
        ('POST', '/v1/variables/a/versions/'),
        ('POST', '/v1/variables/bulk/'),
        ('POST', '/v1/variable-types/'),
    ],
)
@pytest.mark.parametrize('content', [b'{"name": ', b'', b'\xff\xfe', b'[' * 100_000])
def test_malformed_json_is_400(writer: httpx.Client, method: str, path: str, content: bytes) -> None:
    response = writer.request(method, path, content=content, headers={'Content-Type': 'application/json'})
    assert response.status_code == 400
    assert response.json()['detail'].startswith('body: ')


BAD_BODIES: list[tuple[Any, str]] = [
    ([], 'body: expected a JSON object'),
    ({'description': 'no name'}, 'name: expected a string'),
    (variable_body('1abc', 1), "name: invalid variable name '1abc'"),
    (variable_body('a-b', 1), "name: invalid variable name 'a-b'"),
    (variable_body('ok\n', 1), "name: invalid variable name 'ok\\n'"),
    (variable_body('b', 1, rollout={'production': 0.7, 'other': 0.7}), 'rollout.labels: Label '),
    (
        variable_body('b', 1, rollout={'production': 1.5}),
        'rollout.labels: Label proportions must not sum to more than 1',
    ),
    (variable_body('b', 1, rollout={'production': -0.5}), 'rollout.labels: Label proportions must not be negative'),
    (
        {**variable_body('b', 1), 'rollout': {'labels': {'production': 'lots'}}},
        'rollout.labels.production: Input should be a valid number',
    ),
    ({**variable_body('b', 1), 'rollout': None}, 'rollout: Input should be a valid dictionary'),
    (
        variable_body('b', 1, rollout={'ghost': 0.5}),
        "Label 'ghost' present in `rollout.labels` is not present in `labels`.",
    ),
    (
        variable_body('b', 1, overrides=[{'conditions': [], 'rollout': {'labels': {'ghost': 1.0}}}]),
        "Label 'ghost' present in `overrides[0].rollout` is not present in `labels`.",
    ),
    (
        variable_body('b', labels={'x': {'target_type': 'label', 'target_label': 'ghost'}}),
        "Label 'x' has ref 'ghost' which is not present in `labels`.",
    ),
    (
        variable_body('b', labels={'latest': {'target_type': 'version', 'serialized_value': '1'}}),
        "labels: 'latest' is reserved",
    ),
    (variable_body('b', labels={'code_default': {'target_type': 'latest'}}), "labels: 'code_default' is reserved"),
    (variable_body('b', labels={'x': {'target_type': 'banana'}}), 'labels.x.target_type: expected one of'),
    (variable_body('b', labels={'x': {'target_type': 'version'}}), 'labels.x.serialized_value: expected a string'),
    (
        variable_body('b', labels={'x': {'target_type': 'version', 'serialized_value': 'not json'}}),
        'labels.x.serialized_value: not valid JSON text',
    ),
    (
        variable_body('b', labels={'x': {'target_type': 'version', 'version': 'two', 'serialized_value': '1'}}),
        'labels.x.version: expected a positive integer or null',
    ),
    (
        variable_body('b', 1, overrides=[{'conditions': [{'kind': 'nope', 'attribute': 'a'}], 'rollout': {}}]),
        'overrides.0.conditions.0: Input tag',
    ),
    (
        variable_body(
            'b', 1, overrides=[{'conditions': [{'kind': 'value-matches-regex', 'attribute': 'a', 'pattern': '('}]}]
        ),
        'overrides.0.rollout: Field required',
    ),
    (
        variable_body(
            'b',
            1,
            overrides=[
                {'conditions': [{'kind': 'value-matches-regex', 'attribute': 'a', 'pattern': '('}], 'rollout': {}}
            ],
        ),
        'overrides.0.conditions.0.pattern: invalid regular expression',
    ),
    ({**variable_body('b', 1), 'aliases': ['bad name']}, 'aliases.0: String should match pattern'),
]


@pytest.mark.parametrize(('body', 'message'), BAD_BODIES)
def test_invalid_create_body_is_422_naming_the_field(writer: httpx.Client, body: Any, message: str) -> None:
    response = writer.post('/v1/variables/', json=body)
    assert response.status_code == 422, response.text
    assert message in response.json()['detail']


def test_nan_weight_is_refused(writer: httpx.Client) -> None:
    content = (
        b'{"name": "b", "rollout": {"labels": {"x": NaN}}, "overrides": [], "labels": {"x": {"target_type": "latest"}}}'
    )
    response = writer.post('/v1/variables/', content=content)
    assert response.status_code == 422
    assert response.json() == {
        'detail': 'rollout.labels.x: NaN and Infinity are not JSON numbers (expected a finite number)'
    }


@pytest.mark.parametrize(('method', 'body'), [('GET', None), ('PUT', variable_body('x', 1)), ('DELETE', None)])
def test_invalid_name_in_path_is_422(writer: httpx.Client, method: str, body: Any) -> None:
    response = writer.request(method, '/v1/variables/9lives/', json=body)
    assert response.status_code == 422
    assert response.json()['detail'].startswith("name: invalid variable name '9lives'")


@pytest.mark.parametrize(
    ('method', 'path', 'body'),
    [
        ('GET', '/v1/variables/ghost/', None),
        ('PUT', '/v1/variables/ghost/', variable_body('ghost', 1)),
        ('DELETE', '/v1/variables/ghost/', None),
        ('GET', '/v1/variables/ghost/versions/', None),
        ('POST', '/v1/variables/ghost/versions/', {'serialized_value': '1'}),
    ],
)
def test_unknown_variable_is_404(writer: httpx.Client, method: str, path: str, body: Any) -> None:
    response = writer.request(method, path, json=body)
    assert response.status_code == 404
    assert response.json() == {'detail': "Variable 'ghost' not found"}


@pytest.mark.parametrize(
    ('body', 'message'),
    [
        ({}, 'serialized_value: expected a string of JSON text'),
        ({'serialized_value': 5}, 'serialized_value: expected a string of JSON text'),
        ({'serialized_value': '{oops'}, 'serialized_value: not valid JSON text'),
        ([], 'body: expected a JSON object {"serialized_value": "<JSON text>"}'),
    ],
)
def test_bad_version_body_is_422(writer: httpx.Client, body: Any, message: str) -> None:
    response = writer.post('/v1/variables/a/versions/', json=body)
    assert response.status_code == 422
    assert response.json()['detail'].startswith(message)


@pytest.mark.parametrize(
    ('body', 'message'),
    [
        ('nope', 'body: expected a JSON array of variables'),
        ({'upsert': [], 'remove': []}, "body: unknown keys ['remove']"),
        ({'upsert': {}}, 'upsert: expected an array of variable bodies'),
        ({'delete': [1]}, 'delete: expected an array of variable names'),
        ({'delete': ['bad-name']}, "delete[0]: name: invalid variable name 'bad-name'"),
        ([variable_body('b', 1), variable_body('b', 2)], "upsert[1] (variable 'b'): name appears more than once"),
        ({'upsert': [variable_body('b', 1)], 'delete': ['b']}, "delete[0] (variable 'b'): cannot both upsert"),
        ([{'name': 'c', 'rollout': {'labels': {'x': 1}}}], "upsert[0] (variable 'c'): Label 'x' present"),
    ],
)
def test_bad_bulk_body_is_422(writer: httpx.Client, body: Any, message: str) -> None:
    response = writer.post('/v1/variables/bulk/', json=body)
    assert response.status_code == 422
    assert response.json()['detail'].startswith(message)


@pytest.mark.parametrize(
    ('body', 'message'),
    [
        ({'json_schema': {}}, 'name: expected a non-empty string'),
        ({'name': 'T', 'json_schema': 'x'}, 'json_schema: Input should be a valid dictionary'),
        ({'name': 'T', 'json_schema': {}, 'description': 3}, 'description: Input should be a valid string'),
    ],
)
def test_bad_variable_type_is_422(writer: httpx.Client, body: Any, message: str) -> None:
    response = writer.post('/v1/variable-types/', json=body)
    assert response.status_code == 422
    assert response.json()['detail'].startswith(message)


def test_unknown_route_and_method_are_json(writer: httpx.Client) -> None:
    missing = writer.get('/v1/nothing/')
    assert (missing.status_code, missing.json()) == (404, {'detail': 'Not Found'})
    wrong = writer.patch('/v1/variables/a/', json={})
    assert (wrong.status_code, wrong.json()) == (405, {'detail': 'Method Not Allowed'})
