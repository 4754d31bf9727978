"""The ``remotevars`` workflow subcommands through click's CliRunner and as real subprocesses."""

from __future__ import annotations

import itertools
import json
import os
import pty
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import remotevars
from remotevars._api import ApiClient
from remotevars.cli import main
from tests.serverutil import (
    RunningServer,
    ServerProcess,
    add_version,
    free_port,
    running_server,
    seed_variable,
    server_process,
    variable_body,
)

VENV_BIN = Path(sys.executable).parent
_COUNTER = itertools.count()

MODULE_SOURCE = """
from pydantic import BaseModel

import remotevars


class Feature(BaseModel):
    enabled: bool = False


limit = remotevars.var('limit', type=int, default=3, description='Max retries')
greeting = remotevars.var('greeting', type=str, default='hello')
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / 'vars.sqlite') as srv:
        yield srv


@pytest.fixture
def api(server: RunningServer) -> Iterator[ApiClient]:
    with ApiClient(server.url, server.write_key, timeout=(5.0, 5.0)) as client:
        yield client


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The name of a fresh importable module declaring ``limit`` and ``greeting`` on the default client.

    The default client's registry is emptied for the test (other suites, e.g. Django's, register variables
    on it when they start) and restored afterwards.
    """
    registry = remotevars.get_client()._registry
    saved = dict(registry)
    registry.clear()
    name = f'wf_vars_{next(_COUNTER)}'
    package = tmp_path / 'src'
    package.mkdir()
    (package / f'{name}.py').write_text(MODULE_SOURCE)
    monkeypatch.syspath_prepend(str(package))
    yield name
    sys.modules.pop(name, None)
    registry.clear()
    registry.update(saved)


def invoke(server: RunningServer, *args: str, input: str | None = None) -> Result:
    env = {'REMOTEVARS_BASE_URL': server.url, 'REMOTEVARS_API_KEY': server.write_key}
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def seed(server: RunningServer | ServerProcess, name: str, labels: dict[str, str], **fields: object) -> None:
    targets = {k: {'target_type': 'version', 'version': None, 'serialized_value': v} for k, v in labels.items()}
    seed_variable(server.url, server.write_key, variable_body(name, labels=targets, **fields))  # type: ignore[arg-type]


def test_push_yes_then_unchanged(server: RunningServer, api: ApiClient, module: str) -> None:
    result = invoke(server, 'push', '--module', module, '--yes')
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('\n=== Variables to CREATE ===\n  + limit\n    Description: Max retries\n')
    assert '\033[' not in result.stdout  # not a terminal: no colours
    assert result.stderr == ''
    assert set(api.list_variables().variables) == {'limit', 'greeting'}
    again = invoke(server, 'push', '--module', module)
    assert again.exit_code == 0
    assert again.stdout.endswith('\nNo changes needed. Provider is up to date.\n')


def test_push_without_terminal_refuses(server: RunningServer, api: ApiClient, module: str) -> None:
    result = invoke(server, 'push', '-m', module, input='y\n')
    assert result.exit_code == 1
    assert result.stderr == (
        'Error: Refusing to apply changes without confirmation: there is no terminal to ask on '
        '(pass --yes to apply, or --dry-run to preview).\n'
    )
    assert 'Refusing' not in result.stdout  # the reason is on stderr only, once
    assert api.list_variables().variables == {}
    no_input = invoke(server, 'push', '-m', module, '--no-input')
    assert no_input.exit_code == 1
    assert api.list_variables().variables == {}


def test_push_is_strict_by_default(server: RunningServer, api: ApiClient, module: str) -> None:
    seed(server, 'limit', {'prod': '"many"'}, json_schema={'type': 'string'})
    before = api.list_variables()
    refused = 'Error: Some schema changes will result in label values incompatible with the new schema. '
    for args in ((), ('--strict',), ('--dry-run',)):
        strict = invoke(server, 'push', '-m', module, '--yes', *args)
        assert strict.exit_code == 1, args
        assert strict.stderr == f'{refused}Pass --no-strict to proceed anyway.\n'
        assert 'Error' not in strict.stdout and 'strict=False' not in strict.stdout
    assert api.list_variables() == before
    dry = invoke(server, 'push', '-m', module, '--no-strict', '--dry-run')
    assert (dry.exit_code, dry.stderr) == (0, '')
    assert dry.stdout.endswith('\nDry run mode - no changes applied.\n')
    assert api.list_variables() == before
    applied = invoke(server, 'push', '-m', module, '--no-strict', '--yes')
    assert (applied.exit_code, applied.stderr) == (0, '')
    assert api.list_variables().variables['limit'].json_schema == {'type': 'integer'}


