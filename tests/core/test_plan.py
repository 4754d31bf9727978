"""Pure planning: push, validate, push-types and push-config plans computed from in-memory configs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

import remotevars
from remotevars._plan import (
    check_config_values,
    config_key,
    normalize_types,
    plan_push,
    plan_push_config,
    plan_push_types,
    type_label_incompatibilities,
    validate_report,
)
from remotevars.config import (
    LabeledValue,
    LabelRef,
    LatestVersion,
    Rollout,
    VariableConfig,
    VariablesConfig,
    VariableTypeConfig,
)


def server_var(name: str, *, schema: dict[str, Any] | None = None, **fields: Any) -> VariableConfig:
    labels = fields.pop('labels', {})
    return VariableConfig(
        name=name,
        labels=labels,
        rollout=fields.pop('rollout', Rollout(labels={})),
        overrides=[],
        json_schema=schema,
        **fields,
    )


def config_of(*variables: VariableConfig) -> VariablesConfig:
    return VariablesConfig(variables={v.name: v for v in variables})


def test_create_carries_schema_description_and_example(client: remotevars.Client) -> None:
    flag = client.var('flag', type=bool, default=False, description='A flag')
    plan = plan_push([flag], config_of())
    (entry,) = plan.entries
    assert entry.action == 'create'
    assert entry.example == 'false'
    assert entry.body is not None
    assert entry.body.json_schema == {'type': 'boolean'}
    assert entry.body.example == 'false'
    assert entry.body.description == 'A flag'
    assert plan.has_changes


def test_function_default_has_no_example(client: remotevars.Client) -> None:
    fn = client.var('fn', type=int, default=lambda key, attrs: 1)
    (entry,) = plan_push([fn], config_of()).entries
    assert entry.action == 'create'
    assert entry.example is None
    assert entry.default_is_function


def test_unserialisable_default_is_an_error_naming_the_variable(client: remotevars.Client) -> None:
    class Opaque:
        pass

    good = client.var('good', type=int, default=1)
    bad = client.var('bad', type=Any, default=Opaque())
    plan = plan_push([good, bad], config_of())
    assert len(plan.serialization_errors) == 1
    assert "'bad'" in plan.serialization_errors[0]
    bad_entry = plan.entries[1]
    assert bad_entry.body is None


def test_schema_compared_canonically(client: remotevars.Client) -> None:
    class Model(BaseModel):
        a: int
        b: str

    v = client.var('m', type=Model, default=Model(a=1, b='x'))
    schema = v.type_adapter.json_schema()
    reordered = json.loads(json.dumps(schema, sort_keys=True))
    reordered = dict(reversed(list(reordered.items())))
    plan = plan_push([v], config_of(server_var('m', schema=reordered)))
    assert [e.action for e in plan.entries] == ['unchanged']
    assert not plan.has_changes


def test_schema_update_keeps_every_server_field(client: remotevars.Client) -> None:
    v = client.var('limit', type=int, default=3)
    server = server_var(
        'limit',
        schema={'type': 'string'},
        labels={'prod': LabeledValue(version=2, serialized_value='"five"'), 'alias_l': LabelRef(ref='prod')},
        rollout=Rollout(labels={'prod': 1.0}),
        aliases=['old_limit'],
        example='"5"',
        type_name='Limit',
        template_inputs_schema={'type': 'object'},
        description='kept',
    )
    (entry,) = plan_push([v], config_of(server)).entries
    assert entry.action == 'update'
    assert entry.value_schema_changed and not entry.description_changed
    assert entry.body is not None
    body = entry.body
    assert body.json_schema == {'type': 'integer'}
    assert body.aliases == ['old_limit']
    assert body.example == '"5"'
    assert body.type_name == 'Limit'
    assert body.template_inputs_schema == {'type': 'object'}
    assert body.description == 'kept'
    assert body.labels == server.labels
    assert list(body.rollout.labels) == ['prod']
    assert [i.label for i in entry.incompatible] == ['prod']


def test_incompatible_label_and_latest_listed(client: remotevars.Client) -> None:
    v = client.var('n', type=int, default=1)
    server = server_var(
        'n',
        schema={'type': 'integer'},
        labels={'v1': LabeledValue(version=1, serialized_value='"bad"'), 'r': LabelRef(ref='v1')},
        latest_version=LatestVersion(version=2, serialized_value='"bad"'),
    )
    plan = plan_push([v], config_of(server))
    (entry,) = plan.entries
    assert entry.action == 'unchanged'
    assert [i.label for i in entry.incompatible] == ['v1', 'latest']
    assert 'int_parsing' in entry.incompatible[0].error
    assert plan.incompatibility_message == (
        'Some existing label values are incompatible with the variable types (schema unchanged).'
    )


def test_incompatibility_messages_by_kind(client: remotevars.Client) -> None:
    a = client.var('a', type=int, default=1)
    b = client.var('b', type=int, default=1)
    bad = {'x': LabeledValue(version=1, serialized_value='"no"')}
    only_update = plan_push([a], config_of(server_var('a', schema={'type': 'string'}, labels=bad)))
    assert only_update.incompatibility_message == (
        'Some schema changes will result in label values incompatible with the new schema.'
    )
    both = plan_push(
        [a, b],
        config_of(
            server_var('a', schema={'type': 'string'}, labels=bad),
            server_var('b', schema={'type': 'integer'}, labels=bad),
        ),
    )
    assert both.incompatibility_message == (
        'Some existing label values are incompatible with the variable types, '
        'and some schema changes will make additional values incompatible.'
    )
    clean = plan_push([a], config_of(server_var('a', schema={'type': 'integer'})))
    assert clean.incompatibility_message is None


def test_alias_counts_as_the_same_variable(client: remotevars.Client) -> None:
    v = client.var('old_name', type=int, default=1)
    server = server_var('new_name', schema={'type': 'integer'}, aliases=['old_name'])
    plan = plan_push([v], config_of(server))
    (entry,) = plan.entries
    assert entry.action == 'unchanged'
    assert entry.server_name == 'new_name'
    assert plan.server_only == ()
    report = validate_report([v], config_of(server))
    assert report.variables_not_on_server == []
    assert report.is_valid


def test_alias_update_targets_the_canonical_name(client: remotevars.Client) -> None:
    v = client.var('old_name', type=int, default=1)
    server = server_var('new_name', schema={'type': 'string'}, aliases=['old_name'])
    (entry,) = plan_push([v], config_of(server)).entries
    assert entry.action == 'update'
    assert entry.server_name == 'new_name'
    assert entry.body is not None and entry.body.name == 'new_name'


def test_description_changes_are_updates_but_empty_never_wipes(client: remotevars.Client) -> None:
    described = client.var('d', type=int, default=1, description='new text')
    silent = client.var('s', type=int, default=1)
    server = config_of(
        server_var('d', schema={'type': 'integer'}, description='old text'),
        server_var('s', schema={'type': 'integer'}, description='written in the UI'),
    )
    plan = plan_push([described, silent], server)
    d, s = plan.entries
    assert d.action == 'update' and d.description_changed and not d.value_schema_changed
    assert d.body is not None and d.body.description == 'new text'
    assert s.action == 'unchanged'
    assert [x.variable_name for x in plan.description_differences] == ['d', 's']


def test_server_only_variables_listed_in_server_order(client: remotevars.Client) -> None:
    v = client.var('mine', type=int, default=1)
    server = config_of(server_var('z'), server_var('mine', schema={'type': 'integer'}), server_var('a'))
    assert plan_push([v], server).server_only == ('z', 'a')


def test_validate_report_counts(client: remotevars.Client) -> None:
    ok = client.var('ok', type=int, default=1)
    bad = client.var('bad', type=int, default=1, description='local')
    missing = client.var('missing', type=int, default=1)
    server = config_of(
        server_var('ok', labels={'a': LabeledValue(version=1, serialized_value='2')}),
        server_var('bad', labels={'a': LabeledValue(version=1, serialized_value='"x"')}),
    )
    report = validate_report([ok, bad, missing], server)
    assert report.variables_checked == 3
    assert report.variables_not_on_server == ['missing']
    assert [(e.variable_name, e.label) for e in report.errors] == [('bad', 'a')]
    assert [d.variable_name for d in report.description_differences] == ['bad']
    assert report.has_errors and not report.is_valid


def test_validate_report_valid_ignores_descriptions(client: remotevars.Client) -> None:
    v = client.var('v', type=int, default=1, description='x')
    report = validate_report([v], config_of(server_var('v', description='y')))
    assert report.is_valid and not report.has_errors
    assert len(report.description_differences) == 1


class FeatureConfig(BaseModel):
    enabled: bool = False


def test_push_types_classifies_and_keeps_server_description() -> None:
    schema = FeatureConfig.model_json_schema()
    server_types = {
        'FeatureConfig': VariableTypeConfig(name='FeatureConfig', json_schema={'type': 'object'}, description='UI'),
        'count': VariableTypeConfig(name='count', json_schema=dict(reversed(list({'type': 'integer'}.items())))),
        'Same': VariableTypeConfig(name='Same', json_schema=json.loads(json.dumps(schema, sort_keys=True))),
    }
    pairs = normalize_types([FeatureConfig, (int, 'count'), (FeatureConfig, 'Same'), (str, 'fresh')])
    assert [name for _, name in pairs] == ['FeatureConfig', 'count', 'Same', 'fresh']
    plan = plan_push_types(pairs, server_types)
    assert [(e.name, e.action) for e in plan.entries] == [
        ('FeatureConfig', 'update'),
        ('count', 'unchanged'),
        ('Same', 'unchanged'),
        ('fresh', 'create'),
    ]
    update = plan.entries[0].body
    assert update.description == 'UI'
    assert update.source_hint == f'{__name__}.FeatureConfig'
    assert plan.entries[3].body.source_hint == 'builtins.str'
    assert plan_push_types(normalize_types([int | None]), {}).entries[0].body.source_hint is None


def test_default_type_name_of_non_class() -> None:
    assert normalize_types([int | str])[0][1] == 'int | str'


def test_type_label_incompatibilities_only_for_updated_types_and_their_variables() -> None:
    pairs = normalize_types([FeatureConfig])
    plan = plan_push_types(pairs, {'FeatureConfig': VariableTypeConfig(name='FeatureConfig', json_schema={})})
    server = config_of(
        server_var(
            'f',
            type_name='FeatureConfig',
            labels={
                'v1': LabeledValue(version=1, serialized_value='"nope"'),
                'ok': LabeledValue(version=2, serialized_value='{}'),
            },
        ),
        server_var('g', labels={'v1': LabeledValue(version=1, serialized_value='"nope"')}),
    )
    found = type_label_incompatibilities(pairs, plan, server)
    assert [(i.type_name, i.variable_name, i.label) for i in found] == [('FeatureConfig', 'f', 'v1')]


def full_var(name: str, value: str = '1', version: int = 1, **fields: Any) -> VariableConfig:
    return server_var(
        name,
        labels={'prod': LabeledValue(version=version, serialized_value=value), 'stg': LabelRef(ref='prod')},
        rollout=Rollout(labels={'prod': 0.5, 'stg': 0.5}),
        **fields,
    )


def test_config_plan_merge_and_replace() -> None:
    server = config_of(full_var('keep'), full_var('upd'), full_var('gone'))
    local = config_of(full_var('new', description='brand new'), full_var('upd', value='2'), full_var('keep'))
    merge = plan_push_config(local, server, 'merge')
    assert [c.name for c in merge.creates] == ['new']
    assert [c.name for c in merge.updates] == ['upd']
    assert merge.deletes == ()
    assert merge.unchanged == ('keep',)
    replace = plan_push_config(local, server, 'replace')
    assert replace.deletes == ('gone',)
    assert replace.has_changes


def test_config_compare_is_canonical_and_ignores_server_only_fields() -> None:
    server = full_var(
        'v', value='{"a": 1, "b": [1, 2]}', version=7, latest_version=LatestVersion(version=9, serialized_value='3')
    )
    server = server.model_copy(update={'type_name': 'T', 'description': ''})
    local = full_var('v', value='{"b":[1,2],"a":1}', version=1)
    assert config_key(local) == config_key(server)
    plan = plan_push_config(config_of(local), config_of(server))
    assert plan.unchanged == ('v',) and not plan.has_changes


def test_config_rollout_order_matters() -> None:
    server = full_var('v')
    local = server.model_copy(update={'rollout': Rollout(labels={'stg': 0.5, 'prod': 0.5})})
    assert config_key(local) != config_key(server)


def test_config_update_keeps_server_versions_of_unchanged_values() -> None:
    server = server_var(
        'v',
        labels={
            'a': LabeledValue(version=4, serialized_value='{"x": 1}'),
            'b': LabeledValue(version=5, serialized_value='2'),
        },
        rollout=Rollout(labels={'a': 1.0}),
    )
    local = server_var(
        'v',
        labels={
            'a': LabeledValue(version=1, serialized_value='{"x":1}'),
            'b': LabeledValue(version=1, serialized_value='3'),
        },
        rollout=Rollout(labels={'a': 1.0}),
    )
    (update,) = plan_push_config(config_of(local), config_of(server)).updates
    assert update.labels['a'] == LabeledValue(version=4, serialized_value='{"x": 1}')
    assert update.labels['b'] == LabeledValue(version=1, serialized_value='3')


@pytest.mark.parametrize('mode', ['merge', 'replace'])
def test_empty_server_creates_everything(mode: str) -> None:
    local = config_of(full_var('a'), full_var('b'))
    plan = plan_push_config(local, config_of(), mode)  # type: ignore[arg-type]
    assert [c.name for c in plan.creates] == ['a', 'b']
    assert plan.deletes == ()


# -- field-level changes and --strict of push-config -----------------------------------------------


def served_banner() -> VariableConfig:
    return server_var(
        'banner',
        schema={'type': 'string'},
        labels={
            'production': LabeledValue(version=1, serialized_value='"hi"'),
            'canary': LabeledValue(version=2, serialized_value='"hey"'),
        },
        rollout=Rollout(labels={'production': 1.0}),
        latest_version=LatestVersion(version=2, serialized_value='"hey"'),
        type_name='Banner',
    )


def test_a_build_config_template_over_served_labels_is_destructive(client: remotevars.Client) -> None:
    template = remotevars.variables_build_config([client.var('banner', type=str, default='Welcome')])
    plan = plan_push_config(template, config_of(served_banner()))
    (diff,) = plan.diffs
    assert plan.destructive == (diff,)
    assert [(c.label, c.after) for c in diff.labels] == [('production', None), ('canary', None)]
    assert "removes label 'production', which the rollout serves" in diff.destructive
    assert diff.type_name is None  # a write never sends type_name: the server keeps 'Banner'


def test_config_plan_diffs_cover_creates_updates_and_deletes_in_order() -> None:
    server = config_of(served_banner(), full_var('gone'), full_var('keep'))
    moved = served_banner().model_copy(update={'rollout': Rollout(labels={'production': 0.5, 'canary': 0.5})})
    local = config_of(full_var('new'), moved, full_var('keep'))
    plan = plan_push_config(local, server, 'replace')
    assert [(d.name, d.kind) for d in plan.diffs] == [('new', 'create'), ('banner', 'update'), ('gone', 'delete')]
    new, banner, gone = plan.diffs
    # The server numbers a new variable's versions.
    assert [c.after for c in new.labels] == ['new version 1', "-> label 'prod'"]
    assert not banner.is_destructive and banner.labels == ()
    assert gone.destructive == ("deletes 'gone': every read gets the code default",)


def test_push_plan_diffs_are_metadata_only(client: remotevars.Client) -> None:
    server = config_of(served_banner())
    plan = plan_push([client.var('banner', type=int, default=1, description='Now a number')], server)
    (diff,) = plan.diffs
    assert diff.schema_changed and diff.description == (None, 'Now a number')
    assert diff.labels == () and diff.rollout is None and not diff.is_destructive


def test_check_config_values_against_the_code(client: remotevars.Client) -> None:
    limit = client.var('limit', type=int, default=3)
    config = config_of(
        server_var(
            'limit_v2',
            aliases=['limit'],
            labels={
                'production': LabeledValue(version=1, serialized_value='"lots"'),
                'canary': LabeledValue(version=2, serialized_value='5'),
                'default': LabelRef(ref='code_default'),
            },
            latest_version=LatestVersion(version=3, serialized_value='[1]'),
        ),
        server_var('not_in_code', labels={'production': LabeledValue(version=1, serialized_value='"x"')}),
    )
    check = check_config_values(config, [limit])
    assert [(e.variable_name, e.label) for e in check.errors] == [('limit_v2', 'production'), ('limit_v2', 'latest')]
    assert check.errors[0].error.startswith('1 validation error for int')
    assert check.unchecked == ('not_in_code',)
    assert check_config_values(config, []).errors == ()
