"""Several server instances on one database: every instance's clients get every write, with one ETag chain.

Instances run on SQLite (threads of this process, or ``remotevars serve`` processes on one file) and on a
throwaway PostgreSQL (tests/pgcluster.py). The benchmark with hundreds of clients is
benchmarks/bench_scaleout.py; these tests stay small.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import remotevars
from remotevars.cli import main
from remotevars.server._migrations import SchemaTooNew
from tests.pgcluster import PostgresCluster
from tests.scaleutil import TcpBalancer, assert_chained, recording, wait_for
from tests.serverutil import (
    READ_KEY,
    WRITE_KEY,
    RunningServer,
    ServerProcess,
    api_client,
    free_port,
    running_server,
    seed_variable,
    server_process,
    variable_body,
)


@pytest.fixture(params=['sqlite', 'postgresql'])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """A fresh database of each backend."""
    if request.param == 'sqlite':
        return tmp_path / 'shared.sqlite3'
    return str(request.getfixturevalue('postgres_url'))


@pytest.fixture
def two_instances(database: str | Path) -> Iterator[list[RunningServer]]:
    """Two servers (threads of this process, each with its own store) on one database."""
    with ExitStack() as stack:
        yield [stack.enter_context(running_server(database, keepalive_interval=0.5)) for _ in range(2)]


def _get(server: RunningServer, path: str) -> httpx.Response:
    with api_client(server.url, READ_KEY) as client:
        return client.get(path)


def _last_etag(events: list[dict[str, Any]]) -> str | None:
    return events[-1]['etag'] if events else None


def test_each_write_reaches_every_instance_in_one_etag_chain(two_instances: list[RunningServer]) -> None:
    first, second = two_instances
    start = _get(first, '/v1/variables/').headers['etag']
    big = 'x' * 20_000  # above PostgreSQL's 8,000-byte notification: read back from the database
    with recording([first.url, second.url], READ_KEY) as recorders:
        with api_client(first.url, first.write_key) as a, api_client(second.url, second.write_key) as b:
            assert a.post('/v1/variables/', json=variable_body('color', 'red')).status_code == 201
            assert (
                b.post(
                    '/v1/variables/color/versions/', json={'serialized_value': '"blue"', 'labels': ['production']}
                ).status_code
                == 201
            )
            assert (
                a.post('/v1/variables/bulk/', json=[variable_body('size', 1), variable_body('big', big)]).status_code
                == 200
            )
            assert b.delete('/v1/variables/size/').status_code == 204
            final = b.get('/v1/variables/').headers['etag']
        for recorder in recorders:
            wait_for(lambda r=recorder: _last_etag(r.events) == final, 5, f'{recorder.url} did not reach {final}')
    for recorder in recorders:
        # One message per write, or fewer when a follower found several commits at once (they chain all the same).
        assert 2 <= len(recorder.events) <= 4
        assert_chained(recorder.events, start)
    bodies = [_get(s, '/v1/variables/') for s in two_instances]
    assert bodies[0].content == bodies[1].content
    assert bodies[0].headers['etag'] == bodies[1].headers['etag'] == final
    variables = json.loads(bodies[0].content)['variables']
    assert sorted(variables) == ['big', 'color']
    assert variables['color']['labels']['production']['serialized_value'] == '"blue"'


@pytest.fixture
def three_instances(postgres_url: str, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Three ``remotevars serve`` processes on one PostgreSQL database, started side by side."""
    servers = [
        ServerProcess(
            postgres_url,
            port=free_port(),
            read_keys=(READ_KEY,),
            write_keys=(WRITE_KEY,),
            keepalive_interval=1.0,
            log_dir=tmp_path,
        )
        for _ in range(3)
    ]
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


def _settled_etag(urls: list[str]) -> str:
    """Return the ETag every instance serves, once they all serve the same (each follows the others' commits)."""
    etags: set[str] = set()

    def same() -> bool:
        etags.clear()
        for url in urls:
            with api_client(url, READ_KEY) as client:
                etags.add(client.get('/v1/variables/').headers['etag'])
        return len(etags) == 1

    wait_for(same, 5, 'the instances serve different states')
    return etags.pop()


