"""Several server instances on one database: every instance's clients get every write, with one ETag chain.

Instances run on SQLite (threads of this process, or ``remotevars serve`` processes on one file) and on a
throwaway PostgreSQL (tests/pgcluster.py). The benchmark with hundreds of clients is
benchmarks/bench_scaleout.py; these tests stay small.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.scaleutil import assert_chained, recording, wait_for
from tests.serverutil import READ_KEY, RunningServer, api_client, running_server, variable_body


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
