"""Real serving processes: ``manage.py runserver`` with its autoreloader, and gunicorn ``--preload -w 3``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip('django.conf')
pytest.importorskip('pytest_django')

import httpx

from tests.django.conftest import PROJECT, SUBPROCESS_ENV, seed, wait_until
from tests.serverutil import free_port, running_server

_STARTED = re.compile(r'remotevars: refresh started in process (\d+)')


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Any]:
    with running_server(tmp_path / 'serving.sqlite3', keepalive_interval=1.0) as running:
        yield running


@contextmanager
def serving(command: list[str], server: Any, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a serving command of the test project in its own process group; ended (group and all) on exit."""
    env = {
        **os.environ,
        **SUBPROCESS_ENV,
        'REMOTEVARS_BASE_URL': server.url,
        'REMOTEVARS_API_KEY': server.read_key,
        'PYTHONUNBUFFERED': '1',
    }
    env.pop('DJANGO_SETTINGS_MODULE', None)
    with log.open('wb') as out:
        process = subprocess.Popen(
            command, cwd=str(PROJECT), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def get_worker(url: str, hold: float = 0.0) -> dict[str, Any] | None:
    try:
        response = httpx.get(f'{url}/worker/', params={'hold': hold}, timeout=5.0)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def test_runserver_autoreloader_runs_one_refresh_worker(server: Any, tmp_path: Path) -> None:
    seed(server, 'banner_text', 'Served')
    port = free_port()
    url = f'http://127.0.0.1:{port}'
    log = tmp_path / 'runserver.log'
    with serving([sys.executable, 'manage.py', 'runserver', f'127.0.0.1:{port}'], server, log) as process:
        first = wait_until(lambda: get_worker(url), 40.0, f'runserver to answer (log: {log})')
        assert first['started'] is True
        assert first['pid'] != process.pid  # the autoreloader's child serves, its parent only watches files
        assert first['value'] == 'Served'
        wait_until(lambda: server.subscriber_count == 1, 5.0, 'one update stream')

        version = seed(server, 'banner_text', 'Changed')['labels']['production']['version']
        changed = wait_until(
            lambda: (w := get_worker(url)) is not None and w['version'] == version and w, 5.0, 'the change'
        )
        assert changed['value'] == 'Changed'
        assert changed['pid'] == first['pid']
        time.sleep(0.3)
        assert server.subscriber_count == 1
    started = [int(pid) for pid in _STARTED.findall(log.read_text(errors='replace'))]
    assert started == [first['pid']], log.read_text(errors='replace')


def test_gunicorn_preload_every_worker_picks_up_a_change_within_a_second(server: Any, tmp_path: Path) -> None:
    pytest.importorskip('gunicorn')
    seed(server, 'banner_text', 'Before')
    port = free_port()
    url = f'http://127.0.0.1:{port}'
    log = tmp_path / 'gunicorn.log'
    command = [sys.executable, '-m', 'gunicorn', '--preload', '-w', '3', '-b', f'127.0.0.1:{port}']
    command += ['--graceful-timeout', '2', 'rv_project.wsgi:application']

    def all_workers() -> dict[int, dict[str, Any]]:
        # Three concurrent requests that each hold a sync worker reach three different workers.
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda _: get_worker(url, hold=0.4), range(3)))
        return {r['pid']: r for r in results if r is not None}

    with serving(command, server, log) as process:
        wait_until(lambda: get_worker(url), 40.0, f'gunicorn to answer (log: {log})')
        workers = wait_until(lambda: (found := all_workers()) and len(found) == 3 and found, 20.0, 'three workers')
        assert process.pid not in workers
        assert all(w['value'] == 'Before' for w in workers.values())
        # A worker forked a moment ago may answer before its update stream has connected: collect, over
        # as many rounds of requests as it takes, that each of the three says it holds its stream.
        streaming: set[int] = set()

        def every_worker_streams() -> bool:
            streaming.update(pid for pid, w in all_workers().items() if w['stream'] is True)
            return set(workers) <= streaming

        wait_until(every_worker_streams, 20.0, f'each worker to hold its update stream (log: {log})')
        # Each worker holds its own update stream (the preloading master keeps the one it started with).
        wait_until(lambda: server.subscriber_count >= 3, 5.0, 'three update streams')
        print('update streams open with gunicorn --preload -w 3:', server.subscriber_count)

        written_at = time.time()
        version = seed(server, 'banner_text', 'After')['labels']['production']['version']
        seen: dict[int, dict[str, Any]] = {}

        def every_worker_changed() -> bool:
            seen.update({pid: w for pid, w in all_workers().items() if w['version'] == version})
            return set(workers) <= set(seen)

        wait_until(every_worker_changed, 10.0, 'every worker to serve the change')
    print('pick-up after the write (s):', sorted(round(seen[pid]['updated_at'] - written_at, 3) for pid in workers))
    for pid in workers:
        assert seen[pid]['value'] == 'After'
        assert seen[pid]['updated_at'] - written_at < 1.0, (pid, seen[pid]['updated_at'] - written_at)
