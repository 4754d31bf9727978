"""The admin commands against a real server: CliRunner for each command, and one real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from remotevars.cli import main
from remotevars.config import VariablesConfig
from tests.serverutil import RunningServer, api_client, free_port, seed_variable, variable_body


def _run(server: RunningServer, *args: str, key: str | None = None) -> tuple[int, str, str]:
    env = {'REMOTEVARS_BASE_URL': server.url, 'REMOTEVARS_API_KEY': key or server.write_key}
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _config(server: RunningServer) -> VariablesConfig:
    with api_client(server.url, server.read_key) as client:
        return VariablesConfig.model_validate(client.get('/v1/variables/').json())


@pytest.fixture
def seeded(server: RunningServer) -> RunningServer:
    seed_variable(server.url, server.write_key, variable_body('greeting', 'hello', description='Greets'))
    return server


def test_list_and_show(seeded: RunningServer) -> None:
    code, out, _ = _run(seeded, 'list', key=seeded.read_key)
    assert code == 0
    assert out == 'greeting  latest=1  labels=[production]  rollout: production=1\n'
    code, out, _ = _run(seeded, 'show', 'greeting', key=seeded.read_key)
    assert code == 0
    assert 'greeting: Greets' in out
    assert '  production  version 1: "hello"' in out
    assert 'rollout: production=1' in out
    assert '1  ' in out.split('versions:')[1]


def test_create_version_with_label_then_set_label_back(seeded: RunningServer) -> None:
    code, out, err = _run(seeded, 'create-version', 'greeting', '"bonjour"', '--label', 'production')
    assert (code, err) == (0, '')
    assert out == "greeting: created version 2, label 'production' -> version 2\n"
    assert _config(seeded).variables['greeting'].resolve_value('k') == ('"bonjour"', 'production', 2)
    code, out, _ = _run(seeded, 'set-label', 'greeting', 'production', '--version', '1')
    assert code == 0
    assert _config(seeded).variables['greeting'].resolve_value('k') == ('"hello"', 'production', 1)
    assert _config(seeded).variables['greeting'].latest_version.version == 2  # type: ignore[union-attr]


def test_set_label_ref_rollout_and_overrides(seeded: RunningServer) -> None:
    assert _run(seeded, 'create-version', 'greeting', '"hi"')[0] == 0
    assert _run(seeded, 'set-label', 'greeting', 'canary', '--ref', 'latest')[0] == 0
    assert _run(seeded, 'set-label', 'greeting', 'mirror', '--ref', 'production')[0] == 0
    code, out, _ = _run(seeded, 'set-rollout', 'greeting', 'production=0.5', 'canary=0.25')
    assert (code, out) == (0, 'greeting: rollout production=0.5, canary=0.25, code default=0.25\n')
    code, _, _ = _run(
        seeded, 'add-override', 'greeting', '--when', 'plan=pro', '--when', 'seats:=5', '--rollout', 'mirror=1'
    )
    assert code == 0
    variable = _config(seeded).variables['greeting']
    assert variable.rollout.labels == {'production': 0.5, 'canary': 0.25}
    assert variable.resolve_value('k', {'plan': 'pro', 'seats': 5}) == ('"hello"', 'mirror', 1)
    assert variable.resolve_value('k', {'plan': 'pro', 'seats': '5'})[1] != 'mirror'
    assert variable.resolve_value('k', label='canary') == ('"hi"', 'canary', 2)
    code, out, _ = _run(seeded, 'show', 'greeting')
    assert '[0] when plan value-equals "pro" and seats value-equals 5: mirror=1' in out
    assert _run(seeded, 'clear-overrides', 'greeting')[0] == 0
    assert _config(seeded).variables['greeting'].overrides == []


@pytest.mark.parametrize(
    ('args', 'code', 'message'),
    [
        (('set-rollout', 'greeting', 'production=1.5'), 1, 'Label proportions must not sum to more than 1'),
        (('set-rollout', 'greeting', 'ghost=0.5'), 1, "Label 'ghost' present in `rollout.labels`"),
        (('set-rollout', 'greeting', 'production'), 2, 'expected LABEL=WEIGHT'),
        (
            ('set-label', 'greeting', 'x', '--version', '9'),
            1,
            "Variable 'greeting' has no version 9 (it has versions 1 to 1)",
        ),
        (('set-label', 'greeting', 'x', '--ref', 'nowhere'), 1, "Label 'x' has ref 'nowhere'"),
        (('set-label', 'greeting', 'latest', '--ref', 'production'), 1, "'latest' is reserved"),
        (('set-label', 'greeting', 'x'), 2, 'exactly one of --version or --ref'),
        (('create-version', 'greeting', 'not json'), 1, 'VALUE_JSON is not valid JSON'),
        (('show', 'ghost'), 1, "Variable 'ghost' not found"),
        (('add-override', 'greeting', '--when', 'plan', '--rollout', 'production=1'), 2, 'expected ATTR=VALUE'),
        (('delete-label', 'greeting', 'production'), 1, "label 'production' is used by the rollout"),
        (('delete-label', 'greeting', 'ghost'), 1, "Variable 'greeting' has no label 'ghost'"),
        (('remove-override', 'greeting', '0'), 1, "Variable 'greeting' has no override [0] (it has 0)"),
        (('rollback', 'greeting', '--to', '999'), 1, "Variable 'greeting' has no history entry 999"),
        (('history', 'ghost'), 1, "Variable 'ghost' not found (and has no history)"),
        (('create-version', 'ghost', '1', '--label', 'x'), 1, "Variable 'ghost' not found"),
    ],
)
def test_refusals_exit_nonzero_with_one_line(
    seeded: RunningServer, args: tuple[str, ...], code: int, message: str
) -> None:
    before = _config(seeded)
    exit_code, out, err = _run(seeded, *args)
    assert (exit_code, out) == (code, '')
    assert message in err
    assert err.startswith('Error: ') or err.startswith('Usage: ')
    assert err.count('Error: ') == 1
    assert seeded.write_key not in err + out
    assert _config(seeded) == before


def test_read_key_cannot_change(seeded: RunningServer) -> None:
    code, out, err = _run(seeded, 'set-rollout', 'greeting', key=seeded.read_key)
    assert (code, out) == (2, '')  # an authentication problem, like a connection one
    assert err.startswith('Error: PUT /v1/variables/greeting/rollout/ returned HTTP 403')
    assert seeded.read_key not in err


def test_connection_error_is_exit_2(server: RunningServer) -> None:
    env = {'REMOTEVARS_BASE_URL': f'http://127.0.0.1:{free_port()}', 'REMOTEVARS_API_KEY': 'secret-key'}
    result = CliRunner().invoke(main, ['list'], env=env)
    assert result.exit_code == 2
    assert result.stderr.startswith('Error: cannot reach the server')
    assert result.stderr.count('\n') == 1 and result.stdout == ''
    assert 'secret-key' not in result.stderr


def test_admin_command_in_a_real_subprocess(seeded: RunningServer) -> None:
    env = {**os.environ, 'REMOTEVARS_BASE_URL': seeded.url, 'REMOTEVARS_API_KEY': seeded.write_key}
    command = [sys.executable, '-c', 'import sys; from remotevars.cli import main; sys.exit(main())']
    result = subprocess.run(
        [*command, 'create-version', 'greeting', '{"text": "hey"}', '--label', 'beta'],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, '')
    assert result.stdout == "greeting: created version 2, label 'beta' -> version 2\n"
    assert _config(seeded).variables['greeting'].resolve_value('k', label='beta') == ('{"text": "hey"}', 'beta', 2)


def test_delete_label_remove_override_and_nothing_to_do(seeded: RunningServer) -> None:
    assert _run(seeded, 'set-label', 'greeting', 'beta', '--ref', 'production')[0] == 0
    code, out, err = _run(seeded, 'set-label', 'greeting', 'beta', '--ref', 'production')
    assert (code, out, err) == (0, "greeting: label 'beta' -> label 'production' (unchanged: nothing to do)\n", '')
    assert _run(seeded, 'add-override', 'greeting', '--when', 'plan=pro', '--rollout', 'beta=1')[0] == 0
    assert _run(seeded, 'add-override', 'greeting', '--when', 'plan=free', '--rollout', 'production=1')[0] == 0
    code, out, _ = _run(seeded, 'remove-override', 'greeting', '0')
    assert (code, out) == (0, 'greeting: override [0] removed\n')
    variable = _config(seeded).variables['greeting']
    assert [o.conditions[0].model_dump()['value'] for o in variable.overrides] == ['free']
    code, out, _ = _run(seeded, 'delete-label', 'greeting', 'beta')
    assert (code, out) == (0, "greeting: label 'beta' deleted\n")
    assert list(_config(seeded).variables['greeting'].labels) == ['production']
    assert _run(seeded, 'clear-overrides', 'greeting')[0] == 0
    assert _run(seeded, 'clear-overrides', 'greeting')[1] == 'greeting: overrides cleared (unchanged: nothing to do)\n'
    code, out, _ = _run(seeded, 'history', 'greeting', '--limit', '3')
    assert code == 0
    assert [line.split()[3] for line in out.splitlines()] == ['clear-overrides', 'delete-label', 'remove-override']
    code, out, _ = _run(seeded, 'history', 'greeting', '--json', '--limit', '1')
    assert code == 0 and json.loads(out)[0]['action'] == 'clear-overrides'


def test_a_schema_warning_goes_to_stderr_and_succeeds(seeded: RunningServer) -> None:
    with api_client(seeded.url, seeded.write_key) as client:
        client.post('/v1/variables/greeting/versions/', json={'serialized_value': '5'}).raise_for_status()
        body = variable_body('greeting', 'hello', json_schema={'type': 'string'})
        client.put('/v1/variables/greeting/', json=body).raise_for_status()
    code, out, err = _run(seeded, 'set-label', 'greeting', 'odd', '--version', '2')
    assert (code, out) == (0, "greeting: label 'odd' version 2: 5\n")
    assert err == (
        'Warning: greeting: label \'odd\' (version 2) does not match the json_schema at $: 5 is not of type "string"\n'
    )
