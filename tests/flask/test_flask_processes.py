"""The extension in real server processes: gunicorn with ``--preload -w 3``, and ``flask run --reload``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip('flask')
pytest.importorskip('gunicorn')

from flasktests_util import variable_config, write_config

from tests.serverutil import RunningServer, free_port, running_server, seed_variable, variable_body

BIN = Path(sys.executable).parent
HERE = Path(__file__).parent
ROOT = HERE.parents[1]


def _events(directory: Path) -> dict[int, list[dict[str, Any]]]:
    """Return the refresh events each process recorded, by pid."""
    found: dict[int, list[dict[str, Any]]] = {}
    for path in directory.glob('*.jsonl'):
        found[int(path.stem)] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return found


def _loaded(directory: Path) -> set[int]:
    return {int(path.name.removeprefix('loaded-')) for path in directory.glob('loaded-*')}


def _wait_for(condition: Any, timeout: float, what: str, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f'\n--- log ---\n{log.read_text(errors="replace")}' if log and log.exists() else ''
            raise AssertionError(f'{what}: not within {timeout}s{detail}')
        time.sleep(0.02)


def _get(url: str) -> dict[str, Any] | None:
    try:
        response = httpx.get(url, timeout=2.0)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


@contextmanager
def _process_group(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` in a session of its own; on exit SIGTERM (then SIGKILL) the whole group."""
    with log.open('wb') as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        # Children of the group (gunicorn workers, the reloader's server) end with it.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / 'vars.sqlite') as srv:
        yield srv


def test_gunicorn_preload_workers_pick_up_a_change_within_a_second(server: RunningServer, tmp_path: Path) -> None:
    seed_variable(server.url, server.write_key, variable_body('demo_banner', 'first'))
    events = tmp_path / 'events'
    events.mkdir()
    port = free_port()
    env = {
        **os.environ,
        'FLASK_REMOTEVARS_BASE_URL': server.url,
        'FLASK_REMOTEVARS_API_KEY': server.read_key,
        'DEMO_EVENTS_DIR': str(events),
    }
    command = [
        str(BIN / 'gunicorn'),
        '--preload',
        '-w',
        '3',
        '-b',
        f'127.0.0.1:{port}',
        '--pythonpath',
        str(HERE),
        'flaskdemo:create_app()',
    ]
    log = tmp_path / 'gunicorn.log'
    with _process_group(command, env, log) as master:
        _wait_for(lambda: _get(f'http://127.0.0.1:{port}/'), 30, 'gunicorn answers', log)
        # The preloaded master and each of the 3 workers hold an update stream of their own.
        _wait_for(lambda: server.subscriber_count >= 4, 30, 'four update streams', log)
        assert _loaded(events) == {master.pid}  # --preload: the app was created once, before forking
        written_at = time.time()
        seed_variable(server.url, server.write_key, variable_body('demo_banner', 'second'))

        def workers_that_saw_it() -> dict[int, float]:
            seen = {}
            for pid, lines in _events(events).items():
                for line in lines:
                    if line['ppid'] == master.pid and 'demo_banner' in line['changes'] and line['time'] >= written_at:
                        seen[pid] = line['time'] - written_at
            return seen if len(seen) == 3 else {}

        delays = _wait_for(workers_that_saw_it, 10, 'all three workers see the change', log)
        assert all(delay <= 1.0 for delay in delays.values()), delays
        served = {_get(f'http://127.0.0.1:{port}/')['banner'] for _ in range(6)}  # type: ignore[index]
        assert served == {'second'}


def test_werkzeug_reloader_runs_one_refresh_worker(tmp_path: Path) -> None:
    source = write_config(tmp_path / 'c.json', variable_config('demo_banner', {'prod': 'first'}))
    events = tmp_path / 'events'
    events.mkdir()
    port = free_port()
    env = {**os.environ, 'FLASK_REMOTEVARS_LOCAL_CONFIG': json.dumps(str(source)), 'DEMO_EVENTS_DIR': str(events)}
    env.pop('WERKZEUG_RUN_MAIN', None)
    command = [str(BIN / 'flask'), '--app', 'tests/flask/flaskdemo.py:create_app', 'run', '--reload']
    command += ['--host', '127.0.0.1', '--port', str(port)]
    log = tmp_path / 'flask-run.log'
    with _process_group(command, env, log) as watcher:
        assert _wait_for(lambda: _get(f'http://127.0.0.1:{port}/'), 30, 'flask run answers', log)['banner'] == 'first'
        loaded = _wait_for(lambda: _loaded(events) if len(_loaded(events)) == 2 else None, 10, 'two loads', log)
        # The watcher and the serving child both created the app; only the child loads the config.
        assert watcher.pid in loaded
        (server_pid,) = loaded - {watcher.pid}
        assert set(_events(events)) == {server_pid}
        write_config(source, variable_config('demo_banner', {'prod': 'second'}))
        _wait_for(lambda: (_get(f'http://127.0.0.1:{port}/') or {}).get('banner') == 'second', 10, 'reload', log)
        assert set(_events(events)) == {server_pid}
        assert [line['changes'] for line in _events(events)[server_pid]] == [['demo_banner'], ['demo_banner']]
