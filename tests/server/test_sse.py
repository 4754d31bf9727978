"""The updates stream: one message per commit (event, ETags, changed variables), keepalives, prompt shutdown."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from remotevars.server import Operations, SQLiteStore
from remotevars.server._broadcast import Broadcaster
from remotevars.server._storage import Change, Commit
from remotevars.server._updates import encode_update
from remotevars.server._wire import parse_write
from tests.serverutil import RunningServer, api_client, variable_body


def _wait_for_subscribers(server: RunningServer, count: int, deadline: float = 5.0) -> None:
    end = time.monotonic() + deadline
    while server.subscriber_count < count:
        assert time.monotonic() < end, f'only {server.subscriber_count} of {count} subscribers after {deadline}s'
        time.sleep(0.01)


def _events(lines: Iterator[str], count: int) -> list[dict[str, Any]]:
    events = []
    for line in lines:
        if line.startswith('data:'):
            events.append(json.loads(line.removeprefix('data:')))
            if len(events) == count:
                break
    return events


def test_stream_sends_created_updated_deleted(server: RunningServer, writer: httpx.Client) -> None:
    with (
        api_client(server.url, server.read_key, timeout=5.0) as client,
        client.stream('GET', '/v1/variable-updates/', headers={'Accept': 'text/event-stream'}) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers['content-type'].startswith('text/event-stream')
        _wait_for_subscribers(server, 1)
        writer.post('/v1/variables/', json=variable_body('a', 1))
        writer.put('/v1/variables/a/', json=variable_body('a', 2))
        writer.post('/v1/variables/a/versions/', json={'serialized_value': '3'})
        writer.post('/v1/variables/bulk/', json={'upsert': [variable_body('b', 1)], 'delete': ['a']})
        writer.post('/v1/variables/', json=variable_body('c', rollout={'x': 0.5}))  # refused: no event
        writer.delete('/v1/variables/b/')
        events = _events(stream.iter_lines(), 5)
    # The keys the Logfire SDK reads; a bulk write is one message named after its first change.
    assert [(e['event'], e['name']) for e in events] == [
        ('created', 'a'),
        ('updated', 'a'),
        ('updated', 'a'),
        ('created', 'b'),
        ('deleted', 'b'),
    ]
    assert [(c['event'], c['name']) for c in events[3]['changes']] == [('created', 'b'), ('deleted', 'a')]


def test_each_message_carries_the_changed_variables_and_chains_etags(
    server: RunningServer, writer: httpx.Client, reader: httpx.Client
) -> None:
    etags = [reader.get('/v1/variables/').headers['etag']]
    shapes: list[dict[str, Any]] = []
    with (
        api_client(server.url, server.read_key, timeout=5.0) as client,
        client.stream('GET', '/v1/variable-updates/') as stream,
    ):
        _wait_for_subscribers(server, 1)
        writes: list[tuple[str, dict[str, Any]]] = [
            ('/v1/variables/', variable_body('a', 1)),
            ('/v1/variables/a/versions/', {'serialized_value': '7'}),
            ('/v1/variables/bulk/', {'upsert': [variable_body('b', 'x')], 'delete': ['a']}),
        ]
        for path, body in writes:
            assert writer.post(path, json=body).status_code in (200, 201)
            response = reader.get('/v1/variables/')
            etags.append(response.headers['etag'])
            shapes.append(response.json()['variables'])
        events = _events(stream.iter_lines(), 3)
    # Each message goes from the ETag before its write to the ETag GET returns after it.
    assert [(e['previous_etag'], e['etag']) for e in events] == list(itertools.pairwise(etags))
    assert len(set(etags)) == 4
    assert events[0]['changes'] == [{'event': 'created', 'name': 'a', 'variable': shapes[0]['a']}]
    assert events[1]['changes'] == [{'event': 'updated', 'name': 'a', 'variable': shapes[1]['a']}]
    assert events[1]['changes'][0]['variable']['latest_version'] == {'version': 2, 'serialized_value': '7'}
    # The bulk write: one message, its changes in order, no variable for the deleted one.
    assert (events[2]['event'], events[2]['name']) == ('created', 'b')
    assert events[2]['changes'] == [
        {'event': 'created', 'name': 'b', 'variable': shapes[2]['b']},
        {'event': 'deleted', 'name': 'a'},
    ]


def test_a_message_too_large_carries_no_changes(
    server: RunningServer, writer: httpx.Client, reader: httpx.Client
) -> None:
    from remotevars.server._updates import MAX_CHANGES_BYTES

    big = 'x' * (MAX_CHANGES_BYTES + 1000)
    before = reader.get('/v1/variables/').headers['etag']
    with (
        api_client(server.url, server.read_key, timeout=5.0) as client,
        client.stream('GET', '/v1/variable-updates/') as stream,
    ):
        _wait_for_subscribers(server, 1)
        assert writer.post('/v1/variables/', json=variable_body('big', big)).status_code == 201
        assert writer.post('/v1/variables/', json=variable_body('small', 1)).status_code == 201
        capped, small = _events(stream.iter_lines(), 2)
    # Clients fetch the whole configuration instead; the ETags still chain.
    assert 'changes' not in capped
    assert (capped['event'], capped['name'], capped['previous_etag']) == ('created', 'big', before)
    assert small['previous_etag'] == capped['etag'] != before
    assert [c['name'] for c in small['changes']] == ['small']


def test_a_type_upsert_keeps_the_etag_and_sends_nothing(
    server: RunningServer, writer: httpx.Client, reader: httpx.Client
) -> None:
    before = reader.get('/v1/variables/').headers['etag']
    with (
        api_client(server.url, server.read_key, timeout=5.0) as client,
        client.stream('GET', '/v1/variable-updates/') as stream,
    ):
        _wait_for_subscribers(server, 1)
        assert writer.post('/v1/variable-types/', json={'name': 'T', 'json_schema': {}}).status_code == 200
        writer.post('/v1/variables/', json=variable_body('a', 1))
        (event,) = _events(stream.iter_lines(), 1)
    # The body of GET /v1/variables/ did not change, so neither did its ETag: clients stay in the chain.
    assert (event['name'], event['previous_etag']) == ('a', before)


def test_every_subscriber_gets_every_event(server: RunningServer, writer: httpx.Client) -> None:
    with api_client(server.url, server.read_key, timeout=5.0) as client:
        streams = [client.stream('GET', '/v1/variable-updates/') for _ in range(5)]
        responses = [s.__enter__() for s in streams]
        try:
            _wait_for_subscribers(server, 5)
            writer.post('/v1/variables/', json=variable_body('a', 1))
            received = [_events(r.iter_lines(), 1) for r in responses]
        finally:
            for s in streams:
                s.__exit__(None, None, None)
    assert [[(e['event'], e['name']) for e in events] for events in received] == [[('created', 'a')]] * 5
    assert all(events == received[0] for events in received)
    _wait_for_subscribers_gone(server)


def _wait_for_subscribers_gone(server: RunningServer, deadline: float = 5.0) -> None:
    end = time.monotonic() + deadline
    while server.subscriber_count:
        assert time.monotonic() < end, 'closed streams were not unsubscribed'
        time.sleep(0.02)


def test_keepalive_comments_arrive_at_the_interval(server: RunningServer) -> None:
    # The fixture's server sends keepalives every 0.2 s.
    comments = []
    start = time.monotonic()
    with (
        api_client(server.url, server.read_key, timeout=5.0) as client,
        client.stream('GET', '/v1/variable-updates/') as stream,
    ):
        for line in stream.iter_lines():
            if line.startswith(':'):
                comments.append(line)
            if len(comments) == 3:
                break
    elapsed = time.monotonic() - start
    assert comments == [': keepalive'] * 3
    assert 0.4 <= elapsed < 3.0


def test_stop_ends_open_streams_promptly(server: RunningServer) -> None:
    with (
        api_client(server.url, server.read_key, timeout=5.0) as client,
        client.stream('GET', '/v1/variable-updates/') as stream,
    ):
        _wait_for_subscribers(server, 1)
        start = time.monotonic()
        server.stop()
        stopped_after = time.monotonic() - start
        # The stream ends (cleanly) instead of hanging until the read timeout.
        lines = list(stream.iter_lines())
    assert stopped_after < 1.5
    assert all(line == '' or line.startswith(':') for line in lines)


def test_stream_requires_a_key(server: RunningServer) -> None:
    with api_client(server.url, None) as client:
        response = client.get('/v1/variable-updates/')
    assert response.status_code == 401


def test_a_subscriber_that_falls_behind_gets_one_resync_message() -> None:
    # Dropping messages breaks the ETag chain, so the pending ones are replaced by one without changes
    # (which makes a client fetch); the subscriber is never left without news of the last write.
    def commit(i: int) -> Commit:
        return Commit((Change('updated', 'a'),), f'"db-{i}"', f'"db-{i + 1}"', {'a': b'{"name":"a"}'})

    async def scenario() -> list[dict[str, Any]]:
        broadcaster = Broadcaster(queue_size=4)
        stream = broadcaster.subscribe()
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)  # the subscriber registers its queue, then reads nothing while 10 arrive
        for i in range(10):
            broadcaster.publish(encode_update(commit(i)))
        frames = [await asyncio.wait_for(first, 5.0), await asyncio.wait_for(anext(stream), 5.0)]
        broadcaster.close()
        assert [frame async for frame in stream] == []
        return [json.loads(f.removeprefix(b'data: ')) for f in frames]

    received = asyncio.run(scenario())
    # Messages 0-3 filled the queue; 4 and 8 overflowed it, each replacing what was pending by a resync.
    assert received == [
        {'event': 'updated', 'name': 'a', 'etag': '"db-9"'},
        {
            'event': 'updated',
            'name': 'a',
            'etag': '"db-10"',
            'previous_etag': '"db-9"',
            'changes': [{'event': 'updated', 'name': 'a', 'variable': {'name': 'a'}}],
        },
    ]


def test_the_console_stream_gets_each_writes_names_even_after_a_resync() -> None:
    # The console's stream sends only the changed names: carried by each message, never decoded from a frame.
    def commit(i: int, *names: str) -> Commit:
        changes = tuple(Change('updated', n) for n in names)
        return Commit(changes, f'"db-{i}"', f'"db-{i + 1}"', {n: b'{"name":"%s"}' % n.encode() for n in names})

    async def scenario() -> list[tuple[str, ...]]:
        broadcaster = Broadcaster(queue_size=1)
        names = broadcaster.subscribe_names()
        first = asyncio.ensure_future(anext(names))
        await asyncio.sleep(0)  # subscribed
        broadcaster.publish(encode_update(commit(0, 'a', 'b')))
        received = [await asyncio.wait_for(first, 5.0)]
        broadcaster.publish(encode_update(commit(1, 'c')))
        broadcaster.publish(encode_update(commit(2, 'd')))  # overflows: replaced by its resync, names kept
        received.append(await asyncio.wait_for(anext(names), 5.0))
        broadcaster.close()
        assert [n async for n in names] == []
        return received

    assert asyncio.run(scenario()) == [('a', 'b'), ('d',)]


def test_encoded_message_shape_and_cap() -> None:
    commit = Commit((Change('deleted', 'old'), Change('created', 'new')), '"d-1"', '"d-2"', {'new': b'{"name":"new"}'})
    update = encode_update(commit)
    assert update is not None
    assert update.frame.startswith(b'data: {') and update.frame.endswith(b'}\n\n')
    assert update.frame.count(b'\n') == 2  # one data: line
    assert json.loads(update.frame.removeprefix(b'data: ')) == {
        'event': 'deleted',
        'name': 'old',
        'etag': '"d-2"',
        'previous_etag': '"d-1"',
        'changes': [
            {'event': 'deleted', 'name': 'old'},
            {'event': 'created', 'name': 'new', 'variable': {'name': 'new'}},
        ],
    }
    capped = encode_update(commit, max_changes_bytes=10)
    assert capped is not None
    assert json.loads(capped.frame.removeprefix(b'data: ')) == {
        'event': 'deleted',
        'name': 'old',
        'etag': '"d-2"',
        'previous_etag': '"d-1"',
    }
    assert encode_update(Commit((), '"d-2"', '"d-2"', {})) is None


def test_previous_etag_is_the_revision_a_write_started_from(db_path: Path) -> None:
    # Two stores (two server processes) on one file: the second one's write follows the first one's,
    # so its message must not claim to follow the second store's stale snapshot.
    first, second = SQLiteStore(db_path), SQLiteStore(db_path)
    try:
        start = second.snapshot.etag
        a = Operations(first).create(parse_write(variable_body('a', 1)), actor='test').commit
        b = Operations(second).create(parse_write(variable_body('b', 2)), actor='test').commit
        assert a.previous_etag == start
        assert b.previous_etag == a.etag != start
        # The second store noticed the other writer and reloaded everything, not just its own change.
        assert sorted(second.snapshot.variables) == ['a', 'b']
        assert second.snapshot.etag == b.etag
    finally:
        first.close()
        second.close()