def test_usage_and_connection_errors(server: RunningServer, module: str) -> None:
    no_vars = invoke(server, 'push', '--yes')
    assert no_vars.exit_code == 2
    assert no_vars.stderr == 'Error: No variables are registered: name the modules that declare them with --module.\n'
    bad_module = invoke(server, 'push', '-m', 'no_such_module_here')
    assert bad_module.exit_code == 2
    assert "Error: Cannot import module 'no_such_module_here'" in bad_module.stderr
    closed = f'http://127.0.0.1:{free_port()}'
    down = invoke(server, 'push', '-m', module, '--yes', '--base-url', closed)
    assert down.exit_code == 2
    assert down.stderr.startswith(
        'Error: Could not fetch the current config from the server: GET /v1/variables/: ConnectError'
    )
    assert down.stdout == ''
    assert down.stderr.count('\n') == 1
    no_key = CliRunner().invoke(
        main, ['validate', '-m', module, '--base-url', server.url], env={'REMOTEVARS_API_KEY': ''}
    )
    assert no_key.exit_code == 2
    assert no_key.stderr.startswith('Error: No API key for the variables server')
    down_validate = invoke(server, 'validate', '-m', module, '--base-url', closed)
    assert down_validate.exit_code == 2
    read_only = invoke(server, 'push', '-m', module, '--yes', '--api-key', server.read_key)
    assert read_only.exit_code == 2
    assert read_only.stderr.startswith('Error: Could not apply the changes: Failed to apply bulk write:')
    assert read_only.stderr.count('\n') == 1 and 'Error applying' not in read_only.stdout
    assert '403' in read_only.stderr and server.read_key not in read_only.stderr


def test_a_server_failure_is_exit_2_for_workflow_and_admin_commands_alike(server: RunningServer, module: str) -> None:
    seed(server, 'limit', {'production': '3'})
    # Another connection holds the SQLite write lock past the server's busy timeout: writes answer 503.
    server.app.state.store._conn.execute('PRAGMA busy_timeout=50')  # test only: fail fast instead of waiting 30 s
    blocker = sqlite3.connect(server.db_path, isolation_level=None)
    blocker.execute('BEGIN IMMEDIATE')
    try:
        push = invoke(server, 'push', '-m', module, '--yes')
        admin = invoke(server, 'create-version', 'limit', '5')
    finally:
        blocker.execute('ROLLBACK')
        blocker.close()
    assert push.exit_code == 2
    assert push.stderr.startswith('Error: Could not apply the changes: Failed to apply bulk write:')
    assert '503' in push.stderr and push.stderr.count('\n') == 1
    assert admin.exit_code == 2
    assert admin.stderr.startswith('Error: POST /v1/variables/limit/versions/ returned HTTP 503')


def test_validate_clean_and_drifted(server: RunningServer, module: str) -> None:
    assert invoke(server, 'push', '-m', module, '--yes').exit_code == 0
    clean = invoke(server, 'validate', '-m', module)
    assert clean.exit_code == 0
    assert clean.stdout == '\n=== Valid (2 variables) ===\n\nValidation passed: All 2 variable(s) are valid.\n'
    seed(server, 'limit', {'prod': '"lots"'}, json_schema={'type': 'integer'}, description='Max retries')
    drifted = invoke(server, 'validate', '-m', module)
    assert drifted.exit_code == 1
    assert '  ✗ limit (label: prod)\n' in drifted.stdout
    assert drifted.stdout.endswith('\nValidation failed: 1 issue(s) found.\n')
    assert drifted.stderr == 'Error: Validation failed: 1 issue(s) found (see above).\n'


