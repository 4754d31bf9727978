"""The control plane end to end on 127.0.0.1: atomic edits, If-Match, schema checks, named keys, history, rollback.

Real server, real HTTP, real SSE, the admin CLI as real subprocesses where concurrency is the point.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import remotevars
from remotevars import VariablesOptions
from remotevars.cli import main
from remotevars.server import ApiKey
from remotevars.server._auth import digest
from tests.serverutil import RunningServer, api_client, running_server, seed_variable, variable_body

ALICE, CI = 'alice-secret-0123456789', 'ci-secret-0123456789'


@pytest.fixture
def named(tmp_path: Path) -> Iterator[RunningServer]:
    """A server with two named write keys (alice, ci) and a named read key (dashboard); keepalives every 0.2 s."""
    keys = [
        ApiKey('alice', 'write', digest(ALICE)),
        ApiKey('ci', 'write', digest(CI)),
        ApiKey('dashboard', 'read', digest('dashboard-secret-0123')),
    ]
    with running_server(tmp_path / 'db.sqlite3', keys=keys, keepalive_interval=0.2) as server:
        yield server


def _variables(server: RunningServer) -> dict[str, Any]:
    with api_client(server.url, server.read_key) as client:
        response = client.get('/v1/variables/')
        result: dict[str, Any] = response.json()['variables']
        return result


def _state(server: RunningServer) -> tuple[str, bytes]:
    with api_client(server.url, server.read_key) as client:
        response = client.get('/v1/variables/')
        return response.headers['etag'], response.content


def _wait_for_subscribers(server: RunningServer, count: int) -> None:
    end = time.monotonic() + 5
    while server.subscriber_count < count:
        assert time.monotonic() < end, 'the stream did not subscribe'
        time.sleep(0.01)


def _events_until(lines: Iterator[str], name: str) -> list[dict[str, Any]]:
    """Return the stream's messages up to and including the first one about variable ``name``."""
    events = []
    for line in lines:
        if line.startswith('data:'):
            events.append(json.loads(line.removeprefix('data:')))
            if events[-1]['name'] == name:
                return events
    raise AssertionError('the stream ended')


