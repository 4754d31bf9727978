"""``var()`` and ``Variable.get()``: typing, reasons, fallbacks, overrides, targeting (contract §3.6-§3.12).

Tests marked "fix" assert a deliberate difference from the reference SDK (contract §9) and would fail
on the reference's behaviour.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import threading
from typing import Any

import anyio
import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict

import remotevars
from remotevars import (
    LocalVariablesOptions,
    ResolvedVariable,
    VariableRegistrationError,
    VariablesConfig,
    is_resolve_function,
    targeting_context,
)


class Agent(BaseModel):
    model: str
    temperature: float


@dataclasses.dataclass
class Limits:
    per_minute: int


class Point(TypedDict):
    x: int
    y: int


def labelled(name: str, labels: dict[str, Any], rollout: dict[str, float], **extra: Any) -> dict[str, Any]:
    """A wire variable whose labels hold the JSON of the given Python values (or ref dicts)."""
    wire_labels = {}
    for i, (label, value) in enumerate(labels.items()):
        if isinstance(value, dict) and 'ref' in value:
            wire_labels[label] = value
        else:
            wire_labels[label] = {'version': i + 1, 'serialized_value': json.dumps(value)}
    return {'name': name, 'labels': wire_labels, 'rollout': {'labels': rollout}, 'overrides': [], **extra}


def configure(client: remotevars.Client, *variables: dict[str, Any]) -> None:
    config = VariablesConfig.model_validate({'variables': {v['name']: v for v in variables}})
    client.configure(LocalVariablesOptions(config=config))


class TestDeclaring:
    def test_type_inferred_from_default(self, client: remotevars.Client) -> None:
        assert client.var('n', default=3).value_type is int

    def test_type_required_for_function_or_none_default(self, client: remotevars.Client) -> None:
        with pytest.raises(TypeError, match='`type` must be provided'):
            client.var('f', default=lambda key, attrs: 1)
        with pytest.raises(TypeError, match='`type` must be provided'):
            client.var('n', default=None)

    @pytest.mark.parametrize('name', ['1bad', 'bad-name!', 'has space', ''])
    def test_invalid_names(self, client: remotevars.Client, name: str) -> None:
        with pytest.raises(VariableRegistrationError, match='Invalid variable name'):
            client.var(name, default=1)

    def test_trailing_newline_name_rejected(self, client: remotevars.Client) -> None:
        # fix (§9.32): the reference's re.match with `$` accepts 'abc\n'.
        with pytest.raises(VariableRegistrationError):
            client.var('abc\n', default=1)

    @pytest.mark.parametrize('second', ['world', 3])
    def test_duplicate_name_raises(self, client: remotevars.Client, second: object) -> None:
        # Issue 15 item 2: a second declaration used to replace the first silently (push, validate and
        # build-config then saw only the second); the reference raises this ValueError.
        first = client.var('dup_var', default='hello')
        with pytest.raises(ValueError, match="A variable with name 'dup_var' has already been registered"):
            client.var('dup_var', default=second)
        assert client.variables() == [first]

    def test_duplicate_name_across_kinds_raises(self, client: remotevars.Client) -> None:
        client.var('dup_var', default='hello')
        with pytest.raises(VariableRegistrationError, match='already been registered'):
            client.template_var('dup_var', default='hi {{x}}', inputs_type=dict)

    def test_module_level_var_uses_the_default_client(self) -> None:
        v = remotevars.var('module_level_example_variable', default=1, description='d')
        try:
            assert v.client is remotevars.get_client()
            assert v in remotevars.variables_get()
        finally:
            remotevars.get_client().clear()


class TestTypes:
    def test_scalars_models_dataclasses_typeddicts_lists(self, client: remotevars.Client) -> None:
        configure(
            client,
            labelled('b', {'p': True}, {'p': 1.0}),
            labelled('f', {'p': 0.5}, {'p': 1.0}),
            labelled('s', {'p': 'hi'}, {'p': 1.0}),
            labelled('m', {'p': {'model': 'gpt', 'temperature': 0.2}}, {'p': 1.0}),
            labelled('d', {'p': {'per_minute': 7}}, {'p': 1.0}),
            labelled('t', {'p': {'x': 1, 'y': 2}}, {'p': 1.0}),
            labelled('l', {'p': ['a', 'b']}, {'p': 1.0}),
            labelled('mp', {'p': {'k': 1}}, {'p': 1.0}),
        )
        assert client.var('b', default=False).get().value is True
        assert client.var('f', default=0.0).get().value == 0.5
        assert client.var('s', default='').get().value == 'hi'
        assert client.var('m', type=Agent, default=Agent(model='x', temperature=0)).get().value == Agent(
            model='gpt', temperature=0.2
        )
        assert client.var('d', type=Limits, default=Limits(1)).get().value == Limits(7)
        assert client.var('t', type=Point, default={'x': 0, 'y': 0}).get().value == {'x': 1, 'y': 2}
        assert client.var('l', type=list[str], default=[]).get().value == ['a', 'b']
        assert client.var('mp', type=dict[str, int], default={}).get().value == {'k': 1}


class TestReasons:
    def test_no_provider(self, client: remotevars.Client) -> None:
        # fix (§9.10): the reference reports every one of these as 'code_default'.
        result = client.var('v', default=1).get()
        assert (result.value, result.reason, result.label, result.version) == (1, 'no_provider', None, None)

    def test_unrecognized_variable(self, client: remotevars.Client) -> None:
        configure(client, labelled('other', {'p': 1}, {'p': 1.0}))
        assert client.var('v', default=1).get().reason == 'unrecognized_variable'

    def test_remainder_is_code_default(self, client: remotevars.Client) -> None:
        configure(client, labelled('v', {'p': 2}, {'p': 0.0}))
        result = client.var('v', default=1).get(targeting_key='k')
        assert (result.value, result.reason, result.label) == (1, 'code_default', None)

    def test_empty_rollout_is_code_default(self, client: remotevars.Client) -> None:
        configure(client, labelled('v', {'p': 2}, {}))
        assert client.var('v', default=1).get().reason == 'code_default'

    def test_resolved_carries_label_and_version(self, client: remotevars.Client) -> None:
        configure(client, labelled('v', {'a': 10, 'b': 20}, {'b': 1.0}))
        result = client.var('v', default=1).get()
        assert (result.value, result.label, result.version, result.reason, result.exception) == (
            20,
            'b',
            2,
            'resolved',
            None,
        )

    def test_latest_ref_without_versions_reports_code_default(self, client: remotevars.Client) -> None:
        configure(client, labelled('v', {'l': {'ref': 'latest'}}, {'l': 1.0}))
        result = client.var('v', default=1).get()
        assert (result.value, result.reason, result.label, result.version) == (1, 'code_default', None, None)

    def test_latest_ref_serves_latest_version(self, client: remotevars.Client) -> None:
        configure(
            client,
            labelled('v', {'l': {'ref': 'latest'}}, {'l': 1.0}, latest_version={'version': 9, 'serialized_value': '5'}),
        )
        result = client.var('v', default=1).get()
        assert (result.value, result.label, result.version) == (5, 'l', 9)


class TestValidationErrors:
    def test_bad_value_falls_back_without_label_or_version(
        self, client: remotevars.Client, caplog: pytest.LogCaptureFixture
    ) -> None:
        configure(client, labelled('v', {'p': 'not a number'}, {'p': 1.0}))
        v = client.var('v', default=1)
        with caplog.at_level(logging.WARNING, logger='remotevars'):
            first = v.get()
            for _ in range(5):
                v.get()
        assert first.value == 1
        assert first.reason == 'validation_error'
        assert first.exception is not None
        # fix (§9.11): the reference keeps the failed label and version on the result.
        assert (first.label, first.version) == (None, None)
        # Logged once per (variable, version), not per read.
        assert len([r for r in caplog.records if "'v'" in r.getMessage()]) == 1

    def test_value_validated_once(self, client: remotevars.Client) -> None:
        calls = 0

        class Counted(BaseModel):
            n: int

            def model_post_init(self, context: Any) -> None:
                nonlocal calls
                calls += 1

        configure(client, labelled('v', {'p': {'n': 1}}, {'p': 1.0}))
        v = client.var('v', type=Counted, default=Counted(n=0))
        calls = 0
        for _ in range(10):
            assert v.get().value.n == 1
        assert calls == 1


class TestExplicitLabel:
    def test_explicit_label(self, client: remotevars.Client) -> None:
        configure(client, labelled('v', {'a': 'A', 'b': 'B'}, {'a': 1.0}))
        v = client.var('v', default='-')
        result = v.get(label='b')
        assert (result.value, result.label, result.version) == ('B', 'b', 2)

    def test_missing_label_falls_through_to_rollout(self, client: remotevars.Client) -> None:
        configure(client, labelled('v', {'a': 'A'}, {'a': 1.0}))
        assert client.var('v', default='-').get(label='nope').label == 'a'

    def test_label_referring_to_code_default_serves_code_default(self, client: remotevars.Client) -> None:
        # fix (§9.8): the reference falls through to the rollout and serves 'A' here.
        configure(client, labelled('v', {'a': 'A', 'off': {'ref': 'code_default'}}, {'a': 1.0}))
        result = client.var('v', default='-').get(label='off')
        assert (result.value, result.reason) == ('-', 'code_default')


class TestDefaultsAndOverrides:
    def test_function_default_called_once_per_read_with_key_and_attributes(self, client: remotevars.Client) -> None:
        seen: list[tuple[Any, Any]] = []

        def default(key: Any, attributes: Any) -> int:
            seen.append((key, dict(attributes)))
            return 7

        v = client.var('v', type=int, default=default)
        assert v.get(targeting_key='k', attributes={'a': 1}).value == 7
        assert seen == [('k', {'a': 1})]

    def test_raising_function_default(self, client: remotevars.Client) -> None:
        def default(key: Any, attributes: Any) -> int:
            raise RuntimeError('boom')

        result = client.var('v', type=int, default=default).get()
        assert (result.value, result.reason) == (None, 'other_error')
        assert isinstance(result.exception, RuntimeError)

    def test_override_context_manager_nests(self, client: remotevars.Client) -> None:
        v = client.var('v', default=1)
        with v.override(2):
            assert (v.get().value, v.get().reason) == (2, 'context_override')
            with v.override(3):
                assert v.get().value == 3
            assert v.get().value == 2
        assert v.get().value == 1

    def test_override_with_function(self, client: remotevars.Client) -> None:
        v = client.var('v', default='x')
        with v.override(lambda key, attrs: f'{key}-{attrs["plan"]}'):
            assert v.get(targeting_key='u1', attributes={'plan': 'pro'}).value == 'u1-pro'

    def test_override_is_per_thread(self, client: remotevars.Client) -> None:
        v = client.var('v', default=1)
        seen: list[int] = []
        with v.override(2):
            thread = threading.Thread(target=lambda: seen.append(v.get().value))
            thread.start()
            thread.join(5)
        assert seen == [1]

    def test_override_that_does_not_fit_the_type(self, client: remotevars.Client) -> None:
        # fix (§9.15): the reference returns an unserialisable override verbatim, unvalidated.
        v = client.var('v', default=1)
        with v.override('not a number'):
            result = v.get()
        assert (result.value, result.reason) == (1, 'validation_error')


class TestTargetingContext:
    def _rollout_client(self, client: remotevars.Client) -> remotevars.Variable[str]:
        configure(client, labelled('v', {'a': 'A', 'b': 'B'}, {'a': 0.5, 'b': 0.5}))
        return client.var('v', default='-')

    def test_default_key(self, client: remotevars.Client) -> None:
        v = self._rollout_client(client)
        with targeting_context('user1'):
            assert v.get().label == v.get(targeting_key='user1').label
            assert len({v.get().label for _ in range(20)}) == 1

    def test_variable_specific_beats_default_in_any_nesting(self, client: remotevars.Client) -> None:
        v = self._rollout_client(client)
        keys = [f'k{i}' for i in range(40)]
        labels = {k: v.get(targeting_key=k).label for k in keys}
        a_key = next(k for k in keys if labels[k] == 'a')
        b_key = next(k for k in keys if labels[k] == 'b')
        with targeting_context(a_key), targeting_context(b_key, variables=[v]):
            assert v.get().label == 'b'
        with targeting_context(b_key, variables=[v]), targeting_context(a_key):
            assert v.get().label == 'b'
        with targeting_context(a_key):
            assert v.get(targeting_key=b_key).label == 'b'  # the call site wins

    def test_context_resets_after_exit(self, client: remotevars.Client) -> None:
        with targeting_context('outer'), targeting_context('inner', variables=['v']):
            pass
        from remotevars._targeting import current_targeting

        assert current_targeting() is None

    def test_context_attributes_feed_overrides(self, client: remotevars.Client) -> None:
        override = {
            'conditions': [{'kind': 'value-equals', 'attribute': 'plan', 'value': 'ent'}],
            'rollout': {'labels': {'b': 1.0}},
        }
        configure(client, labelled('v', {'a': 'A', 'b': 'B'}, {'a': 1.0}, overrides=[override]))
        v = client.var('v', default='-')
        with targeting_context('u', attributes={'plan': 'ent'}):
            assert v.get().label == 'b'
            assert v.get(attributes={'plan': 'free'}).label == 'a'  # call attributes win
        assert v.get().label == 'a'


class TestResolvedVariable:
    def test_immutable(self) -> None:
        result = ResolvedVariable(name='v', value=1, reason='resolved')
        with pytest.raises(AttributeError):
            result.value = 2  # type: ignore[misc]

    def test_context_manager_records_active_result(self, client: remotevars.Client) -> None:
        configure(client, labelled('v', {'p': 1}, {'p': 1.0}))
        v = client.var('v', default=0)
        with v.get() as outer:
            assert remotevars.active_variables() == {'v': outer}
            with client.var('w', default=0).get() as inner:
                assert set(remotevars.active_variables()) == {'v', 'w'}
                assert inner.reason == 'unrecognized_variable'
        assert remotevars.active_variables() == {}

    def test_context_manager_unwinds_on_exception(self) -> None:
        with pytest.raises(KeyError), ResolvedVariable(name='v', value=1, reason='resolved'):
            raise KeyError('x')
        assert remotevars.active_variables() == {}


class TestNeverRaises:
    def test_failure_during_resolution_gives_other_error(
        self, client: remotevars.Client, caplog: pytest.LogCaptureFixture
    ) -> None:
        class Hostile:
            def __eq__(self, other: object) -> bool:
                raise RuntimeError('no comparing me')

            __hash__ = object.__hash__

        override = {
            'conditions': [{'kind': 'value-equals', 'attribute': 'plan', 'value': 'ent'}],
            'rollout': {'labels': {'b': 1.0}},
        }
        configure(client, labelled('v', {'a': 1, 'b': 2}, {'a': 1.0}, overrides=[override]))
        with caplog.at_level(logging.ERROR, logger='remotevars'):
            result = client.var('v', default=0).get(attributes={'plan': Hostile()})
        assert (result.value, result.reason) == (0, 'other_error')
        assert isinstance(result.exception, RuntimeError)
        assert 'could not be resolved' in caplog.text

    def test_refresh_sync_and_async(self, client: remotevars.Client) -> None:
        v = client.var('v', default=0)
        v.refresh_sync(force=True)
        asyncio.run(v.refresh(force=True))
        assert v.get().value == 0

    @pytest.mark.parametrize('backend', ['asyncio', 'trio'])
    def test_awaited_refresh_reloads_on_asyncio_and_trio(
        self, client: remotevars.Client, tmp_path: Any, backend: str
    ) -> None:
        # The reference awaits a worker thread through anyio, so trio apps can refresh too.
        path = tmp_path / 'variables.json'

        def write(value: int) -> None:
            variables = {'v': labelled('v', {'a': value}, {'a': 1.0})}
            path.write_text(json.dumps({'variables': variables}))

        write(1)
        client.configure(LocalVariablesOptions(config=path, watch=False))
        v = client.var('v', default=0)
        write(2)
        anyio.run(v.refresh, backend=backend)
        assert v.get().value == 2


@pytest.mark.parametrize(
    ('candidate', 'expected'),
    [
        (lambda a, b: 1, True),
        (lambda x, y: 1, True),
        (lambda a: 1, False),
        ('text', False),
        (3, False),
        (lambda: 1, False),
        (lambda *args: 1, True),
        (lambda a, b, c, *args: 1, False),
        (lambda a, b, **kw: 1, True),
        (lambda a, b=1: 1, True),
        (lambda a=1, b=2: 1, True),
        (lambda a, b, *, c: 1, True),
    ],
)
def test_is_resolve_function(candidate: Any, expected: bool) -> None:
    assert is_resolve_function(candidate) is expected


def test_uninspectable_callable_is_not_a_resolve_function() -> None:
    class Broken:
        @property
        def __signature__(self) -> Any:
            raise ValueError('no signature')

        def __call__(self, a: Any, b: Any) -> int:
            return 1

    assert is_resolve_function(Broken()) is False


class TestCachedResults:
    def test_fixed_results_follow_each_new_config(self, client: remotevars.Client) -> None:
        configure(client, labelled('v', {'p': 1}, {'p': 1.0}))
        v = client.var('v', default=0)
        assert v.get().value == 1 and v.get() is v.get()
        configure(client, labelled('v', {'p': 2}, {'p': 1.0}))
        assert v.get().value == 2
        configure(client, labelled('other', {'p': 2}, {'p': 1.0}))
        assert v.get().reason == 'unrecognized_variable'

    def test_function_default_is_never_frozen(self, client: remotevars.Client) -> None:
        configure(client, labelled('v', {'p': 'not an int'}, {'p': 1.0}), labelled('w', {'p': 1}, {}))
        calls: list[Any] = []

        def default(key: Any, attributes: Any) -> int:
            calls.append(key)
            return len(calls)

        v = client.var('v', type=int, default=default)
        missing = client.var('missing', type=int, default=default)
        assert [v.get(targeting_key=k).value for k in 'ab'] == [1, 2]
        assert [missing.get(targeting_key=k).value for k in 'cd'] == [3, 4]
        assert calls == ['a', 'b', 'c', 'd']

    def test_fixed_results_respect_the_active_client(self, client: remotevars.Client) -> None:
        other = remotevars.Client()
        try:
            configure(client, labelled('v', {'p': 1}, {'p': 1.0}))
            configure(other, labelled('v', {'p': 2}, {'p': 1.0}))
            v = client.var('v', default=0)
            assert v.get().value == 1
            with other.activated():
                assert v.get().value == 2
            assert v.get().value == 1
        finally:
            other.shutdown()