def test_build_pull_and_push_config(server: RunningServer, api: ApiClient, module: str, tmp_path: Path) -> None:
    built = tmp_path / 'built.json'
    result = invoke(server, 'build-config', '-m', module, '--output', str(built))
    assert result.exit_code == 0 and result.stdout == ''
    data = json.loads(built.read_text())
    assert data['variables']['limit']['example'] == '3'
    assert data['variables']['limit']['json_schema'] == {'type': 'integer'}
    to_stdout = invoke(server, 'build-config', '-m', module)
    assert json.loads(to_stdout.stdout) == data
    pushed = invoke(server, 'push-config', '--input', str(built), '--yes')
    assert pushed.exit_code == 0, pushed.output
    assert pushed.stdout.endswith('\nDone! Variables pushed successfully.\n')
    seed(server, 'extra', {'prod': '1'})
    pulled = tmp_path / 'pulled.json'
    assert invoke(server, 'pull', '-o', str(pulled)).exit_code == 0
    assert set(json.loads(pulled.read_text())['variables']) == {'limit', 'greeting', 'extra'}
    pulled_stdout = invoke(server, 'pull')
    assert json.loads(pulled_stdout.stdout) == json.loads(pulled.read_text())
    # Replace with the built file: 'extra' would be deleted, which needs a confirmation.
    refused = invoke(server, 'push-config', '-i', str(built), '--mode', 'replace')
    assert refused.exit_code == 1
    assert '\n=== Variables to DELETE ===\n  - extra\n' in refused.stdout
    assert 'extra' in api.list_variables().variables
    dry = invoke(server, 'push-config', '-i', str(built), '--mode', 'replace', '--dry-run')
    assert dry.exit_code == 0 and 'extra' in api.list_variables().variables
    applied = invoke(server, 'push-config', '-i', str(built), '--mode', 'replace', '--yes')
    assert applied.exit_code == 0
    assert set(api.list_variables().variables) == {'limit', 'greeting'}
    # From stdin (no terminal left to ask on) with --yes.
    piped = invoke(server, 'push-config', '--yes', input=pulled.read_text())
    assert piped.exit_code == 0
    assert 'extra' in api.list_variables().variables


def test_push_config_bad_file(server: RunningServer, tmp_path: Path) -> None:
    path = tmp_path / 'bad.json'
    path.write_text('{"variables": {"x": {"name": "y", "rollout": {"labels": {}}, "overrides": []}}}')
    result = invoke(server, 'push-config', '-i', str(path), '--yes')
    assert result.exit_code == 2
    assert 'is not a valid variables config' in result.stderr
    missing = invoke(server, 'push-config', '-i', str(tmp_path / 'nope.json'), '--yes')
    assert missing.exit_code == 2


