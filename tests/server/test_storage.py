"""Storage: a restart (graceful or a crash) loses nothing; concurrent writers leave a consistent state."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from tests.serverutil import RunningServer, api_client, server_process, variable_body


def test_subprocess_restart_and_crash_keep_data(db_path: Path) -> None:
    with server_process(db_path, keepalive_interval=0.5) as server:
        with api_client(server.url, server.write_key) as client:
            assert client.post('/v1/variables/', json=variable_body('a', 'one')).status_code == 201
            assert client.post('/v1/variables/a/versions/', json={'serialized_value': '"two"'}).status_code == 201
            client.post('/v1/variable-types/', json={'name': 'T', 'json_schema': {'type': 'string'}})
            before = client.get('/v1/variables/')
        # A graceful stop (SIGTERM) with an SSE stream open still exits promptly and cleanly.
        with api_client(server.url, server.read_key) as reader, reader.stream('GET', '/v1/variable-updates/'):
            start = time.monotonic()
            # uvicorn re-raises the signal after its graceful shutdown, hence -SIGTERM rather than 0.
            assert server.stop() in (0, -signal.SIGTERM)
            assert time.monotonic() - start < 5.0
        assert 'Traceback' not in server.log_path.read_text()
        server.start()
        with api_client(server.url, server.write_key) as client:
            after = client.get('/v1/variables/')
            assert after.content == before.content
            assert after.headers['etag'] == before.headers['etag']
            assert client.get('/v1/variable-types/').json()[0]['name'] == 'T'
            assert client.post('/v1/variables/a/versions/', json={'serialized_value': '"three"'}).json()['version'] == 3
        server.restart(graceful=False)  # SIGKILL: a committed write survives a crash
        with api_client(server.url, server.read_key) as client:
            versions = client.get('/v1/variables/a/versions/').json()['versions']
        assert [v['serialized_value'] for v in versions] == ['"one"', '"two"', '"three"']


def test_serve_takes_keys_from_the_environment(db_path: Path) -> None:
    env = {'REMOTEVARS_SERVER_READ_KEYS': 'r1, r2', 'REMOTEVARS_SERVER_WRITE_KEYS': 'w1'}
    with server_process(db_path, read_keys=(), write_keys=(), env=env, read_key_for_checks='r2') as server:
        with api_client(server.url, 'r1') as client:
            assert client.get('/v1/variables/').status_code == 200
            assert client.post('/v1/variables/', json=variable_body('a', 1)).status_code == 403
        with api_client(server.url, 'w1') as client:
            assert client.post('/v1/variables/', json=variable_body('a', 1)).status_code == 201


def test_concurrent_writers_leave_a_consistent_state(server: RunningServer, reader: httpx.Client) -> None:
    with api_client(server.url, server.write_key) as client:
        client.post('/v1/variables/', json=variable_body('shared', 0))
    statuses: list[int] = []
    versions: list[int] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        with api_client(server.url, server.write_key) as client:
            for i in range(10):
                created = client.post(
                    '/v1/variables/shared/versions/', json={'serialized_value': f'{worker * 100 + i}'}
                )
                race = client.post('/v1/variables/', json=variable_body('contested', worker))
                bulk = client.post(
                    '/v1/variables/bulk/', json=[variable_body(f'w{worker}', i), variable_body('shared2', worker)]
                )
                with lock:
                    statuses.extend([created.status_code, race.status_code, bulk.status_code])
                    versions.append(created.json()['version'])

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert set(statuses) <= {200, 201, 409}
    assert statuses.count(409) == 59  # exactly one of the 60 racing creates won
    # Version numbers are unique and gap-free: no two writers got the same number.
    assert sorted(versions) == list(range(2, 62))
    history = reader.get('/v1/variables/shared/versions/').json()['versions']
    assert [v['version'] for v in history] == list(range(1, 62))
    variables = reader.get('/v1/variables/').json()['variables']
    assert sorted(variables) == ['contested', 'shared', 'shared2', *[f'w{w}' for w in range(6)]]
    assert variables['shared']['latest_version']['version'] == 61
