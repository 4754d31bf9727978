"""Happy paths of every endpoint, ETag/304, version numbering, label refs, bulk writes, variable types."""

from __future__ import annotations

import json
from typing import Any

import httpx

from remotevars.config import VariablesConfig
from tests.serverutil import RunningServer, api_client, running_server, variable_body

CONTRACT_EXAMPLE: dict[str, Any] = {
    'name': 'v',
    'description': None,
    'json_schema': {'type': 'string'},
    'rollout': {'labels': {'prod': 0.9, 'l': 0.1}},
    'overrides': [
        {
            'conditions': [
                {'kind': 'value-equals', 'attribute': 'plan', 'value': 'ent'},
                {'kind': 'value-is-in', 'attribute': 'c', 'values': ['US', 'UK']},
                {'kind': 'value-matches-regex', 'attribute': 'e', 'pattern': '@x\\.com$'},
                {'kind': 'key-is-present', 'attribute': 'k'},
            ],
            'rollout': {'labels': {'stg': 1.0}},
        }
    ],
    'aliases': ['old'],
    'example': '"ex"',
    'labels': {
        'prod': {'target_type': 'version', 'version': 2, 'serialized_value': '"x"'},
        'stg': {'target_type': 'label', 'target_label': 'prod'},
        'l': {'target_type': 'latest'},
        'cd': {'target_type': 'code_default'},
    },
}


def _variables(reader: httpx.Client) -> dict[str, Any]:
    response = reader.get('/v1/variables/')
    assert response.status_code == 200
    result: dict[str, Any] = response.json()['variables']
    return result


def test_create_returns_read_shape_and_list_validates_as_config(writer: httpx.Client, reader: httpx.Client) -> None:
    created = writer.post('/v1/variables/', json=CONTRACT_EXAMPLE)
    assert created.status_code == 201
    variable = _variables(reader)['v']
    assert variable == created.json()
    # Version 2 did not exist: the server numbered the value as version 1.
    assert variable['labels'] == {
        'prod': {'version': 1, 'serialized_value': '"x"'},
        'stg': {'ref': 'prod'},
        'l': {'version': 1, 'ref': 'latest'},
        'cd': {'ref': 'code_default'},
    }
    assert variable['latest_version'] == {'version': 1, 'serialized_value': '"x"'}
    assert list(variable['rollout']['labels']) == ['prod', 'l']  # order kept: it drives bucketing
    assert variable['overrides'][0]['conditions'][2]['pattern'] == '@x\\.com$'
    assert variable['aliases'] == ['old']
    assert variable['example'] == '"ex"'
    config = VariablesConfig.model_validate(reader.get('/v1/variables/').json())
    assert config.variables['v'].resolve_value('anyone', {'plan': 'ent', 'c': 'UK', 'e': 'a@x.com', 'k': 1}) == (
        '"x"',
        'stg',
        1,
    )


def test_create_existing_is_409(writer: httpx.Client) -> None:
    assert writer.post('/v1/variables/', json=variable_body('a', 1)).status_code == 201
    again = writer.post('/v1/variables/', json=variable_body('a', 2))
    assert again.status_code == 409
    assert again.json() == {'detail': "Variable 'a' already exists"}


def test_get_one_variable(writer: httpx.Client, reader: httpx.Client) -> None:
    writer.post('/v1/variables/', json=variable_body('a', 1, description='one'))
    response = reader.get('/v1/variables/a/')
    assert response.status_code == 200
    assert response.json()['description'] == 'one'
    missing = reader.get('/v1/variables/nope/')
    assert (missing.status_code, missing.json()) == (404, {'detail': "Variable 'nope' not found"})


def test_put_replaces_and_reuses_or_mints_versions(writer: httpx.Client, reader: httpx.Client) -> None:
    writer.post('/v1/variables/', json=variable_body('a', 'one'))
    # Same value at version 1: the label keeps pointing at version 1, no new version.
    same = variable_body(
        'a', labels={'production': {'target_type': 'version', 'version': 1, 'serialized_value': '"one"'}}
    )
    assert writer.put('/v1/variables/a/', json=same).status_code == 200
    assert _variables(reader)['a']['latest_version'] == {'version': 1, 'serialized_value': '"one"'}
    # A changed value under an existing number: versions are immutable, so it becomes version 2.
    changed = variable_body(
        'a',
        labels={
            'production': {'target_type': 'version', 'version': 1, 'serialized_value': '"two"'},
            'staging': {'target_type': 'version', 'version': 1, 'serialized_value': '"two"'},
            'old': {'target_type': 'version', 'version': 1, 'serialized_value': '"one"'},
        },
        rollout={'production': 1.0},
    )
    response = writer.put('/v1/variables/a/', json=changed)
    assert response.status_code == 200
    labels = response.json()['labels']
    assert labels['production'] == labels['staging'] == {'version': 2, 'serialized_value': '"two"'}
    assert labels['old'] == {'version': 1, 'serialized_value': '"one"'}
    history = reader.get('/v1/variables/a/versions/').json()['versions']
    assert [(v['version'], v['serialized_value']) for v in history] == [(1, '"one"'), (2, '"two"')]


