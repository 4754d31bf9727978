"""The write operations over a store, without HTTP: the rules every backend must give the same results for.

Parametrized by the ``store`` fixture (conftest.py) over every storage backend, so a new backend passes
the same suite.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest

from remotevars.server import Limits, Operations, Store, Target, _edit
from remotevars.server._edit import SchemaViolation
from remotevars.server._ops import MAX_HISTORY
from remotevars.server._preconditions import Precondition
from remotevars.server._wire import WriteRejected, parse_write
from tests.serverutil import variable_body

AGENT_SCHEMA: dict[str, Any] = {
    'type': 'object',
    'properties': {'model': {'type': 'string'}, 'tools': {'type': 'array', 'items': {'type': 'string'}}},
    'required': ['model'],
}


def _value(value: Any) -> str:
    return json.dumps(value)


def _labels(store: Store, name: str) -> dict[str, Any]:
    labels: dict[str, Any] = store.snapshot.variables[name]['labels']
    return labels


def _state(store: Store) -> tuple[str, bytes]:
    return store.snapshot.etag, store.snapshot.body


@pytest.fixture
def agent(ops: Operations) -> str:
    body = variable_body(
        'agent',
        labels={'production': {'target_type': 'version', 'serialized_value': _value({'model': 'small'})}},
        rollout={'production': 1.0},
        json_schema=AGENT_SCHEMA,
    )
    ops.create(parse_write(body), actor='setup')
    return 'agent'


def test_each_write_is_one_commit_and_one_history_entry(store: Store, ops: Operations, agent: str) -> None:
    outcome = ops.create_version(agent, _value({'model': 'large'}), ['canary', 'beta'], actor='alice')
    assert outcome.version == 2
    assert [(c.event, c.name) for c in outcome.commit.changes] == [('updated', 'agent')]
    assert outcome.commit.etag == store.snapshot.etag != outcome.commit.previous_etag
    assert _labels(store, agent)['canary'] == {'version': 2, 'serialized_value': '{"model": "large"}'}
    ops.set_label(agent, 'production', Target(version=2), actor='bob')
    ops.set_rollout(agent, {'production': 0.5, 'canary': 0.5}, actor='bob')
    history = store.history(agent)
    assert [(e.action, e.actor) for e in history] == [
        ('set-rollout', 'bob'),
        ('set-label', 'bob'),
        ('create-version', 'alice'),
        ('create', 'setup'),
    ]
    assert [e.id for e in history] == sorted((e.id for e in history), reverse=True)
    assert history[-1].before is None
    assert history[0].after == store.snapshot.variables[agent]
    assert history[1].before is not None and history[1].after is not None
    assert history[1].before['labels']['production']['version'] == 1
    assert history[1].after['labels']['production']['version'] == 2
    assert history[0].revision == store.snapshot.revision


def test_a_write_that_changes_nothing_commits_nothing(store: Store, ops: Operations, agent: str) -> None:
    before = _state(store)
    outcome = ops.set_label(agent, 'production', Target(version=1), actor='alice')
    assert not outcome.changed
    assert outcome.commit.etag == outcome.commit.previous_etag == before[0]
    assert ops.set_rollout(agent, {'production': 1.0}, actor='alice').changed is False
    assert _state(store) == before
    assert len(store.history(agent)) == 1


@pytest.mark.parametrize(
    ('edit', 'status', 'message'),
    [
        (lambda ops: ops.set_rollout('agent', {'ghost': 0.5}, actor='a'), 422, "Label 'ghost' present in `rollout"),
        (lambda ops: ops.set_label('agent', 'x', Target(version=7), actor='a'), 422, 'has no version 7'),
        (lambda ops: ops.set_label('agent', 'x', Target(ref='nowhere'), actor='a'), 422, "has ref 'nowhere'"),
        (lambda ops: ops.set_label('agent', 'x', Target(ref='x'), actor='a'), 422, 'cannot point at itself'),
        (lambda ops: ops.delete_label('agent', 'production', actor='a'), 422, 'is used by the rollout'),
        (lambda ops: ops.delete_label('agent', 'ghost', actor='a'), 404, "has no label 'ghost'"),
        (lambda ops: ops.remove_override('agent', 0, actor='a'), 404, 'has no override [0] (it has 0)'),
        (lambda ops: ops.create_version('nope', '1', actor='a'), 404, "Variable 'nope' not found"),
        (lambda ops: ops.rollback('agent', 999, actor='a'), 404, 'has no history entry 999'),
        (
            lambda ops: ops.add_override(
                'agent',
                {
                    'conditions': [{'kind': 'value-matches-regex', 'attribute': 'e', 'pattern': '('}],
                    'rollout': {'labels': {'production': 1.0}},
                },
                actor='a',
            ),
            422,
            'overrides.0.conditions.0.pattern: invalid regular expression',
        ),
    ],
)
def test_a_refused_write_changes_nothing(
    store: Store, ops: Operations, agent: str, edit: Any, status: int, message: str
) -> None:
    before = _state(store)
    with pytest.raises(WriteRejected) as raised:
        edit(ops)
    assert raised.value.status == status
    assert message in str(raised.value)
    assert _state(store) == before
    assert len(store.history(agent)) == 1


def test_new_versions_must_match_the_schema(store: Store, ops: Operations, agent: str) -> None:
    before = _state(store)
    with pytest.raises(SchemaViolation) as raised:
        ops.create_version(agent, _value({'model': 'x', 'tools': ['a', 3]}), ['canary'], actor='a')
    assert str(raised.value) == (
        "Variable 'agent', label 'canary': value does not match the json_schema at $.tools[1]: "
        '3 is not of type "string"'
    )
    assert raised.value.errors == [
        {
            'variable': 'agent',
            'label': 'canary',
            'version': 2,
            'path': '$.tools[1]',
            'message': '3 is not of type "string"',
        }
    ]
    with pytest.raises(SchemaViolation, match=r'new version: value does not match the json_schema at \$: '):
        ops.create_version(agent, _value({'tools': []}), actor='a')
    assert _state(store) == before
    assert store.versions(agent) is not None and len(store.versions(agent) or []) == 1


def test_a_schema_change_is_accepted_and_reports_labels_it_breaks(store: Store, ops: Operations, agent: str) -> None:
    ops.create_version(agent, _value({'model': 'large'}), ['canary'], actor='a')
    current = store.snapshot.variables[agent]
    # What an SDK push of a new schema sends: the labels as they are (existing versions), a new schema.
    stricter = {**AGENT_SCHEMA, 'required': ['model', 'tools']}
    body = variable_body(
        agent,
        labels={label: {'target_type': 'version', **target} for label, target in current['labels'].items()},
        rollout=current['rollout']['labels'],
        json_schema=stricter,
    )
    outcome = ops.replace(parse_write(body), actor='ci')
    assert outcome.changed
    assert [(w.label, w.version, w.path) for w in outcome.warnings] == [('production', 1, '$'), ('canary', 2, '$')]
    assert store.snapshot.variables[agent]['json_schema'] == stricter
    assert store.history(agent)[0].warnings == [w.to_json() for w in outcome.warnings]
    # New values in the same write are checked against the new schema.
    body['labels']['next'] = {'target_type': 'version', 'serialized_value': _value({'model': 'm'})}
    with pytest.raises(SchemaViolation, match="label 'next'"):
        ops.replace(parse_write(body), actor='ci')
    # Moving a label onto an existing value the schema refuses is reported too, not refused.
    moved = ops.set_label(agent, 'beta', Target(version=1), actor='ci')
    assert [(w.label, w.version) for w in moved.warnings] == [('beta', 1)]


def test_an_unusable_schema_is_refused(store: Store, ops: Operations) -> None:
    body = variable_body('v', 1, json_schema={'type': 'nonsense'})
    with pytest.raises(WriteRejected, match="Variable 'v': json_schema: not a usable JSON Schema"):
        ops.create(parse_write(body), actor='a')
    remote = variable_body('w', 1, json_schema={'$ref': 'http://127.0.0.1:9/schema.json'})
    with pytest.raises(WriteRejected, match='Retrieval is disabled'):  # never fetched
        ops.create(parse_write(remote), actor='a')
    assert store.snapshot.variables == {}


def test_bulk_is_all_or_nothing_and_checks_values(store: Store, ops: Operations, agent: str) -> None:
    before = _state(store)
    good = variable_body('fine', 1)
    bad = variable_body('limit', 'lots', json_schema={'type': 'integer'})
    with pytest.raises(SchemaViolation) as raised:
        ops.bulk([parse_write(good), parse_write(bad)], [agent], actor='ci')
    assert str(raised.value).startswith("upsert[1] (variable 'limit'): Variable 'limit', label 'production': ")
    assert raised.value.errors[0]['path'] == '$'
    assert _state(store) == before
    outcome = ops.bulk([parse_write(good)], [agent], actor='ci')
    assert [(c.event, c.name) for c in outcome.commit.changes] == [('created', 'fine'), ('deleted', 'agent')]
    assert [e.action for e in store.history('fine')] == ['bulk-create']
    assert [e.action for e in store.history(agent)] == ['bulk-delete', 'create']


def test_preconditions(store: Store, ops: Operations, agent: str) -> None:
    stale = [store.snapshot.variable_etag(agent), store.snapshot.etag]
    ops.set_label(agent, 'x', Target(ref='production'), actor='a')

    flips = itertools.cycle([Target(version=1), Target(ref='production')])

    def label_again(header: str | None) -> bool:
        # Every call changes the variable (the label flips), so a precondition that fails would raise.
        precondition = Precondition.from_header(header)
        return ops.set_label(agent, 'x', next(flips), actor='a', precondition=precondition).changed

    # The variable's own ETag, still current after writes to other variables; the list's ETag; any.
    own = store.snapshot.variable_etag(agent)
    ops.create(parse_write(variable_body('other', 1)), actor='a')
    assert label_again(own)
    listed = store.snapshot.etag
    ops.set_rollout('other', {}, actor='a')
    assert label_again(listed)
    assert label_again('*')
    assert label_again(f'"nope-1", {store.snapshot.variable_etag(agent)}')
    current = store.snapshot.variable_etag(agent)
    for header in (*stale, f'W/{current}', '"otherdb-999"'):
        assert header is not None
        with pytest.raises(WriteRejected) as raised:
            ops.set_rollout(agent, {}, actor='a', precondition=Precondition.from_header(header))
        assert raised.value.status == 412
        assert f'its ETag is now {current}' in str(raised.value)
    with pytest.raises(WriteRejected, match="variable 'ghost' does not exist") as missing:
        ops.delete('ghost', actor='a', precondition=Precondition.from_header('*'))
    assert missing.value.status == 412


def test_rollback_restores_labels_rollout_and_overrides(store: Store, ops: Operations, agent: str) -> None:
    ops.create_version(agent, _value({'model': 'large'}), ['canary'], actor='a')
    ops.set_rollout(agent, {'production': 0.9, 'canary': 0.1}, actor='a')
    override = {
        'conditions': [{'kind': 'value-equals', 'attribute': 'plan', 'value': 'pro'}],
        'rollout': {'labels': {'canary': 1.0}},
    }
    ops.add_override(agent, override, actor='a')
    good = store.history(agent)[0]
    kept = store.snapshot.variables[agent]
    ops.set_label(agent, 'production', Target(version=2), actor='b')
    ops.clear_overrides(agent, actor='b')
    ops.set_rollout(agent, {'canary': 1.0}, actor='b')
    ops.create_version(agent, _value({'model': 'huge'}), actor='b')
    outcome = ops.rollback(agent, good.id, actor='c')
    assert [(c.event, c.name) for c in outcome.commit.changes] == [('updated', agent)]
    restored = store.snapshot.variables[agent]
    for field in ('labels', 'rollout', 'overrides'):
        assert restored[field] == kept[field]
    assert restored['latest_version']['version'] == 3  # versions stay
    assert store.history(agent)[0].action == 'rollback'
    assert not ops.rollback(agent, good.id, actor='c').changed  # already there: nothing to do


def test_an_edit_checks_the_patterns_it_brings_not_those_it_keeps(
    store: Store, ops: Operations, agent: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Compiling a pattern costs up to ~1 ms per character: an unrelated edit must not compile them all again.
    checked: list[str] = []
    check = _edit.check_override_patterns

    def counting(override: dict[str, Any], limits: Limits, where: str) -> None:
        checked.extend(c['pattern'] for c in override['conditions'])
        check(override, limits, where)

    monkeypatch.setattr(_edit, 'check_override_patterns', counting)

    def override(pattern: str) -> dict[str, Any]:
        condition = {'kind': 'value-matches-regex', 'attribute': 'email', 'pattern': pattern}
        return {'conditions': [condition], 'rollout': {'labels': {'production': 1.0}}}

    ops.add_override(agent, override('@example[.]com$'), actor='a')
    assert checked == ['@example[.]com$']
    ops.set_rollout(agent, {'production': 0.5}, actor='a')
    ops.add_override(agent, override('^admin'), actor='a')
    assert checked == ['@example[.]com$', '^admin']
    # The operations hold an override to the parsers' rule whichever front end built it: the length limit too.
    limited = Operations(store, limits=Limits(max_pattern_length=10))
    with pytest.raises(WriteRejected, match=r"Variable 'agent': overrides\.2\.conditions\.0\.pattern: patterns are"):
        limited.add_override(agent, override('x' * 11), actor='a')


def test_reads_go_through_the_operations(store: Store, ops: Operations, agent: str) -> None:
    """The front ends read through the operations: the snapshot, versions, history (capped) and one entry."""
    ops.create_version(agent, _value({'model': 'large'}), ['canary'], actor='a')
    assert ops.snapshot is store.snapshot
    assert ops.versions(agent) == store.versions(agent) and ops.versions('ghost') is None
    newest = store.history(agent)[0]
    assert [e.id for e in ops.history(agent, 1)] == [newest.id]
    assert len(ops.history(agent, MAX_HISTORY + 5)) == len(store.history(agent))
    assert ops.history_entry(agent, newest.id) == newest == store.history_entry(newest.id)
    assert ops.create(parse_write(variable_body('other', 1)), actor='a').changed
    assert ops.history_entry('other', newest.id) is None  # another variable's entry
    assert ops.history_entry(agent, 10**9) is None
    assert ops.variable_types() == store.variable_types()


def test_deleting_keeps_the_history_and_rollback_brings_it_back(store: Store, ops: Operations, agent: str) -> None:
    ops.create_version(agent, _value({'model': 'large'}), ['canary'], actor='a')
    last = store.history(agent)[0]
    kept = store.snapshot.variables[agent]
    ops.delete(agent, actor='b')
    assert agent not in store.snapshot.variables
    assert [e.action for e in store.history(agent)] == ['delete', 'create-version', 'create']
    with pytest.raises(WriteRejected, match='deleted variable'):
        ops.rollback(agent, store.history(agent)[0].id, actor='c')
    outcome = ops.rollback(agent, last.id, actor='c')
    assert [(c.event, c.name) for c in outcome.commit.changes] == [('created', agent)]
    back = store.snapshot.variables[agent]
    for field in ('labels', 'rollout', 'overrides', 'json_schema', 'description'):
        assert back[field] == kept[field]


def test_put_keeps_type_name_and_reuses_versions(store: Store, ops: Operations) -> None:
    body = variable_body('v', 'a') | {'type_name': 'T'}
    ops.create(parse_write(body), actor='a')
    without = {k: v for k, v in body.items() if k != 'type_name'}
    assert not ops.replace(parse_write(without), actor='a').changed  # same value: version 1 reused
    assert store.snapshot.variables['v']['type_name'] == 'T'
    two_labels = variable_body(
        'v',
        labels={
            'a': {'target_type': 'version', 'version': 5, 'serialized_value': '"b"'},
            'b': {'target_type': 'version', 'version': 5, 'serialized_value': '"b"'},
        },
    )
    ops.replace(parse_write(two_labels), actor='a')
    assert [v['version'] for v in store.versions('v') or []] == [1, 2]  # one new version, shared


def test_variable_types(store: Store, ops: Operations) -> None:
    before = _state(store)
    assert not ops.upsert_variable_type({'name': 'T', 'json_schema': {'type': 'string'}}, actor='a').changed
    assert store.variable_types() == [{'name': 'T', 'json_schema': {'type': 'string'}}]
    assert _state(store) == before  # the variables' body and ETag do not change
    with pytest.raises(WriteRejected, match='not a usable JSON Schema'):
        ops.upsert_variable_type({'name': 'U', 'json_schema': {'type': 3}}, actor='a')


def test_every_operation_holds_variables_to_the_limits(store: Store, agent: str) -> None:
    # Whatever front end calls them (the API, a console), label names and counts follow one rule.
    ops = Operations(store, limits=Limits(max_labels=2, max_overrides=1, max_label_length=8))
    state = _state(store)
    for label, reason in [
        ('\x1b[2J', "label: label names may not contain control, format or line-separator characters (found '\\x1b'"),
        ('x' * 9, 'label: label names are at most 8 characters, got 9'),
        ('latest', "label: 'latest' is reserved"),
        ('', 'label: label names must be non-empty strings'),
    ]:
        with pytest.raises(WriteRejected, match=re.escape(reason)):
            ops.set_label(agent, label, Target(version=1), actor='t')
        with pytest.raises(WriteRejected, match=re.escape(reason)):
            ops.create_version(agent, _value({'model': 'x'}), [label], actor='t')
    ops.set_label(agent, 'canary', Target(version=1), actor='t')
    with pytest.raises(WriteRejected, match="Variable 'agent': labels: at most 2 labels per variable, got 3"):
        ops.set_label(agent, 'beta', Target(ref='latest'), actor='t')
    override = {'conditions': [], 'rollout': {'labels': {'canary': 1.0}}}
    ops.add_override(agent, override, actor='t')
    with pytest.raises(WriteRejected, match="Variable 'agent': overrides: at most 1 overrides per variable, got 2"):
        ops.add_override(agent, override, actor='t')
    assert _state(store) != state
    assert len(_labels(store, agent)) == 2 and len(store.snapshot.variables[agent]['overrides']) == 1


@pytest.mark.parametrize('value', ['Infinity', '[1e400]', '"\ud800"', '{"a": NaN}', '[[[1]]]', 'not json'])
def test_a_new_version_must_be_strict_json_text_whoever_builds_it(store: Store, agent: str, value: str) -> None:
    # The console builds values from what a user typed; the operation refuses what clients cannot parse.
    ops = Operations(store, limits=Limits(max_json_depth=2))
    state = _state(store)
    with pytest.raises(WriteRejected, match="Variable 'agent': new version: not valid JSON text"):
        ops.create_version(agent, value, ['canary'], actor='t')
    assert _state(store) == state
