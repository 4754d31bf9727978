"""Every ``flask --app ... vars ...`` command as a real subprocess against the server on loopback.

Commands that do not depend on each other run side by side, so the whole round trip costs a few
interpreter start-ups rather than one per command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

pytest.importorskip('flask')

from flasktests_util import variable_config, write_config

import remotevars
from remotevars._api import ApiClient
from tests.serverutil import RunningServer, running_server

FLASK = Path(sys.executable).parent / 'flask'
ROOT = Path(__file__).parents[2]
APP = 'tests/flask/flaskdemo.py:create_app'


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / 'vars.sqlite') as srv:
        yield srv


def _flask_all(server: RunningServer, *commands: Sequence[str]) -> list[subprocess.CompletedProcess[str]]:
    """Run ``flask --app flaskdemo vars <command>`` for each command at once; return their results in order."""
    env = {
        **os.environ,
        'FLASK_REMOTEVARS_BASE_URL': server.url,
        'FLASK_REMOTEVARS_API_KEY': server.read_key,
    }
    env.pop('REMOTEVARS_API_KEY', None)
    processes = [
        subprocess.Popen(
            [str(FLASK), '--app', APP, 'vars', *command],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    results = []
    for process, command in zip(processes, commands, strict=True):
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        results.append(subprocess.CompletedProcess(command, process.returncode, out, err))
    return results


def test_every_command_as_a_subprocess(server: RunningServer, tmp_path: Path) -> None:
    write = ('--api-key', server.write_key)
    source = write_config(tmp_path / 'c.json', variable_config('demo_limit', {'prod': 5}))

    pushed, types, built = _flask_all(
        server,
        ('push', '--yes', *write),
        ('push-types', '--type', 'flaskdemo:DemoSettings=demo_settings', '--yes', *write),
        ('build-config', '-o', str(tmp_path / 'built.json')),
    )
    assert pushed.returncode == 0, pushed.stderr
    assert 'Done! Variables synced successfully.' in pushed.stdout
    assert types.returncode == 0, types.stderr
    with ApiClient(server.url, server.read_key) as api:
        assert 'demo_settings' in api.list_variable_types()
    assert built.returncode == 0, built.stderr
    built_config = remotevars.VariablesConfig.model_validate_json((tmp_path / 'built.json').read_text())
    assert built_config.variables.keys() >= {'demo_banner', 'demo_limit', 'demo_rollout', 'demo_tier'}

    valid, status, pulled, config_pushed = _flask_all(
        server,
        ('validate',),
        ('status', '--timeout', '5'),
        ('pull',),
        ('push-config', '-i', str(source), '--mode', 'merge', '--yes', *write),
    )
    assert valid.returncode == 0, valid.stderr
    assert 'Validation passed: All 4 variable(s) are valid.' in valid.stdout
    assert status.returncode == 0, status.stderr
    assert 'State:       loaded' in status.stdout
    assert 'demo_banner [str]: labels none; rollout code default' in status.stdout
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)['variables']['demo_banner']['description'] == 'The banner text.'
    assert config_pushed.returncode == 0, config_pushed.stderr
    with ApiClient(server.url, server.read_key) as api:
        assert api.list_variables().variables['demo_limit'].rollout.labels == {'prod': 1.0}
