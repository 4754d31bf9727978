"""Attacks on the client: a hostile server (tests/core/hostile.py, on 127.0.0.1) against the remote provider.

A 300 MB body, an endless chunked body, an endless SSE line, a body or headers dripped a byte a second,
and a stream gone silent. The client runs in a subprocess that reports its peak RSS (``ru_maxrss``)
above its baseline; it must stay under 150 MB, keep the last good config, keep polling, and serve the
cache file when no config could be fetched. Each test is bounded in time and stops by itself.
"""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

import remotevars
from remotevars import VariablesOptions
from tests.core.hostile import CONFIG_PATH, STREAM_PATH, HostileServer, config_body

MB = 2**20
RSS_BOUND = 150 * MB

CLIENT_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, time
    import remotevars
    from remotevars import VariablesOptions

    url, settings = sys.argv[1], json.loads(sys.argv[2])
    client = remotevars.Client()
    flag = client.var('flag', default='code default')
    client.configure(VariablesOptions(api_key='k', base_url=url, _allow_fast_polling=True, **settings))

    def report(event):
        result = flag.get()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps({'event': event, 'value': result.value, 'reason': result.reason, 'peak': peak}), flush=True)

    report('started')
    line = sys.stdin.readline().strip()  # the attack runs now; 'go VALUE': a fetch is under way, wait for VALUE
    if line.startswith('go '):
        deadline = time.monotonic() + 10
        while flag.get().value != line[3:] and time.monotonic() < deadline:
            time.sleep(0.02)
    report('attacked')
    client.shutdown()
    """
)


class Client:
    """The client subprocess: :meth:`report` reads its next line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def report(self, timeout: float = 20.0) -> dict[str, Any]:
        """Return the next report (raises if none comes within ``timeout`` seconds)."""
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        end = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while time.monotonic() < end:
                if selector.select(0.1):
                    line = stdout.readline()
                    assert line, f'the client exited ({self.process.poll()})'
                    return dict(json.loads(line))
        raise AssertionError('no report from the client')

    def attacked(self, expect: str | None = None) -> dict[str, Any]:
        """Tell the client the attack ran; return its report (once it serves ``expect``, within 10 s)."""
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write('go\n' if expect is None else f'go {expect}\n')
        stdin.flush()
        return self.report()


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    """The hostile server."""
    with HostileServer() as server:
        yield server


