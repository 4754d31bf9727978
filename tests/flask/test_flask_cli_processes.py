"""Which processes connect: ``flask`` commands that need no config never do; an explicit off switch.

A silent stand-in server on 127.0.0.1 counts the connections: ``flask routes``, ``flask shell`` (without
a read) and ``flask vars build-config`` must make none, and print no log lines of a client.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

pytest.importorskip('flask')

from flask import Flask
from flasktests_util import variable_config, write_config

from tests.serverutil import SilentServer, silent_server

MakeApp = Callable[..., Flask]
FLASK = Path(sys.executable).parent / 'flask'
ROOT = Path(__file__).parents[2]
APP = 'tests/flask/flaskdemo.py:create_app'


def _flask_all(env: dict[str, str], *runs: tuple[Sequence[str], str]) -> list[subprocess.CompletedProcess[str]]:
    """Run ``flask --app flaskdemo ARGS`` with each stdin text, side by side; return the results in order."""
    processes = [
        subprocess.Popen(
            [str(FLASK), '--app', APP, *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args, _ in runs
    ]
    results = []
    for process, (args, stdin) in zip(processes, runs, strict=True):
        try:
            out, err = process.communicate(stdin, timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        results.append(subprocess.CompletedProcess(args, process.returncode, out, err))
    return results


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with silent_server() as server:
        yield server


def test_commands_that_need_no_config_do_not_connect(silent: SilentServer, tmp_path: Path) -> None:
    env = {'FLASK_REMOTEVARS_BASE_URL': silent.url, 'FLASK_REMOTEVARS_API_KEY': 'a-key'}
    routes, shell, built = _flask_all(
        env,
        (('routes',), ''),
        (('shell',), 'print("two", 1 + 1)\n'),
        (('vars', 'build-config', '-o', str(tmp_path / 'built.json')), ''),
    )
    for result in (routes, shell, built):
        assert result.returncode == 0, result.stderr
        assert 'remotevars' not in result.stderr.lower(), result.stderr  # no client log lines
    assert '/stream' in routes.stdout
    assert 'two 2' in shell.stdout
    assert (tmp_path / 'built.json').exists()
    assert silent.connections == 0
    # The command that needs the server does connect, and says the server does not answer (exit 2).
    (status,) = _flask_all(env, (('vars', 'status', '--timeout', '0.5'), ''))
    assert silent.connections >= 1
    assert status.returncode == 2
    assert status.stderr.startswith('Error: No config loaded from ') and status.stderr.count('\n') == 1


def test_build_config_creates_the_missing_local_config(tmp_path: Path) -> None:
    target = tmp_path / 'vars.json'
    env = {'FLASK_REMOTEVARS_LOCAL_CONFIG': str(target)}
    (missing,) = _flask_all(env, (('vars', 'status'), ''))
    assert missing.returncode == 2
    assert 'remotevars.E002' in missing.stderr and missing.stderr.count('\n') == 1
    (built,) = _flask_all(env, (('vars', 'build-config', '-o', str(target)), ''))
    assert built.returncode == 0, built.stderr
    assert built.stderr == ''
    (status,) = _flask_all(env, (('vars', 'status'), ''))
    assert status.returncode == 0, status.stderr
    assert f'Source:      local {target}' in status.stdout


def test_enabled_false_ignores_the_environment(
    silent: SilentServer, make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import flaskdemo

    monkeypatch.setenv('REMOTEVARS_BASE_URL', silent.url)
    monkeypatch.setenv('REMOTEVARS_API_KEY', 'a-key')
    app = make_app({'REMOTEVARS_ENABLED': False})
    with app.app_context():
        result = flaskdemo.demo_banner.get()
    assert (result.value, result.reason) == ('hello', 'no_provider')
    assert app.test_client().get('/').json['banner'] == 'hello'
    assert app.extensions['remotevars'].client.status().kind == 'none'
    assert silent.connections == 0
    # False wins over a local file as well.
    config = write_config(tmp_path / 'vars.json', variable_config('demo_banner', {'production': 'from file'}))
    off = make_app({'REMOTEVARS_ENABLED': False, 'REMOTEVARS_LOCAL_CONFIG': str(config)})
    assert off.test_client().get('/').json['banner'] == 'hello'
