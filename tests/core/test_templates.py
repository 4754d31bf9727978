"""Template variables (``{{fields}}``), composition (``@{refs}@``) and the fallbacks around them (contract §7).

Also the behavioural differences of issue 15 (items 2-5): each test here failed on the code before it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from typing import Any

import pytest
from pydantic import BaseModel

import remotevars
from remotevars import (
    LocalVariablesOptions,
    TemplateInputsMismatchError,
    VariableCompositionCycleError,
    VariablesConfig,
)
from remotevars._compose import MAX_COMPOSITION_DEPTH, expand_references, find_references_and_errors, first_fatal_error


class Inputs(BaseModel):
    name: str
    plan: str = 'free'


def config_of(values: dict[str, Any], **extra: dict[str, Any]) -> VariablesConfig:
    """One label ``production`` (100 %) per variable, holding the JSON of the given value."""
    variables = {}
    for name, value in values.items():
        variables[name] = {
            'name': name,
            'labels': {'production': {'version': 1, 'serialized_value': json.dumps(value)}},
            'rollout': {'labels': {'production': 1.0}},
            'overrides': [],
            **extra.get(name, {}),
        }
    return VariablesConfig.model_validate({'variables': variables})


@pytest.fixture
def configured(client: remotevars.Client) -> Any:
    def configure(values: dict[str, Any], **extra: dict[str, Any]) -> remotevars.Client:
        client.configure(LocalVariablesOptions(config=config_of(values, **extra)))
        return client

    return configure


class TestTemplateVariable:
    def test_renders_config_value_with_inputs(self, configured: Any) -> None:
        client = configured({'welcome': 'Hello {{name}} <b>!'})
        welcome = client.template_var('welcome', default='Hi {{name}}', inputs_type=Inputs)
        result = welcome.get(Inputs(name='A & B'))
        # Prompts are not HTML: inputs are not escaped (the reference marks them safe).
        assert (result.value, result.label, result.version, result.reason) == (
            'Hello A & B <b>!',
            'production',
            1,
            'resolved',
        )

    def test_code_default_is_rendered(self, client: remotevars.Client) -> None:
        welcome = client.template_var('welcome', default='Hi {{name}} ({{plan}})', inputs_type=Inputs)
        assert welcome.get(Inputs(name='Al', plan='pro')).value == 'Hi Al (pro)'
        assert welcome.get({'name': 'Bo'}).value == 'Hi Bo ()'  # mappings work, missing fields render empty

    def test_structured_values_render_every_string(self, configured: Any) -> None:
        class Prompt(BaseModel):
            system: str
            examples: list[str]

        client = configured({'prompt': {'system': 'You help {{name}}', 'examples': ['{{plan}} plan', 'x']}})
        prompt = client.template_var('prompt', type=Prompt, default=Prompt(system='', examples=[]), inputs_type=Inputs)
        assert prompt.get(Inputs(name='Al')).value == Prompt(system='You help Al', examples=['free plan', 'x'])

    def test_schema_travels_in_the_config(self, client: remotevars.Client) -> None:
        welcome = client.template_var('welcome', default='Hi {{name}}', inputs_type=Inputs)
        assert welcome.to_config().template_inputs_schema == Inputs.model_json_schema()
        assert client.var('plain', default=1).to_config().template_inputs_schema is None

    def test_undeclared_field_warns_by_default(self, configured: Any) -> None:
        client = configured({'welcome': 'Hello {{nickname}}'})
        welcome = client.template_var('welcome', default='Hi', inputs_type=Inputs)
        with pytest.warns(RuntimeWarning, match="template references 'nickname' which are not declared"):
            assert welcome.get(Inputs(name='Al')).value == 'Hello '

    def test_error_policy_raises_out_of_get(self, configured: Any) -> None:
        client = configured({'welcome': 'Hello {{nickname}}'})
        welcome = client.template_var('welcome', default='Hi', inputs_type=Inputs, template_mismatch_policy='error')
        with pytest.raises(TemplateInputsMismatchError, match="'nickname'"):
            welcome.get(Inputs(name='Al'))

    def test_options_policy_applies_unless_the_variable_says(self, client: remotevars.Client) -> None:
        client.configure(
            LocalVariablesOptions(config=config_of({'a': 'x {{y}}', 'b': 'x {{y}}'}), template_mismatch_policy='ignore')
        )
        a = client.template_var('a', default='', inputs_type=Inputs)
        b = client.template_var('b', default='', inputs_type=Inputs, template_mismatch_policy='error')
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            assert a.get(Inputs(name='n')).value == 'x '
        with pytest.raises(TemplateInputsMismatchError):
            b.get(Inputs(name='n'))

    def test_render_failure_falls_back_to_rendered_default(self, configured: Any) -> None:
        client = configured({'welcome': 'Hello {{#if name}}unclosed'})
        welcome = client.template_var('welcome', default='Hi {{name}}', inputs_type=Inputs)
        with pytest.warns(RuntimeWarning, match='template rendering failed; falling back to code default'):
            result = welcome.get(Inputs(name='Al'))
        assert (result.value, result.reason, result.label) == ('Hi Al', 'other_error', None)
        assert result.exception is not None

    def test_override_is_rendered(self, client: remotevars.Client) -> None:
        welcome = client.template_var('welcome', default='Hi {{name}}', inputs_type=Inputs)
        with welcome.override('Yo {{name}}'):
            result = welcome.get(Inputs(name='Al'))
        assert (result.value, result.reason) == ('Yo Al', 'context_override')

    def test_plain_variable_composing_a_template_warns_at_declaration(self, client: remotevars.Client) -> None:
        client.template_var('greeting', default='Hi {{name}}', inputs_type=Inputs)
        with pytest.warns(RuntimeWarning, match="'page' composes template variable 'greeting'"):
            client.var('page', default='@{greeting}@!')


class TestComposition:
    def test_plain_variable_composes_config_values(self, configured: Any) -> None:
        client = configured({'page': 'Hi @{who}@, @{#if vip}@VIP@{else}@guest@{/if}@ \\@{lit}@', 'who': 'Al'})
        page = client.var('page', default='')
        client.var('vip', default=False)
        result = page.get()
        assert (result.value, result.reason, result.label) == ('Hi Al, guest @{lit}@', 'resolved', 'production')
        assert [(r.name, r.value, r.reason) for r in result.composed_from] == [
            ('vip', 'false', 'code_default'),
            ('who', 'Al', 'resolved'),
        ]

    def test_dotted_and_each(self, configured: Any) -> None:
        client = configured({'page': '@{user.name}@: @{#each tags}@[@{this}@]@{/each}@'})
        client.var('user', default={'name': 'Bo'})
        client.var('tags', default=['a', 'b'])
        assert client.var('page', default='').get().value == 'Bo: [a][b]'

    def test_missing_reference_in_config_value_falls_back(self, configured: Any) -> None:
        client = configured({'page': 'Hi @{nobody}@'})
        page = client.var('page', default='fallback @{nobody}@.')
        with pytest.warns(RuntimeWarning) as record:
            result = page.get()
        # The config value composes strictly (fails); the default leniently (missing -> empty).
        assert (result.value, result.reason, result.label, result.version) == ('fallback .', 'other_error', None, None)
        messages = [str(w.message) for w in record]
        assert any('composition failed; falling back to code default' in m for m in messages)
        assert any('unresolved composition reference(s)' in m for m in messages)

    def test_cycle_serves_the_raw_default(self, configured: Any) -> None:
        client = configured({'a': 'A @{b}@', 'b': 'B @{a}@'})
        a = client.var('a', default='plain a')
        client.var('b', default='plain b')
        with pytest.warns(RuntimeWarning, match='Circular reference detected: a -> b -> a'):
            result = a.get()
        assert (result.value, result.reason) == ('plain a', 'other_error')
        assert first_fatal_error(result.composed_from) == 'Circular reference detected: a -> b -> a'

    def test_references_follow_targeting_and_overrides(self, configured: Any) -> None:
        client = configured(
            {'page': '@{tier}@'},
            tier={
                'labels': {
                    'x': {'version': 1, 'serialized_value': '"gold"'},
                    'y': {'version': 2, 'serialized_value': '"lead"'},
                },
                'rollout': {'labels': {'x': 0.5, 'y': 0.5}},
            },
        )
        page = client.var('page', default='')
        tier = client.var('tier', default='none')
        for key in ('u1', 'u2', 'u3', 'u4'):
            assert page.get(key).value == tier.get(key).value
        with tier.override('over'):
            assert page.get('u1').value == 'over'

    def test_composing_code_default_without_config(self, client: remotevars.Client) -> None:
        client.var('name', default='Al')
        page = client.var('page', default='Hi @{name}@')
        first, second = page.get(), page.get()
        assert (first.value, first.reason) == ('Hi Al', 'no_provider')
        assert second.value == 'Hi Al'

    def test_depth_limit(self) -> None:
        def resolve(name: str) -> tuple[str | None, str | None, int | None, Any]:
            return json.dumps(f'@{{v{int(name[1:]) + 1}}}@'), None, None, 'resolved'

        _, composed = expand_references(json.dumps('@{v1}@'), 'v0', resolve, strict=True)
        assert f'Maximum composition depth ({MAX_COMPOSITION_DEPTH}) exceeded' in str(first_fatal_error(composed))

    def test_self_reference_raises_cycle(self) -> None:
        with pytest.raises(VariableCompositionCycleError):
            expand_references('"x"', 'a', lambda _: (None, None, None, 'resolved'), strict=True, _visited=('a',))

    def test_parse_errors_are_reported_not_raised(self) -> None:
        refs, errors = find_references_and_errors(json.dumps(['@{#if x}@ open', '@{ok}@', '@{true}@']))
        assert refs == ['ok']
        assert len(errors) == 2 and all('could not be parsed as a composition template' in e for e in errors)


class TestBehaviouralDifferences:
    """Issue 15 items 3-5: each of these failed before."""

    def test_default_is_decoded_through_the_type(self, client: remotevars.Client) -> None:
        ratio = client.var('ratio', type=float, default=1)
        value = ratio.get().value
        assert value == 1.0 and type(value) is float

    def test_default_that_does_not_fit_the_type_is_a_validation_error(self, client: remotevars.Client) -> None:
        with pytest.warns(RuntimeWarning, match="'title' code default does not fit its type"):
            title = client.var('title', type=str, default=5)
        result = title.get()
        assert (result.value, result.reason) == (5, 'validation_error')
        assert result.exception is not None

    def test_mutating_a_read_does_not_change_the_default(self, client: remotevars.Client) -> None:
        limits = client.var('limits', default={'per_minute': 10, 'tags': ['a']})
        first = limits.get().value
        first['per_minute'] = 0
        first['tags'].append('b')
        assert limits.get().value == {'per_minute': 10, 'tags': ['a']}
        assert limits.default == {'per_minute': 10, 'tags': ['a']}

    def test_failing_default_function_is_the_reported_exception(self, configured: Any) -> None:
        client = configured({'limit': 'not a number'})

        def broken(key: Any, attributes: Any) -> int:
            raise ZeroDivisionError('no default')

        limit = client.var('limit', type=int, default=broken)
        with pytest.warns(RuntimeWarning) as record:
            result = limit.get()
        assert (result.value, result.reason) == (None, 'other_error')
        assert isinstance(result.exception, ZeroDivisionError)
        messages = [str(w.message) for w in record]
        assert any("'limit' value failed validation; falling back to code default" in m for m in messages)
        assert any("'limit' could not be resolved and its code default raised; returning None" in m for m in messages)

    def test_failing_default_function_warns_without_config(self, client: remotevars.Client) -> None:
        def broken(key: Any, attributes: Any) -> int:
            raise RuntimeError('boom')

        limit = client.var('limit', type=int, default=broken)
        with pytest.warns(RuntimeWarning, match='code default raised; returning None: boom'):
            result = limit.get()
        assert (result.value, result.reason, type(result.exception)) == (None, 'other_error', RuntimeError)

    def test_warnings_as_errors_do_not_change_results(self, configured: Any) -> None:
        client = configured({'limit': 'not a number'})
        limit = client.var('limit', default=3)
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            result = limit.get()
        assert (result.value, result.reason) == (3, 'validation_error')


def test_import_does_not_load_the_renderer() -> None:
    code = 'import sys, remotevars; remotevars.var("x", default=1).get(); print("pydantic_handlebars" in sys.modules)'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == 'False'