def _revision(etag: str) -> int:
    return int(etag.strip('"').rsplit('-', 1)[1])


def test_concurrent_writers_on_three_instances_keep_one_history(three_instances: list[ServerProcess]) -> None:
    urls = [s.url for s in three_instances]
    with api_client(urls[0], WRITE_KEY) as client:
        for name in ('shared', 'counter'):
            assert client.post('/v1/variables/', json=variable_body(name, 0)).status_code == 201
        start = client.get('/v1/variables/').headers['etag']
    writers, versions_each, increments_each = 20, 3, 2
    versions: list[int] = []
    conflicts: list[int] = []
    barrier = threading.Barrier(writers)

    def write(worker: int) -> None:
        with api_client(urls[worker % 3], WRITE_KEY) as client:
            barrier.wait(10)
            for k in range(versions_each):
                created = client.post('/v1/variables/shared/versions/', json={'serialized_value': str(worker * 10 + k)})
                assert created.status_code == 201, created.text
                versions.append(created.json()['version'])
            for _ in range(increments_each):
                for _attempt in range(500):  # read, then write only if nobody wrote in between
                    current = client.get('/v1/variables/counter/')
                    value = int(current.json()['labels']['production']['serialized_value'])
                    done = client.post(
                        '/v1/variables/counter/versions/',
                        json={'serialized_value': str(value + 1), 'labels': ['production']},
                        headers={'If-Match': current.headers['etag']},
                    )
                    if done.status_code == 201:
                        break
                    assert done.status_code == 412, done.text
                    conflicts.append(worker)
                else:
                    raise AssertionError(f'writer {worker} never got its increment in')

    with recording(urls, READ_KEY) as recorders:
        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads)
        final_etag = _settled_etag(urls)
        with api_client(urls[1], READ_KEY) as client:
            final = client.get('/v1/variables/')
        assert final.headers['etag'] == final_etag
        for recorder in recorders:
            wait_for(lambda r=recorder: _last_etag(r.events) == final_etag, 5, f'{recorder.url} lags')
    # Every write is one revision; version numbers are unique and contiguous.
    total = writers * (versions_each + increments_each)
    assert _revision(final_etag) == _revision(start) + total
    assert sorted(versions) == list(range(2, 2 + writers * versions_each))
    # No lost update: every increment counted once (a refused write created no version).
    counter = final.json()['variables']['counter']
    assert counter['labels']['production']['serialized_value'] == str(writers * increments_each)
    assert counter['latest_version']['version'] == 1 + writers * increments_each
    assert conflicts, 'the writers never raced (the precondition was not exercised)'
    # Each instance's stream is one unbroken chain from the start to the final state.
    for recorder in recorders:
        assert_chained(recorder.events, start)