def test_build_config_unserialisable_default(
    server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f'wf_bad_{next(_COUNTER)}'
    (tmp_path / f'{name}.py').write_text(
        'from typing import Any\nimport remotevars\nremotevars.var("opaque", type=Any, default=object())\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        result = invoke(server, 'build-config', '-m', name)
        assert result.exit_code == 1
        assert "The code default of variable 'opaque' cannot be serialised to JSON" in result.stderr
        push = invoke(server, 'push', '-m', name, '--yes')
        assert push.exit_code == 1
        assert push.stderr.startswith('Error: Some code defaults cannot be serialised to JSON; nothing was sent.')
        assert push.stderr.count('\n') == 1
    finally:
        sys.modules.pop(name, None)
        remotevars.get_client().clear()


def test_push_types_with_explicit_names(server: RunningServer, api: ApiClient, module: str) -> None:
    result = invoke(
        server, 'push-types', '--type', f'{module}:Feature', '--type', f'{module}:Feature=feature_v1', '--yes'
    )
    assert result.exit_code == 0, result.output
    assert '\nNew types (2):\n  + Feature\n  + feature_v1\n' in result.stdout
    types = api.list_variable_types()
    assert set(types) == {'Feature', 'feature_v1'}
    assert types['feature_v1'].source_hint == f'{module}.Feature'
    bad = invoke(server, 'push-types', '--type', 'nocolon')
    assert bad.exit_code == 2 and 'expected module:Name' in bad.stderr
    missing = invoke(server, 'push-types', '--type', f'{module}:Nope')
    assert missing.exit_code == 2 and 'has no attribute' in missing.stderr


# -- real subprocesses -------------------------------------------------------------------------


def subprocess_env(server: RunningServer | ServerProcess, src: Path) -> dict[str, str]:
    return {
        **os.environ,
        'REMOTEVARS_BASE_URL': server.url,
        'REMOTEVARS_API_KEY': server.write_key,
        'PYTHONPATH': str(src),
    }


def test_real_subprocess_push_and_validate(server: RunningServer, tmp_path: Path) -> None:
    src = tmp_path / 'src'
    src.mkdir()
    (src / 'proj_vars.py').write_text(MODULE_SOURCE)
    env = subprocess_env(server, src)
    exe = str(VENV_BIN / 'remotevars')
    push = subprocess.run(
        [exe, 'push', '--module', 'proj_vars', '--yes'],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert push.returncode == 0, push.stderr
    assert 'Done! Variables synced successfully.' in push.stdout
    seed(server, 'greeting', {'prod': '42'}, json_schema={'type': 'string'})
    add_version(server.url, server.write_key, 'greeting', '[1]')
    validate = subprocess.run(
        [exe, 'validate', '-m', 'proj_vars'], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert validate.returncode == 1
    assert '  ✗ greeting (label: prod)\n' in validate.stdout
    assert '  ✗ greeting (label: latest)\n' in validate.stdout
    assert validate.stderr == 'Error: Validation failed: 1 issue(s) found (see above).\n'


def test_real_terminal_prompt(server: RunningServer, api: ApiClient, tmp_path: Path) -> None:
    # stdin is a pseudo-terminal: the command asks there, and 'y' applies the replace.
    seed(server, 'keep', {'prod': '1'})
    seed(server, 'gone', {'prod': '2'})
    config = api.list_variables()
    del config.variables['gone']
    path = tmp_path / 'keep.json'
    path.write_text(config.model_dump_json())
    master, slave = pty.openpty()
    try:
        os.write(master, b'y\n')
        proc = subprocess.run(
            [str(VENV_BIN / 'remotevars'), 'push-config', '-i', str(path), '--mode', 'replace'],
            env=subprocess_env(server, tmp_path),
            stdin=slave,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0, proc.stderr
    assert '  - gone\n' in proc.stdout
    assert '\nApply these changes? [y/N] \nApplying changes...\n' in proc.stdout
    assert set(api.list_variables().variables) == {'keep'}


# -- destructive changes (issue 12): a real `remotevars serve` and the real command line ----------------


def test_push_config_of_a_template_over_served_labels(tmp_path: Path) -> None:
    """The acceptance path: dry run shows each removed label and DESTRUCTIVE; --yes alone exits 1 and changes
    nothing; --allow-destructive --yes applies. Every step is a `remotevars` process against `remotevars serve`."""
    src = tmp_path / 'src'
    src.mkdir()
    (src / 'acc_vars.py').write_text(MODULE_SOURCE)
    with server_process(tmp_path / 'vars.sqlite') as served:
        env = subprocess_env(served, src)

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(VENV_BIN / 'remotevars'), *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                stdin=subprocess.DEVNULL,
            )

        template = tmp_path / 'template.json'
        assert cli('build-config', '-m', 'acc_vars', '-o', str(template)).returncode == 0
        no_module = cli('push-config', '-i', str(template), '--strict', '--dry-run')
        assert no_module.returncode == 2
        assert no_module.stderr == (
            'Error: No variables are registered: name the modules that declare them with --module.\n'
        )
        seed(served, 'greeting', {'production': '"hi"', 'canary': '"hey"'}, rollout={'production': 1.0})
        with ApiClient(served.url, served.write_key) as api:
            before = api.list_variables()

            dry = cli('push-config', '-i', str(template), '--dry-run')
            assert (dry.returncode, dry.stderr) == (0, '')
            # The reference's lines, then the field-level changes.
            assert dry.stdout.startswith('\n=== Variables to CREATE ===\n  + limit\n    Description: Max retries\n')
            assert '\n=== Variables to UPDATE ===\n  ~ greeting\n' in dry.stdout
            assert (
                '\n=== Field-level changes ===\n'
                '  ~ greeting\n'
                "    - label 'production': version 1\n"
                "    - label 'canary': version 2\n"
                '    ~ rollout: production=1 -> code default=1\n'
            ) in dry.stdout
            assert "    DESTRUCTIVE: removes label 'production', which the rollout serves\n" in dry.stdout
            assert 'applying them with --yes also needs --allow-destructive.' in dry.stdout
            assert api.list_variables() == before

            refused = cli('push-config', '-i', str(template), '--yes')
            assert refused.returncode == 1
            assert refused.stderr == (
                'Error: Refusing to apply destructive changes without --allow-destructive: greeting: removes label '
                "'production', which the rollout serves (and 1 more, see above). Nothing was changed.\n"
            )
            assert 'Error' not in refused.stdout and 'DESTRUCTIVE' in refused.stdout
            assert api.list_variables() == before  # nothing changed, not even the variable to create

            applied = cli('push-config', '-i', str(template), '--allow-destructive', '--yes')
            assert (applied.returncode, applied.stderr) == (0, '')
            assert applied.stdout.endswith('\nDone! Variables pushed successfully.\n')
            after = api.list_variables().variables
            assert after['greeting'].labels == {} and after['greeting'].rollout.labels == {}
            assert 'limit' in after


def test_destructive_replace_and_strict_through_the_command_line(
    server: RunningServer, api: ApiClient, module: str, tmp_path: Path
) -> None:
    seed(server, 'served', {'prod': '1'}, rollout={'prod': 1.0})
    config = tmp_path / 'empty.json'
    config.write_text(
        json.dumps({'variables': {'limit': {'name': 'limit', 'rollout': {'labels': {}}, 'overrides': []}}})
    )
    # --mode replace deletes a variable that serves values: destructive.
    refused = invoke(server, 'push-config', '-i', str(config), '--mode', 'replace', '--yes')
    assert refused.exit_code == 1
    assert refused.stderr.startswith(
        "Error: Refusing to apply destructive changes without --allow-destructive: served: deletes 'served'"
    )
    assert refused.stderr.count('\n') == 1
    assert set(api.list_variables().variables) == {'served'}
    # --allow-destructive alone never skips the question: without a terminal it refuses, naming both flags.
    no_yes = invoke(server, 'push-config', '-i', str(config), '--mode', 'replace', '--allow-destructive')
    assert no_yes.exit_code == 1
    assert '(pass --yes and --allow-destructive to apply them, or --dry-run to preview)' in no_yes.stderr
    applied = invoke(server, 'push-config', '-i', str(config), '--mode', 'replace', '--yes', '--allow-destructive')
    assert applied.exit_code == 0, applied.output
    assert set(api.list_variables().variables) == {'limit'}

    bad = tmp_path / 'bad.json'
    bad.write_text(
        json.dumps(
            {
                'variables': {
                    'limit': {
                        'name': 'limit',
                        'labels': {'production': {'version': 1, 'serialized_value': '"lots"'}},
                        'rollout': {'labels': {'production': 1.0}},
                        'overrides': [],
                    }
                }
            }
        )
    )
    strict = invoke(server, 'push-config', '-i', str(bad), '--strict', '-m', module, '--yes')
    assert strict.exit_code == 1
    assert strict.stderr.startswith(
        "Error: 'limit', label 'production', does not fit the type in code: 1 validation error for int: "
    )
    assert strict.stderr.count('\n') == 1 and 'Error' not in strict.stdout
    assert '  ✗ limit (label: production)\n' in strict.stdout
    assert api.list_variables().variables['limit'].labels == {}
    # Without --strict the file is pushed as it is (the server has no schema for limit to check against).
    assert invoke(server, 'push-config', '-i', str(bad), '--yes').exit_code == 0


def test_real_terminal_prompt_says_what_is_destructive(server: RunningServer, api: ApiClient, tmp_path: Path) -> None:
    seed(server, 'banner', {'production': '"hi"'}, rollout={'production': 1.0})
    path = tmp_path / 'template.json'
    path.write_text(
        json.dumps({'variables': {'banner': {'name': 'banner', 'rollout': {'labels': {}}, 'overrides': []}}})
    )
    master, slave = pty.openpty()
    try:
        os.write(master, b'n\n')
        proc = subprocess.run(
            [str(VENV_BIN / 'remotevars'), 'push-config', '-i', str(path)],
            env=subprocess_env(server, tmp_path),
            stdin=slave,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 1
    assert proc.stdout.endswith(
        '\nThis plan has 2 destructive changes, which take traffic away from what is served:\n'
        "  banner: removes label 'production', which the rollout serves\n"
        '  banner: sends 100% of the rollout to the code default (was 0%)\n'
        '\nApply these changes? [y/N] '
    )
    assert proc.stderr == 'Error: Aborted at the confirmation prompt: nothing was changed.\n'
    assert 'production' in api.list_variables().variables['banner'].labels
