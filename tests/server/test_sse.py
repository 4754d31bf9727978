"""The updates stream: created/updated/deleted events after commits, keepalive comments, prompt shutdown."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

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
        events = _events(stream.iter_lines(), 6)
    assert events == [
        {'event': 'created', 'name': 'a'},
        {'event': 'updated', 'name': 'a'},
        {'event': 'updated', 'name': 'a'},
        {'event': 'created', 'name': 'b'},
        {'event': 'deleted', 'name': 'a'},
        {'event': 'deleted', 'name': 'b'},
    ]


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
    assert received == [[{'event': 'created', 'name': 'a'}]] * 5
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