def test_killing_an_instance_during_a_burst_loses_no_acknowledged_write(three_instances: list[ServerProcess]) -> None:
    balancer = TcpBalancer([s.port for s in three_instances])
    balancer.start()
    names = [f'v{i}' for i in range(4)]
    clients: list[remotevars.Client] = []
    variables: list[dict[str, remotevars.Variable[int]]] = []
    try:
        for name in names:
            seed_variable(balancer.url, WRITE_KEY, variable_body(name, -1))
        for _ in range(6):
            client = remotevars.Client()
            variables.append({name: client.var(name, default=-2) for name in names})
            client.configure(
                remotevars.VariablesOptions(api_key=READ_KEY, base_url=balancer.url, polling_interval=3600)
            )
            clients.append(client)
        wait_for(lambda: all(c.status().stream_connected for c in clients), 10, 'clients did not connect')
        # The victim holds some of the clients' streams.
        connections = balancer.connections()
        victim = next(s for s in three_instances if s.port == max(connections, key=lambda p: connections[p]))
        assert connections[victim.port] >= 1
        acknowledged: dict[str, int] = {}
        killed_at = 0.0

        def burst() -> None:
            with api_client(balancer.url, WRITE_KEY, timeout=3.0) as writer:
                end = time.monotonic() + 2.5
                k = 0
                while time.monotonic() < end:
                    name, k = names[k % len(names)], k + 1
                    for _attempt in range(100):  # until acknowledged: the last write of each variable always is
                        try:
                            response = writer.post(
                                f'/v1/variables/{name}/versions/',
                                json={'serialized_value': str(k), 'labels': ['production']},
                            )
                            if response.status_code == 201:
                                acknowledged[name] = k
                                break
                        except httpx.HTTPError:
                            pass
                        time.sleep(0.05)
                    time.sleep(0.01)

        writer = threading.Thread(target=burst)
        writer.start()
        time.sleep(0.8)
        victim.kill()
        killed_at = time.monotonic()
        writer.join(30)
        assert not writer.is_alive()
        assert len(acknowledged) == len(names)

        def converged() -> bool:
            return all(held[n].get().value == v for held in variables for n, v in acknowledged.items())

        wait_for(converged, killed_at + 5 - time.monotonic(), 'clients did not get every acknowledged write')
        # Updates flow again to every client, through the stream (polling is hourly).
        with api_client(balancer.url, WRITE_KEY) as writer_client:
            response = writer_client.post(
                '/v1/variables/v0/versions/', json={'serialized_value': '1000', 'labels': ['production']}
            )
            assert response.status_code == 201
        wait_for(lambda: all(held['v0'].get().value == 1000 for held in variables), 5, 'no update after the kill')
        for server in three_instances:
            if server is not victim:
                with api_client(server.url, READ_KEY) as reader:
                    variables = reader.get('/v1/variables/').json()['variables']
                values = {n: json.loads(variables[n]['labels']['production']['serialized_value']) for n in names}
                assert values == {**acknowledged, 'v0': 1000}
    finally:
        for client in clients:
            client.shutdown()
        balancer.stop()


def test_workers_on_one_sqlite_file_share_every_write(tmp_path: Path) -> None:
    # --log-level info: the log says when each worker has started.
    args = ['--workers', '3', '--log-level', 'info']
    with server_process(tmp_path / 'workers.sqlite3', extra_args=args, keepalive_interval=1.0) as server:
        wait_for(lambda: server.log_path.read_text().count('Application startup complete') >= 3, 20, 'workers')
        with api_client(server.url, READ_KEY) as reader:
            assert reader.get('/healthz').json() == {'status': 'ok'}
            assert reader.get('/readyz').json() == {'status': 'ready'}
            start = reader.get('/v1/variables/').headers['etag']
        # Several streams and several connections for the writes: the kernel spreads them over the workers.
        with recording([server.url] * 6, READ_KEY) as recorders:
            for i in range(6):
                with api_client(server.url, WRITE_KEY) as writer:
                    created = writer.post('/v1/variables/', json=variable_body(f'w{i}', i))
                    assert created.status_code == 201
            # The variable's ETag names the revision its write committed: the last write's is the final state.
            final = created.headers['etag']
            for recorder in recorders:
                wait_for(lambda r=recorder: _last_etag(r.events) == final, 5, 'a worker missed writes')
        assert _revision(final) == _revision(start) + 6
        for recorder in recorders:
            assert_chained(recorder.events, start)
        with api_client(server.url, READ_KEY) as reader:
            assert sorted(reader.get('/v1/variables/').json()['variables']) == [f'w{i}' for i in range(6)]
    assert 'Traceback' not in server.log_path.read_text()


