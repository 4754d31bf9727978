"""``flask vars ...`` through ``app.test_cli_runner()`` against the real server on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip('flask')

from click.testing import CliRunner
from flask import Flask
from flasktests_util import variable_config, write_config

import remotevars
from remotevars._api import ApiClient
from remotevars.cli import main as core_main
from tests.serverutil import RunningServer, free_port, running_server, seed_variable, variable_body

MakeApp = Callable[..., Flask]
COMMANDS = ('push', 'push-types', 'validate', 'pull', 'push-config', 'build-config')


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / 'vars.sqlite') as srv:
        yield srv


@pytest.fixture
def app(server: RunningServer, make_app: MakeApp) -> Flask:
    """The demo app reading from the server with the read key (writes pass --api-key)."""
    return make_app({'REMOTEVARS_BASE_URL': server.url, 'REMOTEVARS_API_KEY': server.read_key})


def _server_config(server: RunningServer) -> remotevars.VariablesConfig:
    with ApiClient(server.url, server.read_key) as api:
        return api.list_variables()


def test_push_validate_and_dry_run(app: Flask, server: RunningServer) -> None:
    runner = app.test_cli_runner()
    refused = runner.invoke(args=['vars', 'push', '--api-key', server.write_key])
    assert refused.exit_code == 1
    assert 'Variables to CREATE' in refused.stdout
    assert refused.stderr.startswith('Error: Refusing to apply changes without confirmation')
    assert refused.stderr.count('\n') == 1

    pushed = runner.invoke(args=['vars', 'push', '--yes', '--api-key', server.write_key])
    assert pushed.exit_code == 0, pushed.output
    assert 'Done! Variables synced successfully.' in pushed.stdout
    on_server = _server_config(server).variables
    assert {'demo_banner', 'demo_limit', 'demo_rollout', 'demo_tier'} <= on_server.keys()
    assert on_server['demo_banner'].description == 'The banner text.'

    again = runner.invoke(args=['vars', 'push', '--dry-run', '--api-key', server.write_key])
    assert (again.exit_code, again.stderr) == (0, '')
    assert 'No changes needed' in again.stdout

    valid = runner.invoke(args=['vars', 'validate'])
    assert valid.exit_code == 0, valid.output
    seed_variable(server.url, server.write_key, variable_body('demo_limit', 'not a number'))
    invalid = runner.invoke(args=['vars', 'validate'])
    assert invalid.exit_code == 1
    assert 'demo_limit' in invalid.stdout
    assert invalid.stderr == 'Error: Validation failed: 1 issue(s) found (see above).\n'


def test_pull_build_config_and_push_config(app: Flask, server: RunningServer, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    built = runner.invoke(args=['vars', 'build-config'])
    assert built.exit_code == 0, built.output
    config = remotevars.VariablesConfig.model_validate_json(built.stdout)
    assert config.variables['demo_limit'].example == '10'

    source = write_config(tmp_path / 'push.json', variable_config('demo_banner', {'prod': 'from file'}))
    pushed = runner.invoke(args=['vars', 'push-config', '-i', str(source), '--yes', '--api-key', server.write_key])
    assert pushed.exit_code == 0, pushed.output
    assert _server_config(server).variables['demo_banner'].rollout.labels == {'prod': 1.0}

    output = tmp_path / 'pulled.json'
    pulled = runner.invoke(args=['vars', 'pull', '-o', str(output)])
    assert pulled.exit_code == 0, pulled.output
    labels = json.loads(output.read_text())['variables']['demo_banner']['labels']
    assert json.loads(labels['prod']['serialized_value']) == 'from file'


def test_push_config_of_a_template_needs_allow_destructive(app: Flask, server: RunningServer, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    served = variable_config('demo_banner', {'production': 'Hi', 'canary': 'Hey'}, rollout={'production': 1.0})
    seed = write_config(tmp_path / 'served.json', served)
    seeded = runner.invoke(args=['vars', 'push-config', '-i', str(seed), '--yes', '--api-key', server.write_key])
    assert seeded.exit_code == 0, seeded.output
    template = tmp_path / 'template.json'
    assert runner.invoke(args=['vars', 'build-config', '-o', str(template)]).exit_code == 0
    before = _server_config(server)
    push = ['vars', 'push-config', '-i', str(template), '--api-key', server.write_key]

    dry = runner.invoke(args=[*push, '--dry-run'])
    assert (dry.exit_code, dry.stderr) == (0, '')
    assert "  ~ demo_banner\n    - label 'production': version 1\n    - label 'canary': version 2\n" in dry.stdout
    assert "DESTRUCTIVE: removes label 'production', which the rollout serves" in dry.stdout

    refused = runner.invoke(args=[*push, '--yes'])
    assert refused.exit_code == 1
    assert refused.stderr.startswith(
        'Error: Refusing to apply destructive changes without --allow-destructive: demo_banner: removes label '
        "'production'"
    )
    assert refused.stderr.count('\n') == 1 and 'Error' not in refused.stdout
    assert _server_config(server) == before

    applied = runner.invoke(args=[*push, '--yes', '--allow-destructive'])
    assert applied.exit_code == 0, applied.output
    assert _server_config(server).variables['demo_banner'].labels == {}

    # --strict checks the file against the app's variables: demo_limit is an int.
    bad = write_config(tmp_path / 'bad.json', variable_config('demo_limit', {'production': 'many'}))
    strict = runner.invoke(
        args=['vars', 'push-config', '-i', str(bad), '--strict', '--yes', '--api-key', server.write_key]
    )
    assert strict.exit_code == 1
    assert strict.stderr.startswith("Error: 'demo_limit', label 'production', does not fit the type in code: ")
    assert _server_config(server).variables['demo_limit'].labels == {}


def test_push_types(app: Flask, server: RunningServer) -> None:
    result = app.test_cli_runner().invoke(
        args=['vars', 'push-types', '--type', 'flaskdemo:DemoSettings', '--yes', '--api-key', server.write_key]
    )
    assert result.exit_code == 0, result.output
    with ApiClient(server.url, server.read_key) as api:
        assert 'DemoSettings' in api.list_variable_types()


def test_status_reports_the_app_client(make_app: MakeApp, server: RunningServer) -> None:
    seed_variable(server.url, server.write_key, variable_body('demo_banner', 'from server'))
    app = make_app({'REMOTEVARS_BASE_URL': server.url, 'REMOTEVARS_API_KEY': server.read_key})
    result = app.test_cli_runner().invoke(args=['vars', 'status', '--timeout', '5'])
    assert result.exit_code == 0, result.output
    assert server.url in result.stdout
    assert 'State:       loaded' in result.stdout
    assert 'demo_banner [str]: labels production=v1; rollout production 100%' in result.stdout
    assert 'demo_limit [int]: not in config (code default)' in result.stdout


def test_errors_end_with_one_line_and_the_core_exit_codes(app: Flask, server: RunningServer) -> None:
    runner = app.test_cli_runner()
    unreachable = runner.invoke(args=['vars', 'pull', '--base-url', f'http://127.0.0.1:{free_port()}'])
    assert unreachable.exit_code == 2
    assert unreachable.stderr.startswith('Error: Could not fetch the current config from the server')
    assert unreachable.stderr.count('\n') == 1
    bad_module = runner.invoke(args=['vars', 'build-config', '-m', 'no_such_module_anywhere'])
    assert bad_module.exit_code == 2
    assert "Error: Cannot import module 'no_such_module_anywhere'" in bad_module.stderr


def test_no_api_key_is_a_usage_error(make_app: MakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('REMOTEVARS_API_KEY', raising=False)
    result = make_app().test_cli_runner().invoke(args=['vars', 'pull'])
    assert result.exit_code == 2
    assert result.stderr.startswith('Error: No API key for the variables server')


def test_same_flags_and_output_as_the_core_command_line(app: Flask) -> None:
    from flask_remotevars.cli import vars_group

    for name in COMMANDS:
        ours = {tuple(p.opts) for p in vars_group.commands[name].params}
        core = {tuple(p.opts) for p in core_main.commands[name].params}
        assert ours == core, name
    ours_text = app.test_cli_runner().invoke(args=['vars', 'build-config']).stdout
    core_text = CliRunner().invoke(core_main, ['build-config', '-m', 'flaskdemo']).stdout
    assert json.loads(ours_text) == json.loads(core_text)