def test_concurrent_set_label_commands_keep_every_label(server: RunningServer) -> None:
    # 20 commands at once, each in a thread of its own (as many processes would, minus 20 interpreter starts).
    seed_variable(server.url, server.write_key, variable_body('flag', 'on'))
    connection = ['--base-url', server.url, '--api-key', server.write_key]
    codes: list[object] = []

    def set_label(i: int) -> None:
        try:
            main.main(['set-label', 'flag', f'label{i}', '--version', '1', *connection], standalone_mode=False)
            codes.append(0)
        except SystemExit as exc:
            codes.append(exc.code)

    threads = [threading.Thread(target=set_label, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert codes == [0] * 20
    labels = _variables(server)['flag']['labels']
    assert sorted(labels) == sorted(['production', *(f'label{i}' for i in range(20))])
    with api_client(server.url, server.read_key) as client:
        history = client.get('/v1/variables/flag/history/').json()
    assert [e['action'] for e in history].count('set-label') == 20


def test_concurrent_puts_with_a_stale_precondition_get_412(server: RunningServer) -> None:
    seed_variable(server.url, server.write_key, variable_body('limit', 1))
    with api_client(server.url, server.read_key) as client:
        etag = client.get('/v1/variables/limit/').headers['etag']
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def put(i: int) -> None:
        with api_client(server.url, server.write_key) as client:
            barrier.wait()
            response = client.put(
                '/v1/variables/limit/', json=variable_body('limit', 100 + i), headers={'If-Match': etag}
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200] + [412] * 7  # exactly one writer held the current revision
    with api_client(server.url, server.write_key) as client:
        current = client.get('/v1/variables/limit/')
        refused = client.delete('/v1/variables/limit/', headers={'If-Match': etag})
        assert refused.status_code == 412
        assert f'its ETag is now {current.headers["etag"]}' in refused.json()['detail']
        assert client.delete('/v1/variables/limit/', headers={'If-Match': current.headers['etag']}).status_code == 204


def test_create_version_with_a_label_is_one_event(server: RunningServer) -> None:
    seed_variable(server.url, server.write_key, variable_body('greeting', 'hello'))
    env = {'REMOTEVARS_BASE_URL': server.url, 'REMOTEVARS_API_KEY': server.write_key}
    with (
        api_client(server.url, server.read_key, timeout=5.0) as client,
        client.stream('GET', '/v1/variable-updates/') as stream,
    ):
        _wait_for_subscribers(server, 1)
        result = CliRunner().invoke(main, ['create-version', 'greeting', '"salut"', '--label', 'production'], env=env)
        assert (result.exit_code, result.stderr) == (0, '')
        seed_variable(server.url, server.write_key, variable_body('marker', 1))
        events = _events_until(stream.iter_lines(), 'marker')
    assert [(e['event'], e['name']) for e in events] == [('updated', 'greeting'), ('created', 'marker')]
    changed = events[0]['changes'][0]['variable']
    assert changed['labels']['production'] == {'version': 2, 'serialized_value': '"salut"'}
    assert changed['latest_version'] == {'version': 2, 'serialized_value': '"salut"'}


def test_a_value_breaking_the_schema_is_refused_everywhere(server: RunningServer) -> None:
    schema = {'type': 'object', 'properties': {'max_items': {'type': 'integer'}}}
    body = variable_body('limits', {'max_items': 5}, json_schema=schema)
    seed_variable(server.url, server.write_key, body)
    bad = json.dumps({'max_items': 'lots'})
    before = _state(server)
    with api_client(server.url, server.write_key) as client:
        by_version = client.post('/v1/variables/limits/versions/', json={'serialized_value': bad, 'labels': ['broken']})
        assert by_version.status_code == 422
        assert by_version.json()['detail'] == (
            "Variable 'limits', label 'broken': value does not match the json_schema at $.max_items: "
            '"lots" is not of type "integer"'
        )
        assert by_version.json()['errors'] == [
            {
                'variable': 'limits',
                'label': 'broken',
                'version': 2,
                'path': '$.max_items',
                'message': '"lots" is not of type "integer"',
            }
        ]
        put_body = variable_body('limits', {'max_items': 'lots'}, json_schema=schema)
        by_put = client.put('/v1/variables/limits/', json=put_body)
        assert by_put.status_code == 422
        assert "label 'production'" in by_put.json()['detail'] and '$.max_items' in by_put.json()['detail']
        by_bulk = client.post('/v1/variables/bulk/', json={'upsert': [variable_body('ok', 1), put_body]})
        assert by_bulk.status_code == 422
        assert by_bulk.json()['detail'].startswith(
            "upsert[1] (variable 'limits'): Variable 'limits', label 'production': value does not match"
        )
        created = client.post('/v1/variables/', json=variable_body('fresh', 'x', json_schema={'type': 'integer'}))
        assert created.status_code == 422 and "Variable 'fresh', label 'production'" in created.json()['detail']
    env = {'REMOTEVARS_BASE_URL': server.url, 'REMOTEVARS_API_KEY': server.write_key}
    result = CliRunner().invoke(main, ['create-version', 'limits', bad, '--label', 'broken'], env=env)
    assert (result.exit_code, result.stdout) == (1, '')
    assert result.stderr.startswith('Error: POST /v1/variables/limits/versions/ returned HTTP 422: ')
    assert "label 'broken'" in result.stderr and 'at $.max_items' in result.stderr
    assert result.stderr.count('\n') == 1
    assert _state(server) == before  # nothing changed: same ETag, same body
    with api_client(server.url, server.read_key) as client:
        assert len(client.get('/v1/variables/limits/history/').json()) == 1
        assert len(client.get('/v1/variables/limits/versions/').json()['versions']) == 1


def test_a_schema_change_breaking_labels_is_accepted_with_warnings(server: RunningServer) -> None:
    seed_variable(server.url, server.write_key, variable_body('limit', 'lots'))
    with api_client(server.url, server.write_key) as client:
        current = client.get('/v1/variables/limit/').json()
        # What the SDK's push sends for a new schema: the labels as they are, the new schema.
        body = variable_body(
            'limit',
            labels={'production': {'target_type': 'version', **current['labels']['production']}},
            rollout={'production': 1.0},
            json_schema={'type': 'integer'},
        )
        response = client.put('/v1/variables/limit/', json=body)
        assert response.status_code == 200
        assert response.json()['warnings'] == [
            {
                'variable': 'limit',
                'label': 'production',
                'version': 1,
                'path': '$',
                'message': '"lots" is not of type "integer"',
            }
        ]
        assert 'warnings' not in client.get('/v1/variables/limit/').json()  # a response field, not a stored one
        entry = client.get('/v1/variables/limit/history/').json()[0]
        assert (entry['action'], entry['warnings']) == ('replace', response.json()['warnings'])


def test_history_names_the_key_of_each_write(named: RunningServer) -> None:
    with api_client(named.url, ALICE) as alice, api_client(named.url, CI) as ci:
        assert alice.post('/v1/variables/', json=variable_body('flag', 'on')).status_code == 201
        assert ci.put('/v1/variables/flag/labels/beta/', json={'ref': 'production'}).status_code == 200
        assert alice.put('/v1/variables/flag/rollout/', json={'labels': {'beta': 1.0}}).status_code == 200
        assert ci.delete('/v1/variables/flag/').status_code == 204
    with api_client(named.url, 'dashboard-secret-0123') as reader:
        history = reader.get('/v1/variables/flag/history/').json()
        assert reader.post('/v1/variables/', json=variable_body('x', 1)).status_code == 403
    assert [(e['actor'], e['action']) for e in history] == [
        ('ci', 'delete'),
        ('alice', 'set-rollout'),
        ('ci', 'set-label'),
        ('alice', 'create'),
    ]
    assert set(history[0]) == {'id', 'at', 'actor', 'action', 'revision', 'before', 'after', 'warnings'}
    assert history[0]['after'] is None and history[-1]['before'] is None
    assert history[1]['before']['rollout'] == {'labels': {'production': 1.0}}
    assert history[1]['after']['rollout'] == {'labels': {'beta': 1.0}}
    assert ALICE not in json.dumps(history) and CI not in json.dumps(history)
    env = {'REMOTEVARS_BASE_URL': named.url, 'REMOTEVARS_API_KEY': ALICE}
    shown = CliRunner().invoke(main, ['history', 'flag'], env=env)
    assert shown.exit_code == 0
    lines = shown.stdout.splitlines()
    assert [line.split()[2:4] for line in lines] == [
        ['ci', 'delete'],
        ['alice', 'set-rollout'],
        ['ci', 'set-label'],
        ['alice', 'create'],
    ]
    assert lines[1].endswith('set-rollout  rollout production=1 -> beta=1')
    assert lines[2].endswith('set-label  +beta ->production')


def test_rollback_restores_the_state_and_reaches_running_clients(
    server: RunningServer, client: remotevars.Client
) -> None:
    seed_variable(server.url, server.write_key, variable_body('model', 'small'))
    env = {'REMOTEVARS_BASE_URL': server.url, 'REMOTEVARS_API_KEY': server.write_key}

    def cli(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), env=env)
        assert (result.exit_code, result.stderr) == (0, ''), result.output
        return result.stdout

    cli('create-version', 'model', '"large"', '--label', 'canary')
    cli('set-rollout', 'model', 'production=0.5', 'canary=0.5')
    cli('add-override', 'model', '--when', 'plan=pro', '--rollout', 'canary=1')
    with api_client(server.url, server.read_key) as reader:
        good = reader.get('/v1/variables/model/history/').json()[0]
    kept = _variables(server)['model']
    cli('create-version', 'model', '"broken"', '--label', 'production', '--label', 'canary')
    cli('clear-overrides', 'model')
    cli('set-rollout', 'model', 'canary=1')

    model = client.var('model', default='default')
    client.configure(VariablesOptions(api_key=server.read_key, base_url=server.url, polling_interval=3600))
    assert model.get(targeting_key='k').value == 'broken'
    deadline = time.monotonic() + 5
    while client.status().stream_connected is not True:
        assert time.monotonic() < deadline, 'the client did not connect its stream'
        time.sleep(0.01)
    fetched = server.app.state.counts.config_full
    out = cli('rollback', 'model', '--to', str(good['id']))
    assert out == f'model: labels, rollout and overrides as after entry {good["id"]} (restored)\n'
    deadline = time.monotonic() + 5
    while model.get(targeting_key='k', attributes={'plan': 'pro'}).value != 'large':
        assert time.monotonic() < deadline, 'the rollback did not reach the client'
        time.sleep(0.01)
    assert model.get(targeting_key='k').value in ('small', 'large')
    assert server.app.state.counts.config_full == fetched  # applied from the stream, no re-fetch
    restored = _variables(server)['model']
    for field in ('labels', 'rollout', 'overrides'):
        assert restored[field] == kept[field] == good['after'][field]
    assert restored['latest_version']['version'] == 3  # versions are immutable and stay
    again = CliRunner().invoke(main, ['rollback', 'model', '--to', str(good['id'])], env=env)
    assert again.exit_code == 0 and again.stdout.endswith('(unchanged: nothing to do)\n')


def test_edit_endpoints_answer_with_the_variable_and_its_etag(server: RunningServer) -> None:
    seed_variable(server.url, server.write_key, variable_body('flag', 'on'))
    with api_client(server.url, server.write_key) as client:
        etag = client.get('/v1/variables/flag/').headers['etag']
        moved = client.put('/v1/variables/flag/labels/beta/', json={'version': 1}, headers={'If-Match': etag})
        assert moved.status_code == 200
        assert moved.json()['changed'] is True and moved.json()['warnings'] == []
        assert moved.json()['variable']['labels']['beta'] == {'version': 1, 'serialized_value': '"on"'}
        assert moved.headers['etag'] != etag
        stale = client.put('/v1/variables/flag/labels/gamma/', json={'version': 1}, headers={'If-Match': etag})
        assert stale.status_code == 412
        same = client.put('/v1/variables/flag/labels/beta/', json={'version': 1})
        assert (same.json()['changed'], same.headers['etag']) == (False, moved.headers['etag'])
        added = client.post(
            '/v1/variables/flag/overrides/',
            json={'conditions': [{'kind': 'key-is-present', 'attribute': 'vip'}], 'rollout': {'labels': {'beta': 1}}},
        )
        assert added.status_code == 201
        assert client.delete('/v1/variables/flag/overrides/3/').status_code == 404
        assert client.delete('/v1/variables/flag/overrides/0/').json()['variable']['overrides'] == []
        assert client.delete('/v1/variables/flag/labels/beta/').json()['variable']['labels'].keys() == {'production'}
        for path, body, message in [
            ('/v1/variables/flag/labels/latest/', {'version': 1}, "'latest' is reserved"),
            ('/v1/variables/flag/labels/x/', {'version': 1, 'ref': 'latest'}, 'exactly one of "version" and "ref"'),
            ('/v1/variables/flag/rollout/', {'labels': {'production': 2}}, 'must not sum to more than 1'),
            ('/v1/variables/flag/rollback/', {'to': 'x'}, 'to: expected the id of a history entry'),
        ]:
            method = 'POST' if path.endswith('rollback/') else 'PUT'
            response = client.request(method, path, json=body)
            assert (response.status_code, message in response.json()['detail']) == (422, True), response.text
        assert client.get('/v1/variables/ghost/history/').status_code == 404
        assert client.get('/v1/variables/flag/history/?limit=0').status_code == 422


def test_history_survives_a_delete_and_rollback_brings_the_variable_back(server: RunningServer) -> None:
    seed_variable(server.url, server.write_key, variable_body('gone', 'value', description='kept'))
    with api_client(server.url, server.write_key) as client:
        created = client.get('/v1/variables/gone/history/').json()[0]
        assert client.delete('/v1/variables/gone/').status_code == 204
        history = client.get('/v1/variables/gone/history/').json()
        assert [e['action'] for e in history] == ['delete', 'create']
        back = client.post('/v1/variables/gone/rollback/', json={'to': created['id']})
        assert back.status_code == 200
        assert back.json()['variable']['labels'] == created['after']['labels']
        assert back.json()['variable']['description'] == 'kept'


def test_an_unreachable_or_refusing_server_is_exit_2(named: RunningServer) -> None:
    env = {'REMOTEVARS_BASE_URL': named.url, 'REMOTEVARS_API_KEY': 'wrong-key'}
    result = CliRunner().invoke(main, ['history', 'flag'], env=env)
    assert (result.exit_code, result.stdout) == (2, '')
    assert result.stderr == 'Error: GET /v1/variables/flag/history/?limit=50 returned HTTP 401: Invalid API key\n'


def test_storage_errors_are_503(server: RunningServer) -> None:
    seed_variable(server.url, server.write_key, variable_body('flag', 'on'))
    # Another connection holds the write lock past the busy timeout: the write answers 503, retryable.
    store = server.app.state.store
    store._conn.execute('PRAGMA busy_timeout=50')  # test only: fail fast instead of waiting 30 s
    blocker = sqlite3.connect(server.db_path, isolation_level=None)
    blocker.execute('BEGIN IMMEDIATE')
    try:
        with api_client(server.url, server.write_key) as client:
            response = client.put('/v1/variables/flag/labels/x/', json={'version': 1})
        assert response.status_code == 503
        assert response.headers['retry-after'] == '1'
        assert response.json()['detail'].startswith('Storage unavailable: database is locked')
    finally:
        blocker.execute('ROLLBACK')
        blocker.close()
    with api_client(server.url, server.write_key) as client:
        assert client.put('/v1/variables/flag/labels/x/', json={'version': 1}).status_code == 200
