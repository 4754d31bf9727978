"""The wire-compatible config models (contract §2): shapes, defaults, validation messages, helpers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import remotevars
from remotevars import (
    KeyIsNotPresent,
    KeyIsPresent,
    LabeledValue,
    LabelRef,
    LatestVersion,
    Rollout,
    RolloutOverride,
    ValueDoesNotEqual,
    ValueDoesNotMatchRegex,
    ValueEquals,
    ValueIsIn,
    ValueIsNotIn,
    ValueMatchesRegex,
    VariableConfig,
    VariablesConfig,
    VariableTypeConfig,
)
from tests.conftest import FIXTURES

# A file as the reference SDK writes it (model_dump_json of every label kind, all condition kinds).
REFERENCE_FILE: dict[str, Any] = {
    'variables': {
        'v': {
            'name': 'v',
            'description': None,
            'labels': {
                'a': {'version': 1, 'serialized_value': '"A"'},
                'b': {'version': 2, 'serialized_value': '"B"'},
                'cd': {'version': None, 'ref': 'code_default'},
                'l': {'version': 2, 'ref': 'latest'},
                'alias_of_a': {'version': None, 'ref': 'a'},
            },
            'rollout': {'labels': {'a': 0.9, 'b': 0.1}},
            'overrides': [
                {
                    'conditions': [
                        {'attribute': 'plan', 'value': 'ent', 'kind': 'value-equals'},
                        {'attribute': 'plan', 'value': 'free', 'kind': 'value-does-not-equal'},
                        {'attribute': 'c', 'values': ['US', 'UK'], 'kind': 'value-is-in'},
                        {'attribute': 'c', 'values': ['FR'], 'kind': 'value-is-not-in'},
                        {'attribute': 'e', 'pattern': '@x\\.com$', 'kind': 'value-matches-regex'},
                        {'attribute': 'e', 'pattern': '^admin', 'kind': 'value-does-not-match-regex'},
                        {'attribute': 'k', 'kind': 'key-is-present'},
                        {'attribute': 'z', 'kind': 'key-is-not-present'},
                    ],
                    'rollout': {'labels': {'b': 1.0}},
                }
            ],
            'latest_version': {'version': 2, 'serialized_value': '"B"'},
            'json_schema': {'type': 'string'},
            'type_name': None,
            'aliases': ['old_v'],
            'example': '"ex"',
            'template_inputs_schema': None,
        }
    }
}


def test_reference_file_loads_and_dumps_back_equal() -> None:
    config = VariablesConfig.model_validate_json(json.dumps(REFERENCE_FILE))
    assert json.loads(config.model_dump_json()) == REFERENCE_FILE
    # Same key order as the reference's models, so files diff cleanly.
    assert list(json.loads(config.model_dump_json())['variables']['v']) == list(REFERENCE_FILE['variables']['v'])


def test_reference_dump_of_minimal_variable_is_byte_identical() -> None:
    config = VariableConfig(
        name='v',
        labels={'a': LabeledValue(version=1, serialized_value='"A"'), 'cd': LabelRef(ref='code_default')},
        rollout=Rollout(labels={'a': 1.0}),
        overrides=[],
        aliases=['old_v'],
    )
    assert config.model_dump_json() == (
        '{"name":"v","description":null,"labels":{"a":{"version":1,"serialized_value":"\\"A\\""},'
        '"cd":{"version":null,"ref":"code_default"}},"rollout":{"labels":{"a":1.0}},"overrides":[],'
        '"latest_version":null,"json_schema":null,"type_name":null,"aliases":["old_v"],"example":null,'
        '"template_inputs_schema":null}'
    )


def test_unknown_keys_are_ignored() -> None:
    data = {
        'variables': {
            'v': {
                'name': 'v',
                'labels': {'a': {'version': 1, 'serialized_value': '1', 'description': None}},
                'rollout': {'labels': {'a': 1.0}},
                'overrides': [],
                'external': False,
            }
        }
    }
    assert VariablesConfig.model_validate(data).variables['v'].labels['a'] == LabeledValue(
        version=1, serialized_value='1'
    )


@pytest.mark.parametrize(
    ('cls', 'kind'),
    [
        (ValueEquals, 'value-equals'),
        (ValueDoesNotEqual, 'value-does-not-equal'),
        (ValueIsIn, 'value-is-in'),
        (ValueIsNotIn, 'value-is-not-in'),
        (ValueMatchesRegex, 'value-matches-regex'),
        (ValueDoesNotMatchRegex, 'value-does-not-match-regex'),
        (KeyIsPresent, 'key-is-present'),
        (KeyIsNotPresent, 'key-is-not-present'),
    ],
)
def test_condition_kind_discriminators(cls: type[BaseModel], kind: str) -> None:
    assert cls.model_fields['kind'].default == kind


def test_conditions_parse_by_discriminator() -> None:
    override = RolloutOverride.model_validate(
        {'conditions': [{'kind': 'key-is-present', 'attribute': 'k'}], 'rollout': {'labels': {}}}
    )
    assert isinstance(override.conditions[0], KeyIsPresent)
    with pytest.raises(ValidationError):
        RolloutOverride.model_validate({'conditions': [{'kind': 'nope', 'attribute': 'k'}], 'rollout': {}})


class TestConditionSemantics:
    def test_value_equals(self) -> None:
        c = ValueEquals(attribute='plan', value='ent')
        assert c.matches({'plan': 'ent'})
        assert not c.matches({'plan': 'free'})
        assert not c.matches({})

    def test_value_equals_uses_python_equality(self) -> None:
        assert ValueEquals(attribute='n', value=True).matches({'n': 1})
        assert ValueEquals(attribute='n', value=None).matches({'n': None})

    def test_value_does_not_equal(self) -> None:
        c = ValueDoesNotEqual(attribute='plan', value='ent')
        assert c.matches({'plan': 'free'})
        assert not c.matches({'plan': 'ent'})
        assert c.matches({})

    def test_value_is_in(self) -> None:
        c = ValueIsIn(attribute='c', values=['US', 'UK'])
        assert c.matches({'c': 'UK'})
        assert not c.matches({'c': 'FR'})
        assert not c.matches({})

    def test_value_is_not_in(self) -> None:
        c = ValueIsNotIn(attribute='c', values=['US', 'UK'])
        assert c.matches({'c': 'FR'})
        assert not c.matches({'c': 'US'})
        assert c.matches({})

    def test_value_matches_regex_is_an_unanchored_search(self) -> None:
        c = ValueMatchesRegex(attribute='e', pattern=r'@example\.com$')
        assert c.matches({'e': 'me@example.com'})
        assert not c.matches({'e': 'me@example.org'})
        assert not c.matches({})
        assert not c.matches({'e': 42})
        assert ValueMatchesRegex(attribute='e', pattern='mid').matches({'e': 'in the middle'})

    def test_value_matches_compiled_regex(self) -> None:
        c = ValueMatchesRegex(attribute='e', pattern=re.compile('^a'))
        assert c.matches({'e': 'abc'})
        assert json.loads(c.model_dump_json())['pattern'] == '^a'

    def test_value_does_not_match_regex(self) -> None:
        c = ValueDoesNotMatchRegex(attribute='e', pattern='^admin')
        assert c.matches({'e': 'user'})
        assert not c.matches({'e': 'admin1'})
        assert c.matches({})
        assert c.matches({'e': 42})

    def test_key_presence(self) -> None:
        assert KeyIsPresent(attribute='k').matches({'k': None})
        assert not KeyIsPresent(attribute='k').matches({})
        assert KeyIsNotPresent(attribute='k').matches({})
        assert not KeyIsNotPresent(attribute='k').matches({'k': 1})


class TestRolloutValidation:
    def test_sum_above_one_rejected(self) -> None:
        with pytest.raises(ValidationError, match='Label proportions must not sum to more than 1.'):
            Rollout(labels={'a': 0.6, 'b': 0.6})

    def test_negative_rejected(self) -> None:
        with pytest.raises(ValidationError, match='Label proportions must not be negative.'):
            Rollout(labels={'a': -0.1})

    def test_nan_rejected(self) -> None:
        # Deliberate difference: the reference accepts NaN and then fails on every read.
        with pytest.raises(ValidationError, match='finite'):
            Rollout(labels={'a': float('nan')})

    def test_tolerance(self) -> None:
        assert Rollout(labels={'a': 0.7, 'b': 0.2, 'c': 0.1}).labels['c'] == 0.1


class TestVariableConfigValidation:
    def _config(self, **overrides: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            'name': 'v',
            'labels': {'a': {'version': 1, 'serialized_value': '1'}},
            'rollout': {'labels': {'a': 1.0}},
            'overrides': [],
        }
        data.update(overrides)
        return data

    def test_rollout_label_must_exist(self) -> None:
        with pytest.raises(ValidationError, match=r"Label 'x' present in `rollout.labels` is not present in `labels`."):
            VariableConfig.model_validate(self._config(rollout={'labels': {'x': 1.0}}))

    def test_override_label_must_exist(self) -> None:
        overrides = [{'conditions': [], 'rollout': {'labels': {'x': 1.0}}}]
        with pytest.raises(ValidationError, match=r'`overrides\[0\].rollout` is not present'):
            VariableConfig.model_validate(self._config(overrides=overrides))

    def test_ref_must_exist(self) -> None:
        labels = {'a': {'version': 1, 'serialized_value': '1'}, 'b': {'ref': 'missing'}}
        with pytest.raises(ValidationError, match="Label 'b' has ref 'missing' which is not present in `labels`."):
            VariableConfig.model_validate(self._config(labels=labels))

    def test_reserved_refs_need_no_label(self) -> None:
        labels = {'a': {'version': 1, 'serialized_value': '1'}, 'l': {'ref': 'latest'}, 'c': {'ref': 'code_default'}}
        assert VariableConfig.model_validate(self._config(labels=labels)).labels['l'] == LabelRef(ref='latest')

    def test_label_that_is_neither_value_nor_ref_is_rejected(self) -> None:
        with pytest.raises(ValidationError):
            VariableConfig.model_validate(self._config(labels={'a': {'version': 1}}))

    @pytest.mark.parametrize('name', ['1bad', 'bad-name', 'bad name', 'abc\n', 'é'])
    def test_invalid_names_rejected(self, name: str) -> None:
        with pytest.raises(ValidationError):
            VariableConfig.model_validate(self._config(name=name))

    def test_invalid_alias_rejected(self) -> None:
        with pytest.raises(ValidationError):
            VariableConfig.model_validate(self._config(aliases=['ok', 'not ok']))

    def test_lookup_key_must_equal_name(self) -> None:
        with pytest.raises(ValidationError, match="`variables` has invalid lookup key 'w' for value with name 'v'."):
            VariablesConfig.model_validate({'variables': {'w': self._config()}})


def _variable(**fields: Any) -> VariableConfig:
    data: dict[str, Any] = {'name': 'v', 'rollout': {'labels': {}}, 'overrides': []}
    data.update(fields)
    return VariableConfig.model_validate(data)


class TestFollowRefAndResolveValue:
    def test_labelled_value(self) -> None:
        v = _variable(labels={'a': {'version': 2, 'serialized_value': '"x"'}})
        assert v.follow_ref(v.labels['a']) == ('"x"', 2)

    def test_latest(self) -> None:
        v = _variable(labels={'l': {'ref': 'latest'}}, latest_version={'version': 3, 'serialized_value': '"L"'})
        assert v.follow_ref(v.labels['l']) == ('"L"', 3)

    def test_latest_without_versions(self) -> None:
        v = _variable(labels={'l': {'ref': 'latest', 'version': 1}})
        assert v.follow_ref(v.labels['l']) == (None, 1)

    def test_code_default_even_with_latest(self) -> None:
        v = _variable(labels={'c': {'ref': 'code_default'}}, latest_version={'version': 3, 'serialized_value': '1'})
        assert v.follow_ref(v.labels['c']) == (None, None)

    def test_chain_returns_final_target_version(self) -> None:
        v = _variable(labels={'v1': {'version': 1, 'serialized_value': '"one"'}, 'v2': {'ref': 'v1', 'version': 7}})
        assert v.follow_ref(v.labels['v2']) == ('"one"', 1)

    def test_cycle(self) -> None:
        v = VariableConfig.model_construct(
            name='v',
            labels={'a': LabelRef(ref='b', version=1), 'b': LabelRef(ref='a', version=1)},
            rollout=Rollout(),
            overrides=[],
            latest_version=None,
        )
        assert v.follow_ref(v.labels['a']) == (None, 1)

    def test_dangling_ref(self) -> None:
        v = VariableConfig.model_construct(
            name='v',
            labels={'a': LabelRef(ref='gone', version=1)},
            rollout=Rollout(),
            overrides=[],
            latest_version=None,
        )
        assert v.follow_ref(v.labels['a']) == (None, 1)

    def test_code_default_ref_selected_by_rollout(self) -> None:
        v = _variable(labels={'v1': {'ref': 'code_default'}}, rollout={'labels': {'v1': 1.0}})
        assert v.resolve_value('k') == (None, 'v1', None)

    def test_explicit_label(self) -> None:
        v = _variable(
            labels={'a': {'version': 1, 'serialized_value': '"A"'}, 'b': {'version': 2, 'serialized_value': '"B"'}},
            rollout={'labels': {'a': 1.0}},
        )
        assert v.resolve_value('k', label='b') == ('"B"', 'b', 2)
        assert v.resolve_value('k', label='nope') == ('"A"', 'a', 1)

    def test_latest_version_is_not_an_implicit_fallback(self) -> None:
        v = _variable(latest_version={'version': 3, 'serialized_value': '1'})
        assert v.resolve_value('k') == (None, None, None)

    def test_override_first_match_wins(self) -> None:
        v = _variable(
            labels={'a': {'version': 1, 'serialized_value': '1'}, 'b': {'version': 2, 'serialized_value': '2'}},
            rollout={'labels': {'a': 1.0}},
            overrides=[
                {
                    'conditions': [{'kind': 'value-equals', 'attribute': 'plan', 'value': 'ent'}],
                    'rollout': {'labels': {'b': 1.0}},
                },
                {'conditions': [], 'rollout': {'labels': {'a': 1.0}}},
            ],
        )
        assert v.resolve_label('k', {'plan': 'ent'}) == 'b'
        assert v.resolve_label('k', {'plan': 'free'}) == 'a'

    def test_conditions_are_anded(self) -> None:
        conditions = [
            {'kind': 'value-equals', 'attribute': 'plan', 'value': 'ent'},
            {'kind': 'value-equals', 'attribute': 'region', 'value': 'eu'},
        ]
        v = _variable(
            labels={'a': {'version': 1, 'serialized_value': '1'}, 'b': {'version': 2, 'serialized_value': '2'}},
            rollout={'labels': {'a': 1.0}},
            overrides=[{'conditions': conditions, 'rollout': {'labels': {'b': 1.0}}}],
        )
        assert v.resolve_label('k', {'plan': 'ent', 'region': 'eu'}) == 'b'
        for attrs in ({'plan': 'ent'}, {'region': 'eu'}, {'plan': 'x', 'region': 'eu'}, {}):
            assert v.resolve_label('k', attrs) == 'a'


class TestVariablesConfigHelpers:
    def _config(self) -> VariablesConfig:
        return VariablesConfig.model_validate(
            {
                'variables': {
                    'new_name': {
                        'name': 'new_name',
                        'labels': {'p': {'version': 1, 'serialized_value': '"x"'}},
                        'rollout': {'labels': {'p': 1.0}},
                        'overrides': [],
                        'aliases': ['old_name', 'older_name'],
                    },
                    'zero': {
                        'name': 'zero',
                        'labels': {'p': {'version': 1, 'serialized_value': '"x"'}},
                        'rollout': {'labels': {'p': 0.0}},
                        'overrides': [],
                    },
                }
            }
        )

    def test_resolve_serialized_value_by_alias(self) -> None:
        config = self._config()
        for name in ('new_name', 'old_name', 'older_name'):
            result = config.resolve_serialized_value(name, 'k')
            assert (result.value, result.label, result.reason) == ('"x"', 'p', 'resolved')

    def test_unrecognized(self) -> None:
        assert self._config().resolve_serialized_value('nope').reason == 'unrecognized_variable'

    def test_remainder_is_resolved_with_no_value(self) -> None:
        result = self._config().resolve_serialized_value('zero', 'k')
        assert (result.value, result.reason) == (None, 'resolved')

    def test_merge_other_wins_whole_entry(self) -> None:
        base = self._config()
        other = VariablesConfig(
            variables={'zero': VariableConfig(name='zero', rollout=Rollout(), overrides=[], description='d')}
        )
        merged = base.merge(other)
        assert set(merged.variables) == {'new_name', 'zero'}
        assert merged.variables['zero'].labels == {}
        assert merged.variables['zero'].description == 'd'
        assert base.variables['zero'].labels  # the inputs are untouched

    def test_get_validation_errors(self) -> None:
        client = remotevars.Client()
        good = client.var('new_name', type=str, default='d')
        bad = client.var('zero', type=int, default=0)
        missing = client.var('missing', type=int, default=0)
        config = self._config()
        config.variables['zero'].latest_version = LatestVersion(version=1, serialized_value='"x"')
        errors = config.get_validation_errors([good, bad, missing])
        assert set(errors) == {'zero', 'missing'}
        assert set(errors['zero']) == {'p', 'latest'}
        assert isinstance(errors['zero']['p'], ValidationError)
        assert 'No config for variable' in str(errors['missing'][None])

    def test_from_variables(self) -> None:
        class Settings(BaseModel):
            limit: int = 3

        client = remotevars.Client()
        a = client.var('a', default='hello', description='greeting')
        b = client.var('b', type=int, default=42)
        c = client.var('c', type=Settings, default=Settings())
        f = client.var('f', type=int, default=lambda key, attrs: 1)
        config = VariablesConfig.from_variables([a, b, c, f])
        assert config.variables['a'].example == '"hello"'
        assert config.variables['a'].description == 'greeting'
        assert config.variables['a'].json_schema == {'type': 'string'}
        assert config.variables['b'].example == '42'
        assert config.variables['c'].example == '{"limit":3}'
        assert config.variables['f'].example is None
        assert config.variables['b'].labels == {} and config.variables['b'].rollout.labels == {}

    def test_from_variables_unserialisable_default_names_the_variable(self) -> None:
        client = remotevars.Client()
        v = client.var('weird', type=Any, default=object())
        with pytest.raises(remotevars.VariableSerializationError, match="'weird'"):
            VariablesConfig.from_variables([v])
        assert v.to_config().example is None  # non-strict export tolerates it


def test_variable_type_config_fields() -> None:
    t = VariableTypeConfig(name='T', json_schema={'type': 'object'}, source_hint='m.T')
    assert list(json.loads(t.model_dump_json())) == ['name', 'json_schema', 'description', 'source_hint']


def test_file_written_by_the_reference_sdk_round_trips_byte_for_byte() -> None:
    text = (FIXTURES / 'reference_config.json').read_text()
    config = VariablesConfig.model_validate_json(text)
    assert config.model_dump_json(indent=2) + '\n' == text


def test_resolutions_match_the_reference_sdk(client: remotevars.Client) -> None:
    config = VariablesConfig.model_validate_json((FIXTURES / 'reference_config.json').read_text())
    expected = json.loads((FIXTURES / 'reference_config_resolutions.json').read_text())['cases']
    client.configure(remotevars.LocalVariablesOptions(config=config))
    agent = client.var('support_agent', type=dict[str, Any], default={})
    for case in expected:
        by_model = config.resolve_serialized_value('support_agent', case['key'], case['attributes'])
        assert (by_model.value, by_model.label, by_model.version) == (case['value'], case['label'], case['version'])
        result = agent.get(targeting_key=case['key'], attributes=case['attributes'])
        if case['value'] is None:
            assert (result.reason, result.label) == ('code_default', None)
        else:
            assert (result.value, result.label, result.version) == (
                json.loads(case['value']),
                case['label'],
                case['version'],
            )
