"""The vars_* management commands, with ``call_command`` and as real ``manage.py`` subprocesses, against the server.

Each test gets a fresh server so the plans it checks do not depend on the other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip('django.conf')
pytest.importorskip('pytest_django')

import httpx
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

import remotevars
from django_remotevars import _runtime
from tests.django.conftest import PROJECT, PROJECT_VARIABLES, SUBPROCESS_ENV, manage, seed, wait_for_version
from tests.serverutil import free_port, running_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Any]:
    with running_server(tmp_path / 'commands.sqlite3') as running:
        yield running


def registered_names() -> list[str]:
    """The variables this process has registered: the project's, plus any another test suite declared."""
    names = sorted(v.name for v in remotevars.get_client().variables())
    assert set(PROJECT_VARIABLES) <= set(names)
    return names


def run(name: str, *args: str, **options: Any) -> str:
    """call_command, returning what it printed."""
    out = StringIO()
    call_command(name, *args, stdout=out, **options)
    return out.getvalue()


def env_for(server: Any, key: str | None = None) -> dict[str, str]:
    return {'REMOTEVARS_BASE_URL': server.url, 'REMOTEVARS_API_KEY': key or server.write_key}


def server_names(server: Any) -> list[str]:
    headers = {'Authorization': f'bearer {server.read_key}'}
    response = httpx.get(f'{server.url}/v1/variables/', headers=headers, timeout=5.0)
    return sorted(response.json()['variables'])


