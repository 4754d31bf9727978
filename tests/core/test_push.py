"""The push / validate / config workflow functions against the real server on 127.0.0.1."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import remotevars
from remotevars._api import ApiClient
from remotevars._errors import BulkWriteUnsupported
from remotevars.config import LabeledValue, VariableConfig, VariablesConfig
from tests import serverutil
from tests.serverutil import RunningServer, free_port, running_server, seed_variable, variable_body

URL_LINE = 'For further information visit'


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / 'vars.sqlite') as srv:
        yield srv


@pytest.fixture
def api(server: RunningServer) -> Iterator[ApiClient]:
    with ApiClient(server.url, server.write_key, timeout=(5.0, 5.0)) as client:
        yield client


def plain(text: str) -> str:
    return '\n'.join(line for line in text.split('\n') if URL_LINE not in line)


def answers(*replies: str) -> tuple[Callable[[str], str], list[str]]:
    """An input function that answers in turn and records the prompts it was shown."""
    prompts: list[str] = []
    queue = list(replies)

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        if not queue:
            raise EOFError
        return queue.pop(0)

    return ask, prompts


def seed(server: RunningServer, name: str, labels: dict[str, str] | None = None, **fields: Any) -> None:
    """Seed a variable whose labels map to JSON texts (each label becomes a version)."""
    targets = {
        label: {'target_type': 'version', 'version': None, 'serialized_value': value}
        for label, value in (labels or {}).items()
    }
    seed_variable(server.url, server.write_key, variable_body(name, labels=targets, **fields))


def add_version(server: RunningServer, name: str, serialized_value: str) -> None:
    serverutil.add_version(server.url, server.write_key, name, serialized_value)


def run_push(api: ApiClient, variables: Sequence[remotevars.Variable[Any]], **kwargs: Any) -> tuple[bool, str]:
    out = io.StringIO()
    result = remotevars.variables_push(variables, api=api, file=out, colors=False, **kwargs)
    return result, out.getvalue()


# -- push --------------------------------------------------------------------------------------


def test_create_then_unchanged(api: ApiClient, client: remotevars.Client) -> None:
    flag = client.var('flag', type=bool, default=True, description='A flag')
    ok, out = run_push(api, [flag], yes=True)
    assert ok
    # A created variable without labels has no field-level lines beyond the CREATE block.
    assert out == (
        '\n=== Variables to CREATE ===\n'
        '  + flag\n'
        '    Description: A flag\n'
        '    Example value: true\n'
        '\nApplying changes...\n'
        '  Created: flag\n'
        '\nDone! Variables synced successfully.\n'
    )
    stored = api.list_variables().variables['flag']
    assert stored.json_schema == {'type': 'boolean'}
    assert stored.example == 'true'
    assert stored.description == 'A flag'
    ok, out = run_push(api, [flag], yes=True)
    assert not ok
    assert out == (
        '\n=== No changes needed (1 variables) ===\n    flag\n\nNo changes needed. Provider is up to date.\n'
    )
    coloured = io.StringIO()
    assert not remotevars.variables_push([flag], api=api, file=coloured, colors=True)
    assert coloured.getvalue() == (
        '\n\033[90m=== No changes needed (1 variables) ===\033[0m\n  \033[90m  flag\033[0m\n'
        '\n\033[32mNo changes needed. Provider is up to date.\033[0m\n'
    )


def test_appendix_a_flow_line_for_line(server: RunningServer, api: ApiClient, client: remotevars.Client) -> None:
    seed(server, 'changed', {'prod': '"str"'}, json_schema={'type': 'string'}, description='server desc')
    seed(server, 'same', {'v1': '"bad"'}, json_schema={'type': 'integer'})
    seed(server, 'orphan')
    local: list[remotevars.Variable[Any]] = [
        client.var('changed', type=int, default=1, description='local desc'),
        client.var('same', type=int, default=2),
        client.var('newvar', type=str, default='hello', description='A new one'),
        client.var('fnvar', type=int, default=lambda key, attributes: 1),
    ]
    ok, out = run_push(api, local, yes=True, strict=False)  # the appendix shows the non-strict path
    assert ok
    error = (
        '1 validation error for int\n'
        "  Input should be a valid integer, unable to parse string as an integer [type=int_parsing, input_value='{}', "
        'input_type=str]'
    )
    assert plain(out) == (
        '\n=== Variables to CREATE ===\n'
        '  + newvar\n'
        '    Description: A new one\n'
        '    Example value: "hello"\n'
        '  + fnvar\n'
        '    (No example value - default is a function)\n'
        '\n=== Variables to UPDATE (schema changed) ===\n'
        '  ~ changed (value schema + description)\n'
        '    Warning: Incompatible label values:\n'
        f'      - prod: {error.format("str")}\n'
        # Our server always derives a latest version (the appendix's fake server had none for 'changed').
        f'      - latest: {error.format("str")}\n'
        '\n=== No changes needed (1 variables) ===\n'
        '    same\n'
        '\n=== Validation warnings (schema unchanged) ===\n'
        '  ⚠ same\n'
        '    Incompatible label values:\n'
        f'      - v1: {error.format("bad")}\n'
        f'      - latest: {error.format("bad")}\n'
        '\n=== Server-only variables (not in local code) ===\n'
        '  ? orphan\n'
        '\n=== Description differences (informational) ===\n'
        'Note: Different descriptions may be intentional for different codebases.\n'
        '  ! changed\n'
        '    Local:  local desc\n'
        '    Server: server desc\n'
        # remotevars: each change field by field, after the reference's lines (never destructive for a push).
        '\n=== Field-level changes ===\n'
        '  ~ changed\n'
        '    ~ schema changed\n'
        "    ~ description: 'server desc' -> 'local desc'\n"
        '\nWarning: Some existing label values are incompatible with the variable types, and some schema changes '
        'will make additional values incompatible.\n'
        '\nApplying changes...\n'
        '  Updated schema: changed\n'
        '  Created: newvar\n'
        '  Created: fnvar\n'
        '\nDone — changes applied, but with warnings above (see the Reference errors / incompatible label sections).\n'
    )
    after = api.list_variables().variables
    assert after['changed'].json_schema == {'type': 'integer'}
    assert after['changed'].description == 'local desc'
    assert after['fnvar'].example is None
    assert after['newvar'].example == '"hello"'


def test_schema_update_keeps_labels_aliases_example(
    server: RunningServer, api: ApiClient, client: remotevars.Client
) -> None:
    body = variable_body(
        'limit',
        labels={'prod': {'target_type': 'version', 'version': None, 'serialized_value': '5'}},
        rollout={'prod': 1.0},
        json_schema={'type': 'string'},
    )
    body.update(aliases=['old_limit'], example='"7"')
    seed_variable(server.url, server.write_key, body)
    before = api.list_variables().variables['limit']
    limit = client.var('limit', type=int, default=3)
    ok, out = run_push(api, [limit], yes=True)
    assert ok, out
    assert '  ~ limit (value schema)\n' in out
    assert '  Updated schema: limit\n' in out
    assert '\nDone! Variables synced successfully.\n' in out
    after = api.list_variables().variables['limit']
    assert after.json_schema == {'type': 'integer'}
    assert after.aliases == ['old_limit']
    assert after.example == '"7"'
    assert after.labels == before.labels
    assert after.latest_version == before.latest_version  # no new version was created
    assert after.rollout == before.rollout


def test_push_is_strict_by_default(server: RunningServer, api: ApiClient, client: remotevars.Client) -> None:
    # Issue 15's repro: the server holds "not_an_int"; Logfire 5.4.0 returns False and changes nothing.
    seed(server, 'limit', {'production': '"not_an_int"'}, json_schema={'type': 'string'})
    before = api.list_variables()
    limit = client.var('limit', type=int, default=0)
    ok, out = run_push(api, [limit], yes=True)
    assert not ok
    assert out.endswith('Set strict=False to proceed anyway.\n')
    assert api.list_variables() == before
    assert remotevars.variables_push([limit], api=api, yes=True, strict=False, file=io.StringIO())
    assert api.list_variables().variables['limit'].json_schema == {'type': 'integer'}


def test_strict_refuses_and_changes_nothing(server: RunningServer, api: ApiClient, client: remotevars.Client) -> None:
    seed(server, 'n', {'prod': '"text"'}, json_schema={'type': 'string'})
    before = api.list_variables()
    n = client.var('n', type=int, default=1)
    ok, out = run_push(api, [n], yes=True, strict=True)
    assert not ok
    assert out.endswith(
        '\nError: Some schema changes will result in label values incompatible with the new schema.\n'
        'Set strict=False to proceed anyway.\n'
    )
    assert 'Applying changes' not in out
    assert api.list_variables() == before


def test_dry_run_changes_nothing(server: RunningServer, api: ApiClient, client: remotevars.Client) -> None:
    seed(server, 'n', {'prod': '1'}, json_schema={'type': 'string'})
    before = api.list_variables()
    variables: list[remotevars.Variable[Any]] = [
        client.var('n', type=int, default=1),
        client.var('fresh', type=str, default='x'),
    ]
    ok, out = run_push(api, variables, dry_run=True)
    assert ok
    assert out.endswith('\nDry run mode - no changes applied.\n')
    assert api.list_variables() == before


def test_prompt_answers(api: ApiClient, client: remotevars.Client) -> None:
    v = client.var('v', type=int, default=1)
    ask, prompts = answers('n')
    ok, out = run_push(api, [v], input_fn=ask)
    assert not ok
    assert prompts == ['Apply these changes? [y/N] ']
    assert out.endswith('\n\nAborted.\n')
    assert api.list_variables().variables == {}
    ask, _ = answers()  # EOF
    ok, out = run_push(api, [v], input_fn=ask)
    assert not ok and out.endswith('\n\n\nAborted.\n')
    ask, _ = answers(' YES ')
    ok, out = run_push(api, [v], input_fn=ask)
    assert ok and 'Created: v' in out
    assert 'v' in api.list_variables().variables


def test_no_terminal_refuses_instead_of_hanging(api: ApiClient, client: remotevars.Client) -> None:
    # pytest's stdin is not a terminal: without yes=True and without an input function, push refuses.
    v = client.var('v', type=int, default=1)
    ok, out = run_push(api, [v])
    assert not ok
    assert out.rstrip('\n').split('\n')[-1].startswith('Refusing to apply changes without confirmation')
    assert api.list_variables().variables == {}


def test_unserialisable_default_sends_nothing(api: ApiClient, client: remotevars.Client) -> None:
    class Opaque:
        pass

    good = client.var('good', type=int, default=1)
    bad = client.var('bad', type=Any, default=Opaque())
    ok, out = run_push(api, [good, bad], yes=True)
    assert not ok
    assert "The code default of variable 'bad' cannot be serialised to JSON" in out
    assert out.endswith('\nError: some code defaults cannot be serialised to JSON (see above); nothing was sent.\n')
    assert api.list_variables().variables == {}


def test_alias_counts_as_the_same_variable(server: RunningServer, api: ApiClient, client: remotevars.Client) -> None:
    body = variable_body('new_name', json_schema={'type': 'integer'})
    body['aliases'] = ['old_name']
    seed_variable(server.url, server.write_key, body)
    old = client.var('old_name', type=int, default=1)
    ok, out = run_push(api, [old], yes=True)
    assert not ok
    assert '\n=== No changes needed (1 variables) ===\n    old_name\n' in out
    assert 'CREATE' not in out and 'Server-only' not in out
    report = remotevars.variables_validate([old], api=api)
    assert report.is_valid and report.variables_not_on_server == []


def test_description_update(server: RunningServer, api: ApiClient, client: remotevars.Client) -> None:
    seed(server, 'd', json_schema={'type': 'integer'}, description='old')
    d = client.var('d', type=int, default=1, description='new')
    ok, out = run_push(api, [d], yes=True)
    assert ok
    assert '  ~ d (description)\n' in out
    assert '  Updated description: d\n' in out
    assert api.list_variables().variables['d'].description == 'new'


def test_env_variables_locate_the_server(
    server: RunningServer, client: remotevars.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('REMOTEVARS_BASE_URL', server.url)
    monkeypatch.setenv('REMOTEVARS_API_KEY', server.write_key)
    client.var('from_env', type=int, default=1)
    out = io.StringIO()
    assert remotevars.variables_push(client=client, yes=True, file=out, colors=False)
    assert 'from_env' in remotevars.variables_pull_config(client=client).variables


def test_unreachable_server(client: remotevars.Client) -> None:
    v = client.var('v', type=int, default=1)
    out = io.StringIO()
    url = f'http://127.0.0.1:{free_port()}'
    assert not remotevars.variables_push([v], base_url=url, api_key='k', yes=True, file=out, colors=False)
    assert out.getvalue().startswith('Error fetching current config: GET /v1/variables/: ConnectError')
    with pytest.raises(remotevars.RemoteVarsError):
        remotevars.variables_validate([v], base_url=url, api_key='k')


def test_no_variables(api: ApiClient) -> None:
    out = io.StringIO()
    assert not remotevars.variables_push([], api=api, file=out)
    assert out.getvalue() == 'No variables to push. Create variables using remotevars.var() first.\n'
    assert remotevars.variables_validate([], api=api).variables_checked == 0


# -- validate ----------------------------------------------------------------------------------


def test_validate_clean_then_drifted(server: RunningServer, api: ApiClient, client: remotevars.Client) -> None:
    limit = client.var('limit', type=int, default=1, description='d')
    run_push(api, [limit], yes=True)
    seed(server, 'limit', {'prod': '5'}, json_schema={'type': 'integer'}, description='d')
    report = remotevars.variables_validate([limit], api=api)
    assert report.is_valid
    assert report.format(colors=False) == (
        '\n=== Valid (1 variables) ===\n\nValidation passed: All 1 variable(s) are valid.'
    )
    add_version(server, 'limit', '"not a number"')
    report = remotevars.variables_validate([limit], api=api)
    assert report.has_errors
    assert [(e.variable_name, e.label) for e in report.errors] == [('limit', 'latest')]
    text = report.format(colors=False)
    assert text.startswith('\n=== Validation Errors ===\n  ✗ limit (label: latest)\n      1 validation error for int\n')
    assert text.endswith('\nValidation failed: 1 issue(s) found.')


# -- push types --------------------------------------------------------------------------------


class FeatureConfig(BaseModel):
    enabled: bool = False


class FeatureConfigV2(BaseModel):
    enabled: bool = False
    retries: int = 3


def test_push_types_explicit_names_and_updates(server: RunningServer, api: ApiClient) -> None:
    out = io.StringIO()
    ok = remotevars.variables_push_types([FeatureConfig, (int, 'my_int')], api=api, yes=True, file=out, colors=False)
    assert ok
    assert out.getvalue() == (
        '\nVariable Types Push Summary\n'
        '========================================\n'
        '\nNew types (2):\n'
        '  + FeatureConfig\n'
        '  + my_int\n'
        '\nApplying changes...\n'
        '\nDone! Variable types synced successfully.\n'
    )
    types = api.list_variable_types()
    assert set(types) == {'FeatureConfig', 'my_int'}
    assert types['my_int'].json_schema == {'type': 'integer'}
    assert types['FeatureConfig'].source_hint == f'{__name__}.FeatureConfig'
    # A description written on the server survives a schema update.
    api.upsert_variable_type(types['FeatureConfig'].model_copy(update={'description': 'from the UI'}))
    # A variable of that type with a value the new schema rejects.
    body = variable_body('f', labels={'v1': {'target_type': 'version', 'version': None, 'serialized_value': '"nope"'}})
    body['type_name'] = 'FeatureConfig'
    seed_variable(server.url, server.write_key, body)
    out = io.StringIO()
    pairs = [(FeatureConfigV2, 'FeatureConfig'), (int, 'my_int')]
    assert not remotevars.variables_push_types(pairs, api=api, yes=True, strict=True, file=out, colors=False)
    assert "    ⚠ Variable 'f', label 'v1': 1 validation error for FeatureConfigV2\n" in out.getvalue()
    assert out.getvalue().endswith(
        '\nError: Some existing label values are incompatible with the new type schema.\n'
        'Set strict=False to proceed anyway.\n'
    )
    assert api.list_variable_types()['FeatureConfig'].json_schema == FeatureConfig.model_json_schema()
    out = io.StringIO()
    assert remotevars.variables_push_types(pairs, api=api, yes=True, strict=False, file=out, colors=False)
    text = plain(out.getvalue())
    assert '\nSchema updates (1):\n  ~ FeatureConfig\n\nUnchanged (1):\n  = my_int\n' in text
    assert '\nWarning: Some existing label values are incompatible with the new type schema.\n' in text
    after = api.list_variable_types()['FeatureConfig']
    assert after.json_schema == FeatureConfigV2.model_json_schema()
    assert after.description == 'from the UI'
    out = io.StringIO()
    assert not remotevars.variables_push_types(pairs, api=api, yes=True, file=out, colors=False)
    assert out.getvalue().endswith('\nNo changes needed. Types are up to date.\n')


# -- pull / push config ------------------------------------------------------------------------


def push_config(api: ApiClient, config: VariablesConfig, **kwargs: Any) -> tuple[bool, str]:
    out = io.StringIO()
    result = remotevars.variables_push_config(config, api=api, file=out, colors=False, **kwargs)
    return result, out.getvalue()


def test_pull_edit_push_round_trip(server: RunningServer, api: ApiClient, tmp_path: Path) -> None:
    seed(server, 'greeting', {'prod': '"hi"', 'stg': '"hey"'}, rollout={'prod': 0.5, 'stg': 0.5})
    pulled = remotevars.variables_pull_config(api=api)
    path = tmp_path / 'vars.json'
    path.write_text(pulled.model_dump_json(indent=2))
    # Unchanged file: nothing to do, no new versions.
    ok, out = push_config(api, VariablesConfig.model_validate_json(path.read_text()), yes=True)
    assert not ok
    assert (
        out == '\n=== No changes needed (1 variables) ===\n    greeting\n\nNo changes needed. Provider is up to date.\n'
    )
    # Edit: a new value for stg and a different split.
    data = json.loads(path.read_text())
    data['variables']['greeting']['labels']['stg'] = {'version': 99, 'serialized_value': '"hello"'}
    data['variables']['greeting']['rollout']['labels'] = {'prod': 0.9, 'stg': 0.1}
    path.write_text(json.dumps(data))
    ok, out = push_config(api, VariablesConfig.model_validate_json(path.read_text()), yes=True)
    assert ok
    assert out == (
        '\n=== Variables to UPDATE ===\n  ~ greeting\n'
        '\n=== Field-level changes ===\n'
        '  ~ greeting\n'
        # The file's version 99 is a request: the server stores the new value as the next version.
        """    ~ label 'stg': version 2 -> new version "hello"\n"""
        '    ~ rollout: prod=0.5, stg=0.5 -> prod=0.9, stg=0.1\n'
        '\nApplying changes...\n\nDone! Variables pushed successfully.\n'
    )
    after = api.list_variables().variables['greeting']
    assert after.rollout.labels == {'prod': 0.9, 'stg': 0.1}
    assert after.labels['prod'] == pulled.variables['greeting'].labels['prod']  # same version kept
    stg = after.labels['stg']
    assert isinstance(stg, LabeledValue) and stg.serialized_value == '"hello"'
    assert after.latest_version is not None and after.latest_version.version == 3  # one new version only


def test_pull_returns_a_fresh_copy(server: RunningServer, api: ApiClient) -> None:
    seed(server, 'x', {'prod': '1'})
    first = remotevars.variables_pull_config(api=api)
    first.variables.clear()
    assert 'x' in remotevars.variables_pull_config(api=api).variables


def test_merge_precedence(server: RunningServer, api: ApiClient, client: remotevars.Client) -> None:
    seed(server, 'shared', {'prod': '1'}, rollout={'prod': 1.0}, description='server')
    seed(server, 'server_only', {'prod': '2'})
    local = remotevars.variables_build_config(
        [client.var('shared', type=int, default=5, description='local'), client.var('extra', type=str, default='e')]
    )
    merged = remotevars.variables_pull_config(api=api).merge(local)
    assert merged.variables['shared'].description == 'local'  # other wins, whole entry
    assert merged.variables['shared'].labels == {}
    assert set(merged.variables) == {'shared', 'server_only', 'extra'}
    # The code's entry has no labels: pushing it would take 'shared' off its served label.
    ok, out = push_config(api, merged, yes=True)
    assert not ok
    assert "\n  ~ shared\n    - label 'prod': version 1\n    ~ rollout: prod=1 -> code default=1\n" in out
    assert out.endswith(
        "\nError: Refusing to apply destructive changes without allow_destructive=True: shared: removes label 'prod', "
        'which the rollout serves (and 1 more, see above). Nothing was changed.\n'
    )
    assert 'prod' in api.list_variables().variables['shared'].labels
    ok, out = push_config(api, merged, yes=True, allow_destructive=True)
    assert ok
    assert '\n=== Variables to CREATE ===\n  + extra\n' in out
    assert '\n=== Variables to UPDATE ===\n  ~ shared\n' in out
    after = api.list_variables().variables
    assert after['shared'].description == 'local' and after['shared'].example == '5'
    assert after['server_only'].labels == remotevars.variables_pull_config(api=api).variables['server_only'].labels


def test_replace_deletes_only_after_confirmation(server: RunningServer, api: ApiClient) -> None:
    seed(server, 'keep', {'prod': '1'})
    seed(server, 'gone', {'prod': '2'})
    keep_only = VariablesConfig(variables={'keep': api.list_variables().variables['keep']})
    ask, prompts = answers('n')
    ok, out = push_config(api, keep_only, mode='replace', input_fn=ask)
    assert not ok and prompts == ['Apply these changes? [y/N] ']
    assert out == (
        '\n=== Variables to DELETE ===\n  - gone\n\n=== No changes needed (1 variables) ===\n    keep\n'
        "\n=== Field-level changes ===\n  - gone\n    - label 'prod': version 1\n"  # no rollout: not destructive
        '\nAborted.\n'
    )
    assert set(api.list_variables().variables) == {'keep', 'gone'}
    ok, out = push_config(api, keep_only, mode='replace')  # no terminal, no yes
    assert not ok and 'Refusing to apply changes without confirmation' in out
    assert set(api.list_variables().variables) == {'keep', 'gone'}
    ok, out = push_config(api, keep_only, mode='replace', dry_run=True)
    assert ok and out.endswith('\nDry run mode - no changes applied.\n')
    assert set(api.list_variables().variables) == {'keep', 'gone'}
    ask, _ = answers('y')
    ok, out = push_config(api, keep_only, mode='replace', input_fn=ask)
    assert ok and out.endswith('\nApplying changes...\n\nDone! Variables pushed successfully.\n')
    assert set(api.list_variables().variables) == {'keep'}


def bad_and_good(api: ApiClient) -> VariablesConfig:
    """A config that creates ``new``, updates ``a`` and then ``b``, which the server rejects (a bad regex)."""
    current = api.list_variables().variables
    first = current['a'].model_copy(update={'description': 'changed'})
    bad = VariableConfig.model_validate(
        {
            'name': 'b',
            'labels': {'x': {'version': 1, 'serialized_value': '1'}},
            'rollout': {'labels': {}},
            'overrides': [
                {
                    'conditions': [{'kind': 'value-matches-regex', 'attribute': 'e', 'pattern': '(unclosed'}],
                    'rollout': {'labels': {'x': 1.0}},
                }
            ],
        }
    )
    return VariablesConfig(variables={'a': first, 'new': current['a'].model_copy(update={'name': 'new'}), 'b': bad})


def test_failed_push_leaves_the_server_as_before(server: RunningServer, api: ApiClient) -> None:
    seed(server, 'a', {'prod': '1'})
    seed(server, 'b', {'x': '1'})
    seed(server, 'c', {'prod': '3'})
    before = api.list_variables()
    ok, out = push_config(api, bad_and_good(api), mode='replace', yes=True)
    assert not ok
    assert 'Error applying changes: Failed to apply bulk write:' in out
    assert 'invalid regular expression' in out
    assert api.list_variables() == before


class NoBulkApi(ApiClient):
    """A client of a server without the bulk endpoint (an older server, which cannot run here)."""

    def bulk_write(self, upsert: Sequence[VariableConfig], delete: Sequence[str]) -> None:
        raise BulkWriteUnsupported('no bulk endpoint', status=404)


def test_failed_push_without_bulk_endpoint_is_undone(server: RunningServer) -> None:
    with NoBulkApi(server.url, server.write_key, timeout=(5.0, 5.0)) as api:
        seed(server, 'a', {'prod': '1'})
        seed(server, 'b', {'x': '1'})
        before = api.list_variables()
        ok, out = push_config(api, bad_and_good(api), yes=True)
        assert not ok
        assert 'Error applying changes: Failed to update variable:' in out
        assert api.list_variables() == before
        # And the fallback applies a good plan one request at a time.
        good = VariablesConfig(variables={'z': before.variables['a'].model_copy(update={'name': 'z'})})
        ok, _ = push_config(api, good, yes=True)
        assert ok and 'z' in api.list_variables().variables


def test_unknown_mode_raises(api: ApiClient) -> None:
    with pytest.raises(remotevars.ConfigurationError):
        remotevars.variables_push_config(VariablesConfig(variables={}), mode='sync', api=api)  # type: ignore[arg-type]


# -- destructive changes and push-config --strict ---------------------------------------------------


def serve_banner(server: RunningServer) -> None:
    """``banner`` with labels production and canary, and everyone on production."""
    seed(server, 'banner', {'production': '"hi"', 'canary': '"hey"'}, rollout={'production': 1.0})


def test_destructive_push_config_needs_allow_destructive(
    server: RunningServer, api: ApiClient, client: remotevars.Client
) -> None:
    serve_banner(server)
    before = api.list_variables()
    template = remotevars.variables_build_config([client.var('banner', type=str, default='Welcome')])
    ok, out = push_config(api, template, dry_run=True)
    assert ok
    assert "\n  ~ banner\n    - label 'production': version 1\n    - label 'canary': version 2\n" in out
    assert out.endswith(
        '\nWarning: this plan has 2 destructive changes (see DESTRUCTIVE above); applying them with yes=True also '
        'needs allow_destructive=True.\n\nDry run mode - no changes applied.\n'
    )
    ok, out = push_config(api, template, yes=True)
    assert not ok
    assert out.count('Error') == 1 and 'without allow_destructive=True' in out
    ok, out = push_config(api, template)  # no terminal
    assert not ok
    assert out.endswith(
        'Refusing to apply destructive changes without confirmation: there is no terminal to ask on (pass yes=True '
        'and allow_destructive=True to apply them, or dry_run=True to preview).\n'
    )
    ask, prompts = answers('n')
    ok, out = push_config(api, template, input_fn=ask)
    assert not ok and prompts == ['Apply these changes? [y/N] ']
    assert out.endswith(
        '\nThis plan has 2 destructive changes, which take traffic away from what is served:\n'
        "  banner: removes label 'production', which the rollout serves\n"
        '  banner: sends 100% of the rollout to the code default (was 0%)\n\nAborted.\n'
    )
    assert api.list_variables() == before
    # A person who read the words and answered yes applies it; so does yes=True with allow_destructive=True.
    ask, _ = answers('y')
    ok, _ = push_config(api, template, input_fn=ask)
    assert ok and api.list_variables().variables['banner'].labels == {}
    serve_banner(server)
    ok, out = push_config(api, template, yes=True, allow_destructive=True)
    assert ok and out.endswith('\nDone! Variables pushed successfully.\n')
    assert api.list_variables().variables['banner'].rollout.labels == {}


def test_push_config_strict_checks_the_file_against_the_code(
    server: RunningServer, api: ApiClient, client: remotevars.Client
) -> None:
    limit = client.var('limit', type=int, default=3)
    config = VariablesConfig.model_validate(
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
    ok, out = push_config(api, config, yes=True, strict=True, variables=[limit])
    assert not ok
    assert '\n=== Values that do not fit the types in code ===\n  ✗ limit (label: production)\n' in out
    last = out.rstrip().splitlines()[-1]
    assert last.startswith("Error: 'limit', label 'production', does not fit the type in code: 1 validation error ")
    assert 'Input should be a valid integer' in last
    assert api.list_variables().variables == {}
    ok, out = push_config(api, config, yes=True, strict=True, variables=[])
    assert not ok and 'none are registered' in out
    # Not strict (the default, as the reference): pushed as it is.
    ok, _ = push_config(api, config, yes=True)
    assert ok and 'limit' in api.list_variables().variables
    fixed = config.model_copy(deep=True)
    fixed.variables['limit'].labels['production'] = LabeledValue(version=1, serialized_value='7')
    ok, out = push_config(api, fixed, yes=True, strict=True, variables=[limit])
    assert ok and 'do not fit' not in out