def test_put_missing_is_404_and_name_mismatch_is_422(writer: httpx.Client) -> None:
    missing = writer.put('/v1/variables/a/', json=variable_body('a', 1))
    assert (missing.status_code, missing.json()) == (404, {'detail': "Variable 'a' not found"})
    writer.post('/v1/variables/', json=variable_body('a', 1))
    mismatch = writer.put('/v1/variables/a/', json=variable_body('b', 1))
    assert mismatch.status_code == 422
    assert mismatch.json()['detail'] == "name: body name 'b' does not match the name 'a' in the path"


def test_delete(writer: httpx.Client, reader: httpx.Client) -> None:
    writer.post('/v1/variables/', json=variable_body('a', 1))
    response = writer.delete('/v1/variables/a/')
    assert response.status_code == 204
    assert _variables(reader) == {}
    again = writer.delete('/v1/variables/a/')
    assert (again.status_code, again.json()) == (404, {'detail': "Variable 'a' not found"})


def test_etag_and_304(writer: httpx.Client, reader: httpx.Client) -> None:
    first = reader.get('/v1/variables/')
    etag = first.headers['etag']
    assert etag.startswith('"') and etag.endswith('"')
    not_modified = reader.get('/v1/variables/', headers={'If-None-Match': etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b''
    assert reader.get('/v1/variables/', headers={'If-None-Match': '"other"'}).status_code == 200
    writer.post('/v1/variables/', json=variable_body('a', 1))
    changed = reader.get('/v1/variables/', headers={'If-None-Match': etag})
    assert changed.status_code == 200
    assert changed.headers['etag'] != etag
    assert reader.get('/v1/variables/', headers={'If-None-Match': f'W/{changed.headers["etag"]}'}).status_code == 304


def test_versions_endpoint_creates_immutable_numbered_versions(writer: httpx.Client, reader: httpx.Client) -> None:
    writer.post('/v1/variables/', json=variable_body('a', labels={'l': {'target_type': 'latest'}}, rollout={'l': 1.0}))
    assert _variables(reader)['a']['labels']['l'] == {'version': None, 'ref': 'latest'}
    created = [writer.post('/v1/variables/a/versions/', json={'serialized_value': str(i)}) for i in (10, 20)]
    numbers = [response.json()['version'] for response in created]
    assert numbers == [1, 2]
    variable = _variables(reader)['a']
    assert variable['latest_version'] == {'version': 2, 'serialized_value': '20'}
    assert variable['labels']['l'] == {'version': 2, 'ref': 'latest'}
    config = VariablesConfig.model_validate({'variables': {'a': variable}})
    assert config.variables['a'].resolve_value('k') == ('20', 'l', 2)
    history = reader.get('/v1/variables/a/versions/').json()
    assert history['name'] == 'a'
    assert [v['serialized_value'] for v in history['versions']] == ['10', '20']
    assert all(v['created_at'] for v in history['versions'])


def test_label_moves_between_versions_and_refs(writer: httpx.Client, reader: httpx.Client) -> None:
    writer.post('/v1/variables/', json=variable_body('a', 'v1'))
    writer.post('/v1/variables/a/versions/', json={'serialized_value': '"v2"'})
    body = variable_body(
        'a',
        labels={
            'production': {'target_type': 'version', 'version': 1, 'serialized_value': '"v1"'},
            'canary': {'target_type': 'latest'},
            'mirror': {'target_type': 'label', 'target_label': 'canary'},
            'off': {'target_type': 'code_default'},
        },
        rollout={'production': 0.5, 'mirror': 0.5},
    )
    writer.put('/v1/variables/a/', json=body)
    config = VariablesConfig.model_validate(reader.get('/v1/variables/').json())
    a = config.variables['a']
    assert a.resolve_value('k', label='production') == ('"v1"', 'production', 1)
    assert a.resolve_value('k', label='mirror') == ('"v2"', 'mirror', 2)
    assert a.resolve_value('k', label='off')[0] is None


def test_bulk_array_upserts(writer: httpx.Client, reader: httpx.Client) -> None:
    writer.post('/v1/variables/', json=variable_body('a', 1))
    response = writer.post('/v1/variables/bulk/', json=[variable_body('a', 2), variable_body('b', 3)])
    assert response.status_code == 200
    assert response.json() == {'changes': [{'event': 'updated', 'name': 'a'}, {'event': 'created', 'name': 'b'}]}
    variables = _variables(reader)
    assert variables['a']['labels']['production']['serialized_value'] == '2'
    assert variables['b']['labels']['production']['serialized_value'] == '3'


def test_bulk_object_upserts_and_deletes(writer: httpx.Client, reader: httpx.Client) -> None:
    writer.post('/v1/variables/', json=variable_body('a', 1))
    response = writer.post('/v1/variables/bulk/', json={'upsert': [variable_body('b', 2)], 'delete': ['a']})
    assert response.status_code == 200
    assert sorted(_variables(reader)) == ['b']


def test_bulk_is_all_or_nothing(writer: httpx.Client, reader: httpx.Client) -> None:
    writer.post('/v1/variables/', json=variable_body('a', 1))
    before = reader.get('/v1/variables/')
    bad = variable_body('c', 1, rollout={'production': 2.0})
    response = writer.post('/v1/variables/bulk/', json={'upsert': [variable_body('b', 2), bad], 'delete': ['a']})
    assert response.status_code == 422
    assert response.json()['detail'] == (
        "upsert[1] (variable 'c'): rollout.labels: Label proportions must not sum to more than 1."
    )
    # A delete of a missing variable fails in the store, after the upserts ran: still nothing changes.
    missing = writer.post('/v1/variables/bulk/', json={'upsert': [variable_body('b', 2)], 'delete': ['zzz']})
    assert (missing.status_code, missing.json()) == (404, {'detail': "delete: Variable 'zzz' not found"})
    after = reader.get('/v1/variables/')
    assert after.headers['etag'] == before.headers['etag']
    assert after.content == before.content


def test_a_variable_named_bulk_is_still_reachable(writer: httpx.Client, reader: httpx.Client) -> None:
    writer.post('/v1/variables/', json=variable_body('bulk', 1))
    assert reader.get('/v1/variables/bulk/').json()['name'] == 'bulk'
    assert writer.put('/v1/variables/bulk/', json=variable_body('bulk', 2)).status_code == 200
    assert writer.delete('/v1/variables/bulk/').status_code == 204


def test_variable_types_upsert_by_name(writer: httpx.Client, reader: httpx.Client) -> None:
    assert reader.get('/v1/variable-types/').json() == []
    first = {'name': 'Prompt', 'json_schema': {'type': 'string'}, 'description': None}
    assert writer.post('/v1/variable-types/', json=first).status_code == 200
    second = {'name': 'Prompt', 'json_schema': {'type': 'object'}, 'description': 'd', 'source_hint': 'app.Prompt'}
    writer.post('/v1/variable-types/', json=second)
    writer.post('/v1/variable-types/', json={'name': 'Limit', 'json_schema': {'type': 'integer'}, 'description': None})
    types = reader.get('/v1/variable-types/').json()
    assert types == [
        {'name': 'Limit', 'json_schema': {'type': 'integer'}, 'description': None, 'source_hint': None},
        {'name': 'Prompt', 'json_schema': {'type': 'object'}, 'description': 'd', 'source_hint': 'app.Prompt'},
    ]


def test_failed_write_changes_nothing(writer: httpx.Client, reader: httpx.Client) -> None:
    writer.post('/v1/variables/', json=variable_body('a', 'keep'))
    before = reader.get('/v1/variables/')
    bad = variable_body(
        'a',
        labels={
            'production': {'target_type': 'version', 'serialized_value': '"new"'},
            'broken': {'target_type': 'label', 'target_label': 'ghost'},
        },
        rollout={'production': 1.0},
    )
    response = writer.put('/v1/variables/a/', json=bad)
    assert response.status_code == 422
    after = reader.get('/v1/variables/')
    assert after.content == before.content
    assert after.headers['etag'] == before.headers['etag']
    history = reader.get('/v1/variables/a/versions/').json()['versions']
    assert [v['serialized_value'] for v in history] == ['"keep"']


def test_anonymous_read_when_allowed(db_path: Any) -> None:
    with running_server(db_path, allow_anonymous_read=True) as server, api_client(server.url, None) as client:
        assert client.get('/v1/variables/').status_code == 200
        assert client.post('/v1/variables/', json=variable_body('a', 1)).status_code == 401


def test_restart_in_thread_keeps_data(server: RunningServer, writer: httpx.Client) -> None:
    writer.post('/v1/variables/', json=variable_body('a', {'x': [1, 2]}))
    port = server.port
    server.stop()
    server.start()
    assert server.port == port
    with api_client(server.url, server.read_key) as client:
        value = client.get('/v1/variables/a/').json()['labels']['production']['serialized_value']
    assert json.loads(value) == {'x': [1, 2]}


def test_put_replaces_written_fields_and_keeps_type_name(writer: httpx.Client, reader: httpx.Client) -> None:
    body = {**variable_body('a', 1), 'aliases': ['old_a'], 'example': '0', 'type_name': 'Limit'}
    writer.post('/v1/variables/', json=body)
    assert _variables(reader)['a']['type_name'] == 'Limit'
    # The Logfire write format omits None fields and never carries type_name.
    writer.put('/v1/variables/a/', json=variable_body('a', 2))
    variable = _variables(reader)['a']
    assert (variable['aliases'], variable['example'], variable['type_name']) == (None, None, 'Limit')
    writer.put('/v1/variables/a/', json={**variable_body('a', 2), 'type_name': None})
    assert _variables(reader)['a']['type_name'] is None