def core_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The core ``remotevars`` command line, run from the project directory like manage.py."""
    import os

    return subprocess.run(
        [sys.executable, '-c', 'from remotevars.cli import main; main()', *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **SUBPROCESS_ENV, **env},
        cwd=str(PROJECT),
        check=False,
        stdin=subprocess.DEVNULL,
    )


# -- vars_push ------------------------------------------------------------------------------------


def test_vars_push_call_command(server: Any) -> None:
    target = {'base_url': server.url, 'api_key': server.write_key}
    plan = run('vars_push', '--dry-run', **target)
    assert '=== Variables to CREATE ===' in plan
    assert '  + banner_text' in plan and '  + extra_flag' in plan
    assert plan.rstrip().endswith('Dry run mode - no changes applied.')
    assert '\033[' not in plan  # no colours off a terminal
    assert server_names(server) == []

    with pytest.raises(CommandError, match='no terminal to ask on') as refused:
        run('vars_push', **target)
    assert refused.value.returncode == 1

    applied = run('vars_push', '--yes', **target)
    assert 'Done! Variables synced successfully.' in applied
    assert server_names(server) == registered_names()
    assert 'No changes needed. Provider is up to date.' in run('vars_push', '--yes', **target)


def test_vars_push_subprocess_matches_the_core_command_line(server: Any) -> None:
    env = env_for(server)
    core = core_cli('push', '-m', 'rv_shop.variables', '-m', 'rv_extra_vars', '--dry-run', env=env)
    django = manage('vars_push', '--dry-run', env=env)
    assert (django.returncode, core.returncode) == (0, 0), django.stderr
    assert django.stdout == core.stdout
    assert 'Dry run mode' in django.stdout

    refused = manage('vars_push', env=env)
    assert refused.returncode == 1
    core_refused = core_cli('push', '-m', 'rv_shop.variables', '-m', 'rv_extra_vars', env=env)
    assert core_refused.returncode == 1
    assert (
        refused.stderr
        == core_refused.stderr
        == (
            'Error: Refusing to apply changes without confirmation: there is no terminal to ask on '
            '(pass --yes to apply, or --dry-run to preview).\n'
        )
    )
    assert refused.stdout == core_refused.stdout

    applied = manage('vars_push', '--yes', env=env)
    assert applied.returncode == 0, applied.stderr
    assert 'Done! Variables synced successfully.' in applied.stdout
    assert server_names(server) == sorted(PROJECT_VARIABLES)


# -- vars_validate --------------------------------------------------------------------------------


def test_vars_validate_call_command_and_subprocess(server: Any) -> None:
    target = {'base_url': server.url, 'api_key': server.read_key}
    count = len(registered_names())
    with pytest.raises(CommandError, match=rf'Validation failed: {count} issue\(s\) found') as missing:
        run('vars_validate', **target)
    assert missing.value.returncode == 1
    run('vars_push', '--yes', base_url=server.url, api_key=server.write_key)
    assert f'Validation passed: All {count} variable(s) are valid.' in run('vars_validate', **target)

    seed(server, 'max_items', 'not a number')
    out = StringIO()
    with pytest.raises(CommandError, match=r'Validation failed: 1 issue\(s\) found') as invalid:
        call_command('vars_validate', stdout=out, **target)
    assert invalid.value.returncode == 1
    assert '=== Validation Errors ===' in out.getvalue()
    assert 'max_items (label: production)' in out.getvalue()

    django = manage('vars_validate', env=env_for(server, server.read_key))
    core = core_cli('validate', '-m', 'rv_shop.variables', '-m', 'rv_extra_vars', env=env_for(server, server.read_key))
    assert (django.returncode, core.returncode) == (1, 1)
    assert django.stdout == core.stdout
    assert django.stderr == core.stderr == 'Error: Validation failed: 1 issue(s) found (see above).\n'


def test_connection_and_configuration_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('REMOTEVARS_API_KEY', raising=False)
    monkeypatch.delenv('REMOTEVARS_BASE_URL', raising=False)
    with pytest.raises(CommandError, match='No API key') as no_key:
        run('vars_pull')
    assert no_key.value.returncode == 2
    with pytest.raises(CommandError, match='Could not fetch the current config from the server') as unreachable:
        run('vars_validate', base_url='http://127.0.0.1:9', api_key='k')
    assert unreachable.value.returncode == 2

    result = manage('vars_pull', '--base-url', 'http://127.0.0.1:9', '--api-key', 'k')
    assert result.returncode == 2
    assert result.stderr.startswith('Error: Could not fetch the current config from the server')
    assert len(result.stderr.strip().splitlines()) == 1


# -- vars_pull, vars_build_config, vars_push_config -----------------------------------------------


def test_vars_build_config_call_command_and_subprocess(tmp_path: Path) -> None:
    built = json.loads(run('vars_build_config'))
    assert sorted(built['variables']) == registered_names()
    assert built['variables']['banner_text']['example'] == '"Welcome"'
    assert built['variables']['agent_config']['json_schema']['type'] == 'object'

    output = tmp_path / 'built.json'
    result = manage('vars_build_config', '-o', str(output))
    assert result.returncode == 0, result.stderr
    from_file = json.loads(output.read_text())
    assert sorted(from_file['variables']) == sorted(PROJECT_VARIABLES)  # a fresh process: the project's only
    assert from_file['variables'] == {name: built['variables'][name] for name in PROJECT_VARIABLES}


def test_vars_pull_and_vars_push_config(server: Any, tmp_path: Path) -> None:
    seed(server, 'banner_text', 'Pulled')
    pulled = json.loads(run('vars_pull', base_url=server.url, api_key=server.read_key))
    assert json.loads(pulled['variables']['banner_text']['labels']['production']['serialized_value']) == 'Pulled'

    # pull to a file (subprocess), edit it, push it back (call_command), check, then replace (subprocess).
    config_file = tmp_path / 'config.json'
    result = manage('vars_pull', '-o', str(config_file), env=env_for(server, server.read_key))
    assert result.returncode == 0, result.stderr
    config = json.loads(config_file.read_text())
    assert config == pulled
    config['variables']['banner_text']['description'] = 'Edited in a file'
    new = dict(config['variables']['banner_text'], name='max_items', description=None)
    new['labels'] = {'production': {'version': 1, 'serialized_value': '42'}}
    config['variables']['max_items'] = new
    config_file.write_text(json.dumps(config))

    target = {'base_url': server.url, 'api_key': server.write_key}
    plan = run('vars_push_config', '-i', str(config_file), '--dry-run', **target)
    assert '=== Variables to CREATE ===' in plan and '+ max_items' in plan
    assert '=== Variables to UPDATE ===' in plan and '~ banner_text' in plan
    assert 'Done! Variables pushed successfully.' in run('vars_push_config', '-i', str(config_file), '--yes', **target)
    assert server_names(server) == ['banner_text', 'max_items']

    del config['variables']['max_items']
    config_file.write_text(json.dumps(config))
    env = env_for(server)
    # max_items serves a value: deleting it is destructive, so --yes needs --allow-destructive.
    replaced = manage(
        'vars_push_config', '-i', str(config_file), '--mode', 'replace', '--yes', '--allow-destructive', env=env
    )
    assert replaced.returncode == 0, replaced.stderr
    assert '=== Variables to DELETE ===' in replaced.stdout and '- max_items' in replaced.stdout
    assert server_names(server) == ['banner_text']

    bad = tmp_path / 'bad.json'
    bad.write_text('{"variables": {"x": {}}}')
    with pytest.raises(CommandError, match='is not a valid variables config') as invalid:
        run('vars_push_config', '-i', str(bad), **target)
    assert invalid.value.returncode == 2


def test_vars_push_config_of_a_template_needs_allow_destructive(server: Any, tmp_path: Path) -> None:
    from tests.serverutil import seed_variable, variable_body

    labels = {
        label: {'target_type': 'version', 'version': None, 'serialized_value': json.dumps(value)}
        for label, value in (('production', 'Hi'), ('canary', 'Hey'))
    }
    seed_variable(
        server.url, server.write_key, variable_body('banner_text', labels=labels, rollout={'production': 1.0})
    )
    template = tmp_path / 'template.json'
    template.write_text(run('vars_build_config'))
    target = {'base_url': server.url, 'api_key': server.write_key}
    with httpx.Client(headers={'Authorization': f'bearer {server.read_key}'}, timeout=5.0) as http:

        def banner() -> Any:
            return http.get(f'{server.url}/v1/variables/').json()['variables']['banner_text']

        before = banner()
        plan = run('vars_push_config', '-i', str(template), '--dry-run', **target)
        assert "  ~ banner_text\n    - label 'production': version 1\n    - label 'canary': version 2\n" in plan
        assert "DESTRUCTIVE: removes label 'production', which the rollout serves" in plan
        assert plan.rstrip().endswith('Dry run mode - no changes applied.')

        refused = manage('vars_push_config', '-i', str(template), '--yes', env=env_for(server))
        assert refused.returncode == 1
        assert refused.stderr.startswith(
            'Error: Refusing to apply destructive changes without --allow-destructive: banner_text: removes label '
            "'production'"
        )
        assert refused.stderr.count('\n') == 1 and 'Error' not in refused.stdout
        with pytest.raises(CommandError, match='--allow-destructive') as raised:
            run('vars_push_config', '-i', str(template), '--yes', **target)
        assert raised.value.returncode == 1
        assert banner() == before and server_names(server) == ['banner_text']

        applied = run('vars_push_config', '-i', str(template), '--yes', '--allow-destructive', **target)
        assert 'Done! Variables pushed successfully.' in applied
        assert banner()['labels'] == {} and banner()['rollout'] == {'labels': {}}

    # --strict: the file's values against the project's types (max_items is an int).
    config = json.loads(template.read_text())
    config['variables']['max_items']['labels'] = {'production': {'version': 1, 'serialized_value': '"lots"'}}
    template.write_text(json.dumps(config))
    with pytest.raises(CommandError, match="'max_items', label 'production', does not fit the type in code") as bad:
        run('vars_push_config', '-i', str(template), '--yes', '--strict', **target)
    assert bad.value.returncode == 1
    assert 'max_items' in server_names(server)  # created by the push above, unchanged by the refused one


# -- vars_push_types ------------------------------------------------------------------------------


def test_vars_push_types_call_command_and_subprocess(server: Any) -> None:
    target = {'base_url': server.url, 'api_key': server.write_key}
    out = run('vars_push_types', '--type', 'rv_shop.variables:AgentConfig', '--yes', **target)
    assert 'New types (1):' in out and '+ AgentConfig' in out
    assert 'Done! Variable types synced successfully.' in out

    env = env_for(server)
    again = manage('vars_push_types', '--type', 'rv_shop.variables:AgentConfig', '--yes', env=env)
    assert again.returncode == 0, again.stderr
    assert 'No changes needed. Types are up to date.' in again.stdout
    assert '+ Agent' in run('vars_push_types', '--type', 'rv_shop.variables:AgentConfig=Agent', '--dry-run', **target)

    with pytest.raises(CommandError, match='expected module:Name') as bad:
        run('vars_push_types', '--type', 'nonsense', **target)
    assert bad.value.returncode == 2


# -- vars_status ----------------------------------------------------------------------------------


def test_vars_status_call_command_and_subprocess(server: Any) -> None:
    version = seed(server, 'banner_text', 'Status')['labels']['production']['version']
    with override_settings(REMOTEVARS_BASE_URL=server.url, REMOTEVARS_API_KEY=server.read_key):
        out = run('vars_status')  # starts the client: the command needs the server
        wait_for_version('banner_text', version)
        _runtime.stop()
    assert f'Source:      remote {server.url}' in out
    assert 'State:       loaded' in out
    assert f'banner_text [str]: labels production=v{version}; rollout production 100%' in out
    assert 'max_items [int]: not in config (code default)' in out

    result = manage('vars_status', env=env_for(server, server.read_key))
    assert result.returncode == 0, result.stderr
    assert 'State:       loaded' in result.stdout
    assert f'banner_text [str]: labels production=v{version}' in result.stdout
    assert 'Connected:   yes' in result.stdout

    try:
        with override_settings(REMOTEVARS_BASE_URL=server.url), pytest.raises(CommandError, match='E001') as unusable:
            run('vars_status')
    finally:
        _runtime.stop()  # the command started the client: this test opted in
    assert unusable.value.returncode == 2


def test_vars_status_is_a_deploy_health_check(server: Any) -> None:
    """Exit 0 only when connected and loaded; a wrong key, a server that is down or a wrong URL exit 2."""
    seed(server, 'banner_text', 'Healthy')
    down = f'http://127.0.0.1:{free_port()}'
    cases = {
        'healthy': env_for(server, server.read_key),
        'wrong key': env_for(server, 'not-a-key'),
        'down': {'REMOTEVARS_BASE_URL': down, 'REMOTEVARS_API_KEY': server.read_key},
        'wrong URL': {'REMOTEVARS_BASE_URL': f'{server.url}/nope', 'REMOTEVARS_API_KEY': server.read_key},
    }
    environment = {**os.environ, **SUBPROCESS_ENV}
    environment.pop('DJANGO_SETTINGS_MODULE', None)
    processes = {
        name: subprocess.Popen(
            [sys.executable, str(PROJECT / 'manage.py'), 'vars_status', '--timeout', '3'],
            cwd=PROJECT,
            env={**environment, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, env in cases.items()
    }
    results = {}
    for name, process in processes.items():
        out, err = process.communicate(timeout=60)
        results[name] = (process.returncode, out, err)
    code, out, err = results['healthy']
    assert code == 0, err
    assert 'Update stream: yes' in out and 'Last refresh: never' not in out and 'Connected:   yes' in out
    for name in ('wrong key', 'down', 'wrong URL'):
        code, out, err = results[name]
        assert code == 2, (name, out, err)
        # One Error: line, last (the client's own log lines about the failure may come before it).
        errors = [line for line in err.splitlines() if line.startswith('Error: ')]
        assert len(errors) == 1 and err.splitlines()[-1] == errors[0], (name, err)
        assert errors[0].startswith('Error: No config loaded from '), (name, err)


def test_vars_push_types_defaults_to_the_registered_types_and_links_the_variables(server: Any) -> None:
    target = {'base_url': server.url, 'api_key': server.write_key}
    run('vars_push', '--yes', **target)
    plan = run('vars_push_types', '--dry-run', **target)
    assert '=== Variables to link to their type (type_name) ===\n  ~ agent_config -> AgentConfig' in plan
    out = run('vars_push_types', '--yes', **target)
    assert 'Linked agent_config to type AgentConfig' in out
    headers = {'Authorization': f'bearer {server.read_key}'}
    types = httpx.get(f'{server.url}/v1/variable-types/', headers=headers, timeout=5.0).json()
    names = {
        t['name'] for t in (types if isinstance(types, list) else types.get('types', types.get('variable_types', [])))
    }
    assert names == {'AgentConfig'}  # str, int... are not reusable types
    variable = httpx.get(f'{server.url}/v1/variables/agent_config/', headers=headers, timeout=5.0).json()
    assert variable['type_name'] == 'AgentConfig'
    assert 'No changes needed. Types are up to date.' in run('vars_push_types', '--yes', **target)
