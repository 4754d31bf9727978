"""The local provider and the client around it: files, watching, bad payloads, change events, pinning."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import remotevars
from remotevars import ConfigurationError, LocalVariablesOptions, RefreshEvent, VariablesConfig
from remotevars._snapshot import build_snapshot


def variable(name: str, value: Any, *, version: int = 1, weight: float = 1.0) -> dict[str, Any]:
    return {
        'name': name,
        'labels': {'production': {'version': version, 'serialized_value': json.dumps(value)}},
        'rollout': {'labels': {'production': weight}},
        'overrides': [],
    }


def write_config(path: Path, *variables: dict[str, Any]) -> None:
    # Write then rename, as editors do, so the watcher never sees a half-written file.
    tmp = path.with_suffix('.tmp')
    tmp.write_text(json.dumps({'variables': {v['name']: v for v in variables}}))
    os.replace(tmp, path)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_config_object(client: remotevars.Client) -> None:
    config = VariablesConfig.model_validate({'variables': {'banner': variable('banner', 'hello')}})
    client.configure(LocalVariablesOptions(config=config))
    assert client.var('banner', default='').get().value == 'hello'
    assert client.status().kind == 'local'


def test_file_without_watch(client: remotevars.Client, tmp_path: Path) -> None:
    path = tmp_path / 'vars.json'
    write_config(path, variable('banner', 'one'))
    client.configure(LocalVariablesOptions(config=path, watch=False))
    banner = client.var('banner', default='')
    write_config(path, variable('banner', 'two', version=2))
    time.sleep(0.3)
    assert banner.get().value == 'one'
    client.refresh()
    assert banner.get().value == 'two'


def test_watched_file_applies_saves_without_restart(client: remotevars.Client, tmp_path: Path) -> None:
    path = tmp_path / 'vars.json'
    write_config(path, variable('banner', 'one'))
    client.configure(LocalVariablesOptions(config=str(path)))
    banner = client.var('banner', default='')
    assert banner.get().value == 'one'
    write_config(path, variable('banner', 'two', version=2))
    assert wait_for(lambda: banner.get().value == 'two')
    assert banner.get().version == 2


def test_invalid_file_keeps_last_good_config(
    client: remotevars.Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / 'vars.json'
    write_config(path, variable('banner', 'good'))
    client.configure(LocalVariablesOptions(config=path))
    banner = client.var('banner', default='')
    tmp = path.with_suffix('.tmp')
    tmp.write_text('{"variables": {"banner": ')  # truncated JSON
    os.replace(tmp, path)
    assert wait_for(lambda: 'Keeping the last good variables config' in caplog.text)
    assert banner.get().value == 'good'
    write_config(path, variable('banner', 'fixed', version=2))
    assert wait_for(lambda: banner.get().value == 'fixed')


def test_malformed_variable_keeps_its_last_good_version_while_others_update(
    client: remotevars.Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / 'vars.json'
    write_config(path, variable('a', 'a1'), variable('b', 'b1'))
    client.configure(LocalVariablesOptions(config=path, watch=False))
    a, b = client.var('a', default=''), client.var('b', default='')
    broken = variable('a', 'a2', version=2)
    broken['rollout'] = {'labels': {'missing_label': 1.0}}
    write_config(path, broken, variable('b', 'b2', version=2))
    client.refresh()
    assert (a.get().value, b.get().value) == ('a1', 'b2')
    assert "Variable 'a'" in caplog.text and 'kept its previous version' in caplog.text


def test_unreadable_file_fails_loudly_at_start(client: remotevars.Client, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match='Cannot load the local variables config'):
        client.configure(LocalVariablesOptions(config=tmp_path / 'missing.json'))
    (tmp_path / 'bad.json').write_text('not json')
    with pytest.raises(ConfigurationError):
        client.configure(LocalVariablesOptions(config=tmp_path / 'bad.json'))
    assert client.var('v', default=1).get().reason == 'no_provider'


def test_change_events_name_what_changed(client: remotevars.Client, tmp_path: Path) -> None:
    path = tmp_path / 'vars.json'
    write_config(path, variable('kept', 1), variable('moved', 1), variable('gone', 1))
    events: list[RefreshEvent] = []
    client.add_listener(events.append)
    client.configure(LocalVariablesOptions(config=path, watch=False))
    assert [c.kind for c in events[-1].changes] == ['created', 'created', 'created']
    write_config(path, variable('kept', 1), variable('moved', 2, version=2), variable('new', 1))
    client.refresh()
    changes = {c.name: c for c in events[-1].changes}
    assert set(changes) == {'moved', 'gone', 'new'}
    assert changes['moved'].kind == 'updated'
    assert changes['moved'].old is not None and changes['moved'].old.labels == {'production': 1}
    assert changes['moved'].new is not None and changes['moved'].new.labels == {'production': 2}
    assert changes['gone'].kind == 'deleted' and changes['new'].kind == 'created'
    assert events[-1].source == str(path.resolve())


def test_raising_listener_does_not_stop_others(
    client: remotevars.Client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / 'vars.json'
    write_config(path, variable('v', 1))
    seen: list[int] = []

    def bad(event: RefreshEvent) -> None:
        raise RuntimeError('listener bug')

    client.add_listener(bad)
    client.add_listener(lambda event: seen.append(len(event.changes)))
    client.configure(LocalVariablesOptions(config=path, watch=False))
    assert seen == [1]
    assert 'refresh listener raised' in caplog.text
    client.remove_listener(bad)
    write_config(path, variable('v', 2, version=2))
    client.refresh()
    assert seen == [1, 1]


def test_pinned_snapshot_is_stable_within_a_block(client: remotevars.Client, tmp_path: Path) -> None:
    path = tmp_path / 'vars.json'
    write_config(path, variable('v', 'old'))
    client.configure(LocalVariablesOptions(config=path, watch=False))
    v = client.var('v', default='')
    with client.pinned():
        write_config(path, variable('v', 'new', version=2))
        client.refresh()
        assert v.get().value == 'old'
        seen: list[str] = []
        thread = threading.Thread(target=lambda: seen.append(v.get().value))
        thread.start()
        thread.join(5)
        assert seen == ['new']  # other threads are not pinned
    assert v.get().value == 'new'


def test_activated_client_serves_shared_variables(tmp_path: Path) -> None:
    first, second = remotevars.Client(), remotevars.Client()
    third = remotevars.Client(share_variables_with=first)
    try:
        first.configure(LocalVariablesOptions(config=VariablesConfig.model_validate({'variables': {}})))
        third.configure(
            LocalVariablesOptions(config=VariablesConfig.model_validate({'variables': {'v': variable('v', 'third')}}))
        )
        v = first.var('v', default='default')
        assert third.variables() == [v]
        assert v.get().value == 'default'
        with third.activated():
            assert v.get().value == 'third'
        assert second.variables() == []
    finally:
        for c in (first, second, third):
            c.shutdown()


def test_unchanged_variables_keep_their_compiled_object() -> None:
    config = {'variables': {'a': variable('a', 1), 'b': variable('b', 1)}}
    first, _ = build_snapshot(json.dumps(config).encode())
    config['variables']['b'] = variable('b', 2, version=2)
    second, issues = build_snapshot(json.dumps(config).encode(), first)
    assert issues == []
    assert second.variables['a'] is first.variables['a']
    assert second.variables['b'] is not first.variables['b']


@pytest.mark.parametrize(
    'payload',
    [b'', b'[]', b'{"variables": []}', b'{"nope": {}}', b'\xff\xfe'],
)
def test_unusable_payloads_are_rejected_whole(payload: bytes) -> None:
    with pytest.raises(remotevars.ConfigPayloadError):
        build_snapshot(payload)


@pytest.mark.parametrize(
    ('mutate', 'message'),
    [
        (lambda v: v.update(name='other'), 'invalid lookup key'),
        (lambda v: v['rollout'].update(labels={'production': 1.5}), 'must not sum to more than 1'),
        (lambda v: v['rollout'].update(labels={'production': -1}), 'not negative'),
        (lambda v: v['labels'].update(x={'ref': 'nowhere'}), "has ref 'nowhere'"),
        (lambda v: v['labels'].update(x={'version': 1}), 'needs `version` and `serialized_value`'),
        (
            lambda v: v.update(
                overrides=[
                    {
                        'conditions': [{'kind': 'value-matches-regex', 'attribute': 'a', 'pattern': '('}],
                        'rollout': {'labels': {}},
                    }
                ]
            ),
            'missing',
        ),
        (lambda v: v.update(overrides=[{'conditions': [{'kind': 'odd', 'attribute': 'a'}], 'rollout': {}}]), 'kind'),
        (lambda v: v.update(aliases=['bad alias']), 'Invalid alias'),
        (lambda v: v.pop('overrides'), 'overrides'),
    ],
)
def test_malformed_variables_are_reported(mutate: Callable[[dict[str, Any]], Any], message: str) -> None:
    bad = variable('v', 1)
    mutate(bad)
    snapshot, issues = build_snapshot(json.dumps({'variables': {'v': bad, 'ok': variable('ok', 1)}}).encode())
    assert list(snapshot.variables) == ['ok']
    assert [i.name for i in issues] == ['v']
    assert message in issues[0].error


def test_patch_replaces_and_removes_variables_keeping_the_others() -> None:
    from remotevars._snapshot import patch_snapshot

    config = {'variables': {'a': variable('a', 1), 'b': variable('b', 1), 'c': variable('c', 1)}}
    first, _ = build_snapshot(json.dumps(config).encode())
    broken = variable('c', 3, version=3)
    broken['rollout'] = {'labels': {'nope': 1.0}}
    second, issues = patch_snapshot(
        first, {'b': json.dumps(variable('b', 2, version=2)), 'a': None, 'c': json.dumps(broken)}
    )
    assert sorted(second.variables) == ['b', 'c']
    assert second.variables['c'] is first.variables['c']  # malformed: last good kept
    assert [i.name for i in issues] == ['c']
    assert second.variables['b'].targets == {'production': ('2', 2)}
    assert first.variables.keys() == {'a', 'b', 'c'}  # the old snapshot is untouched


def test_request_scope_pins_targets_and_activates(tmp_path: Path) -> None:
    declaring, serving = remotevars.Client(), remotevars.Client()
    try:
        v = declaring.var('v', default='-')
        weights = {'a': 0.5, 'b': 0.5}
        config = {
            'variables': {
                'v': {
                    'name': 'v',
                    'labels': {k: {'version': 1, 'serialized_value': json.dumps(k)} for k in weights},
                    'rollout': {'labels': weights},
                    'overrides': [],
                }
            }
        }
        serving.configure(LocalVariablesOptions(config=VariablesConfig.model_validate(config)))
        expected = VariablesConfig.model_validate(config).variables['v'].resolve_label('user-7')
        scope = serving.request_scope('user-7', {'plan': 'pro'})
        snapshot = scope.enter()
        try:
            assert snapshot is serving.snapshot
            assert v.get().label == expected
            from remotevars._targeting import current_targeting

            state = current_targeting()
            assert state is not None and state.attributes == {'plan': 'pro'}
        finally:
            scope.exit()
            scope.exit()  # idempotent
        assert v.get().reason == 'no_provider'
        with serving.request_scope(None, activate=False):
            assert v.get().reason == 'no_provider'
    finally:
        declaring.shutdown()
        serving.shutdown()


def test_request_scope_without_a_key_draws_once_for_the_whole_scope() -> None:
    client = remotevars.Client()
    try:
        weights = {f'l{i}': 0.1 for i in range(10)}
        config = {
            'variables': {
                'v': {
                    'name': 'v',
                    'labels': {k: {'version': 1, 'serialized_value': json.dumps(k)} for k in weights},
                    'rollout': {'labels': weights},
                    'overrides': [],
                }
            }
        }
        client.configure(LocalVariablesOptions(config=VariablesConfig.model_validate(config)))
        v = client.var('v', default='-')
        seen_per_scope = []
        for _ in range(20):
            with client.request_scope():
                seen_per_scope.append({v.get().label for _ in range(10)})
        assert all(len(labels) == 1 for labels in seen_per_scope)  # one draw per scope
        assert len(set().union(*seen_per_scope)) > 1  # but scopes draw independently
    finally:
        client.shutdown()