@pytest.fixture
def run_client(tmp_path: Path, hostile: HostileServer) -> Iterator[Callable[..., Client]]:
    """Start the client subprocess against the hostile server with these ``VariablesOptions`` settings."""
    processes: list[subprocess.Popen[str]] = []
    script = tmp_path / 'client.py'
    script.write_text(CLIENT_SCRIPT)

    def start(**settings: Any) -> Client:
        process = subprocess.Popen(
            [sys.executable, str(script), hostile.url, json.dumps(settings)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return Client(process)

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll ``predicate`` every 20 ms until it is true or ``timeout`` passes; return its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.mark.parametrize('mode', ['huge', 'endless', 'drip-body', 'drip-headers'])
def test_a_hostile_config_answer_is_abandoned_and_the_last_good_config_stays(
    hostile: HostileServer, run_client: Callable[..., Client], mode: str
) -> None:
    client = run_client(polling_interval=0.5, sse=False, fetch_deadline=1.0)
    started = client.report()
    assert (started['value'], started['reason']) == ('good', 'resolved')
    hostile.config_mode = mode
    # Two hostile answers: the first was abandoned and the poller went on to the next.
    assert wait_until(lambda: hostile.count(CONFIG_PATH, mode) >= 2, 15.0)
    attacked = client.attacked()
    assert (attacked['value'], attacked['reason']) == ('good', 'resolved')
    assert attacked['peak'] - started['peak'] < RSS_BOUND


def test_an_endless_sse_line_is_abandoned(hostile: HostileServer, run_client: Callable[..., Client]) -> None:
    hostile.stream_mode = 'quiet'
    client = run_client(polling_interval=60)
    started = client.report()
    assert (started['value'], started['reason']) == ('good', 'resolved')
    assert wait_until(lambda: hostile.count(STREAM_PATH) >= 1, 5.0)
    hostile.stream_mode = 'endless-line'
    hostile.end_streams()
    assert wait_until(lambda: hostile.count(STREAM_PATH, 'endless-line') >= 2, 15.0)
    hostile.config = config_body(flag='changed')  # each reconnection still catches up with a fetch
    fetched = hostile.count(CONFIG_PATH)
    assert wait_until(lambda: hostile.count(CONFIG_PATH) > fetched, 15.0)
    attacked = client.attacked(expect='changed')  # the fetch was counted; it may still be on its way
    assert attacked['value'] == 'changed'
    assert attacked['peak'] - started['peak'] < RSS_BOUND


def test_a_slow_drip_at_start_serves_the_cache_file(
    hostile: HostileServer, run_client: Callable[..., Client], tmp_path: Path
) -> None:
    cache = tmp_path / 'cache.json'
    cache.write_bytes(config_body(flag='cached'))
    hostile.config_mode = 'drip-body'
    # The first fetch gets 45 % of first_resolve_timeout (5 s): longer than the drip's 1 s between bytes.
    client = run_client(polling_interval=60, sse=False, cache_file=str(cache), fetch_deadline=1.0)
    started = client.report()
    assert (started['value'], started['reason']) == ('cached', 'cached')
    assert wait_until(lambda: hostile.count(CONFIG_PATH) >= 2, 10.0)  # and it keeps trying
    hostile.config_mode = 'good'
    assert wait_until(lambda: hostile.count(CONFIG_PATH, 'good') >= 1, 10.0)
    attacked = client.attacked(expect='good')
    assert (attacked['value'], attacked['reason']) == ('good', 'resolved')


def test_a_slow_drip_serves_the_cache_file_without_blocking_at_start(
    hostile: HostileServer, run_client: Callable[..., Client], tmp_path: Path
) -> None:
    cache = tmp_path / 'cache.json'
    cache.write_bytes(config_body(flag='cached'))
    hostile.config_mode = 'drip-headers'
    client = run_client(
        polling_interval=60, sse=False, cache_file=str(cache), block_before_first_resolve=False, fetch_deadline=1.0
    )
    client.report()
    assert wait_until(lambda: hostile.count(CONFIG_PATH) >= 2, 10.0)
    attacked = client.attacked()
    assert (attacked['value'], attacked['reason']) == ('cached', 'cached')


# -- a stream gone silent -----------------------------------------------------------------------------


def reopened_after_silence(hostile: HostileServer) -> float | None:
    """Seconds from the stream going silent to the next stream opening, or None."""
    silent = hostile.silent_since
    later = [at for at in hostile.stream_opened_at if silent is not None and at > silent]
    return later[0] - silent if later and silent is not None else None


def test_a_half_open_stream_is_reopened_in_a_few_learned_keepalive_periods(
    hostile: HostileServer, client: remotevars.Client
) -> None:
    hostile.stream_mode = 'half-open'
    hostile.keepalive = 1.0
    hostile.silent_after = 4  # the client learns the period from these, unannounced
    client.configure(VariablesOptions(api_key='k', base_url=hostile.url))  # sse_read_timeout: 60 s
    assert wait_until(lambda: hostile.silent_since is not None, 10.0)
    assert wait_until(lambda: reopened_after_silence(hostile) is not None, 10.0)
    reopened = reopened_after_silence(hostile)
    assert reopened is not None
    assert 4.0 < reopened < 10.0  # 3 periods + 2 s, never below the 5 s floor


def test_a_half_open_stream_is_reopened_in_a_few_announced_keepalive_periods(
    hostile: HostileServer, client: remotevars.Client
) -> None:
    hostile.stream_mode = 'half-open'
    hostile.keepalive = 1.0
    hostile.silent_after = 1  # too few to learn from: the announced period is what counts
    hostile.announce = '1'
    client.configure(VariablesOptions(api_key='k', base_url=hostile.url))
    assert wait_until(lambda: reopened_after_silence(hostile) is not None, 12.0)
    reopened = reopened_after_silence(hostile)
    assert reopened is not None
    assert reopened < 8.0


def test_an_unannounced_period_is_not_guessed_from_too_few_keepalives(
    hostile: HostileServer, client: remotevars.Client
) -> None:
    hostile.stream_mode = 'half-open'
    hostile.keepalive = 0.5
    hostile.silent_after = 1
    client.configure(VariablesOptions(api_key='k', base_url=hostile.url, sse_read_timeout=3.0))
    assert wait_until(lambda: reopened_after_silence(hostile) is not None, 8.0)
    reopened = reopened_after_silence(hostile)
    assert reopened is not None
    assert reopened > 2.5  # sse_read_timeout, the default until a period is known


# -- the API key over plain http:// -------------------------------------------------------------------

WARNING_SCRIPT = textwrap.dedent(
    """
    import logging, sys
    from remotevars._api import ApiClient
    from remotevars.providers import RemoteProvider
    from remotevars import VariablesOptions

    logging.basicConfig(level=logging.WARNING, format='%(name)s %(message)s', stream=sys.stdout)
    key = 'rk-SECRET-5f1e0c'
    for url in ('https://variables.example', 'http://127.0.0.1:9', 'http://localhost:9', 'http://[::1]:9'):
        ApiClient(url, key).close()
    print('-- loopback and https done', flush=True)
    for _ in range(3):
        ApiClient('http://192.0.2.10:8700', key).close()
    RemoteProvider(VariablesOptions(api_key=key, base_url='http://variables.internal:8700'))
    """
)


def test_the_key_over_plain_http_to_another_host_warns_once_per_process(tmp_path: Path) -> None:
    script = tmp_path / 'warn.py'
    script.write_text(WARNING_SCRIPT)
    output = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True)
    before, after = output.stdout.split('-- loopback and https done\n')
    assert before == ''
    assert after.count('remotevars.api ') == 1
    assert 'plain http:// to 192.0.2.10' in after
    assert 'SECRET' not in output.stdout + output.stderr