def test_readiness_follows_the_database_and_a_reconnected_instance_catches_up(
    postgres: PostgresCluster, postgres_url: str
) -> None:
    # This instance reaches PostgreSQL through a cuttable link; the other one directly.
    link = TcpBalancer([postgres.port])
    link.start()
    through_link = postgres_url.replace(f':{postgres.port}/', f':{link.port}/')
    try:
        with (
            running_server(through_link) as cut,
            running_server(postgres_url) as other,
            api_client(cut.url, None) as probe,
        ):
            assert probe.get('/readyz').status_code == 200
            start = probe.get('/v1/variables/', headers={'Authorization': f'bearer {READ_KEY}'}).headers['etag']
            with recording([cut.url], READ_KEY) as (recorder,):
                link.stop()
                wait_for(lambda: probe.get('/readyz').status_code == 503, 10, 'still ready without its database')
                unready = probe.get('/readyz')
                assert unready.json()['status'] == 'unavailable' and unready.json()['detail']
                assert probe.get('/healthz').status_code == 200  # alive all the same
                # Written while the instance cannot hear about it.
                seed_variable(other.url, WRITE_KEY, variable_body('missed', 'while cut off'))
                link.start()
                wait_for(lambda: probe.get('/readyz').status_code == 200, 15, 'not ready again')
                wait_for(lambda: len(recorder.events) == 1, 5, 'the missed write never reached the stream')
            assert_chained(recorder.events, start)
            assert recorder.events[0]['changes'][0]['name'] == 'missed'
    finally:
        link.stop()


def test_postgres_migrations_run_once_and_a_newer_schema_is_refused(postgres_url: str) -> None:
    import psycopg

    from remotevars.server._postgres import MIGRATIONS, PostgresStore

    stores: list[PostgresStore] = []
    barrier = threading.Barrier(4)

    def open_store() -> None:
        barrier.wait(10)
        stores.append(PostgresStore(postgres_url))

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert len(stores) == 4
        assert sorted(m.version for s in stores for m in s.migrated) == [m.version for m in MIGRATIONS]
        assert len({s.snapshot.etag for s in stores}) == 1
    finally:
        for store in stores:
            store.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE remotevars.meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaTooNew, match='schema version 99'):
        PostgresStore(postgres_url)


def test_migrate_command_and_serve_without_migrating(postgres_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    checked = runner.invoke(main, ['migrate', '--check', '--db', postgres_url])
    assert checked.exit_code == 1
    assert '1: variables, versions' in checked.stdout
    assert 'run `remotevars migrate`' in checked.stderr
    refused = runner.invoke(main, ['serve', '--no-migrate', '--db', postgres_url, '--write-key', 'w'])
    assert refused.exit_code == 2
    assert 'schema version 0' in refused.stderr and 'remotevars migrate' in refused.stderr
    migrated = runner.invoke(main, ['migrate', '--db', postgres_url])
    assert migrated.exit_code == 0, migrated.stderr
    assert 'migrated from schema version 0 to 1' in migrated.stdout
    again = runner.invoke(main, ['migrate', '--check'], env={'REMOTEVARS_SERVER_DB': postgres_url})
    assert again.exit_code == 0
    assert again.stdout.endswith('schema is current (version 1)\n')
    unreachable = runner.invoke(main, ['migrate', '--db', 'postgresql://nobody:secret@127.0.0.1:1/none'])
    assert unreachable.exit_code == 2
    assert 'secret' not in unreachable.stderr and 'nobody:***@' in unreachable.stderr
    # SQLite: the first release's file needs the later steps.
    old = tmp_path / 'v1.sqlite3'
    shutil.copyfile(Path(__file__).parent.parent / 'fixtures' / 'store_v1.sqlite3', old)
    pending = runner.invoke(main, ['migrate', '--check', '--db', str(old)])
    assert pending.exit_code == 1
    assert [line.split(':')[0].strip() for line in pending.stdout.splitlines()] == ['2', '3']
    assert runner.invoke(main, ['migrate', '--db', str(old)]).exit_code == 0
    assert runner.invoke(main, ['migrate', '--check', '--db', str(old)]).exit_code == 0


def test_a_big_change_set_leaves_the_notification_without_variables() -> None:
    from remotevars.server._postgres import MAX_NOTIFICATION_BYTES, encode_notice

    small = encode_notice('db1', 7, {'a': b'{"name":"a"}', 'gone': None})
    assert json.loads(small) == {'db': 'db1', 'revision': 7, 'variables': {'a': {'name': 'a'}, 'gone': None}}
    big = encode_notice('db1', 8, {'a': b'"' + b'x' * MAX_NOTIFICATION_BYTES + b'"'})
    assert json.loads(big) == {'db': 'db1', 'revision': 8}
