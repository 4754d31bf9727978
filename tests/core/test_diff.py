"""Field-level diffs of one variable and what makes a change destructive (remotevars._diff), and their lines."""

from __future__ import annotations

from typing import Any

import pytest

from remotevars._diff import code_default_share, diff_variable, rollout_text, target_text
from remotevars._render import render_variable_diff
from remotevars.config import LabeledValue, LabelRef, VariableConfig


def variable(**fields: Any) -> VariableConfig:
    data: dict[str, Any] = {'name': 'banner', 'rollout': {'labels': {}}, 'overrides': []}
    data.update(fields)
    return VariableConfig.model_validate(data)


PROD = {'version': 3, 'serialized_value': '"hello"'}
CANARY = {'version': 4, 'serialized_value': '"hi"'}
SERVED = variable(labels={'production': PROD, 'canary': CANARY}, rollout={'labels': {'production': 1.0}})


def test_a_template_push_over_served_labels_is_destructive_and_says_why() -> None:
    template = variable(json_schema={'type': 'string'}, example='"Welcome"')
    diff = diff_variable(SERVED, template)
    assert diff.kind == 'update' and diff.has_changes
    assert [(c.label, c.before, c.after) for c in diff.labels] == [
        ('production', 'version 3', None),
        ('canary', 'version 4', None),
    ]
    assert diff.rollout == ({'production': 1.0}, {})
    assert diff.destructive == (
        "removes label 'production', which the rollout serves",
        'sends 100% of the rollout to the code default (was 0%)',
    )
    lines = render_variable_diff(diff, colors=False)
    assert "    - label 'production': version 3" in lines
    assert '    ~ rollout: production=1 -> code default=1' in lines
    assert "    DESTRUCTIVE: removes label 'production', which the rollout serves" in lines


def test_adding_a_label_and_moving_weight_is_not_destructive() -> None:
    after = variable(
        labels={'production': PROD, 'canary': CANARY}, rollout={'labels': {'production': 0.9, 'canary': 0.1}}
    )
    diff = diff_variable(SERVED, after)
    assert diff.rollout == ({'production': 1.0}, {'production': 0.9, 'canary': 0.1})
    assert not diff.is_destructive
    assert diff.labels == ()


def test_removing_an_unserved_label_is_not_destructive() -> None:
    after = variable(labels={'production': PROD}, rollout={'labels': {'production': 1.0}})
    diff = diff_variable(SERVED, after)
    assert [(c.label, c.after) for c in diff.labels] == [('canary', None)]
    assert not diff.is_destructive


def test_a_served_label_pointed_at_the_code_default_is_destructive() -> None:
    after = variable(
        labels={'production': {'ref': 'code_default'}, 'canary': CANARY}, rollout={'labels': {'production': 1.0}}
    )
    diff = diff_variable(SERVED, after)
    assert [(c.label, c.before, c.after) for c in diff.labels] == [('production', 'version 3', '-> code default')]
    assert diff.destructive == ('sends 100% of the rollout to the code default (was 0%)',)


def test_labels_reached_through_refs_count_as_served() -> None:
    before = variable(labels={'production': {'ref': 'stable'}, 'stable': PROD}, rollout={'labels': {'production': 1.0}})
    after = variable(labels={'production': {'ref': 'latest'}}, rollout={'labels': {'production': 1.0}})
    diff = diff_variable(before, after)
    assert "removes label 'stable', which the rollout serves" in diff.destructive


def test_override_segments_are_compared_by_their_conditions() -> None:
    when_pro = [{'kind': 'value-equals', 'attribute': 'plan', 'value': 'pro'}]
    before = variable(
        labels={'production': PROD, 'canary': CANARY},
        rollout={'labels': {'production': 1.0}},
        overrides=[{'conditions': when_pro, 'rollout': {'labels': {'canary': 1.0}}}],
    )
    after = variable(
        labels={'production': PROD, 'canary': CANARY},
        rollout={'labels': {'production': 1.0}},
        overrides=[{'conditions': when_pro, 'rollout': {'labels': {'canary': 0.5}}}],
    )
    diff = diff_variable(before, after)
    assert diff.overrides_removed == ('when plan value-equals "pro": canary=1',)
    assert diff.overrides_added == ('when plan value-equals "pro": canary=0.5, code default=0.5',)
    assert diff.destructive == ('sends 50% of override [0] to the code default (was 0%)',)


def test_creating_and_deleting() -> None:
    assert diff_variable(None, SERVED).kind == 'create'
    assert not diff_variable(None, SERVED).is_destructive
    deleted = diff_variable(SERVED, None)
    assert deleted.kind == 'delete'
    assert deleted.destructive == ("deletes 'banner': every read gets the code default",)
    # A variable that served nothing but code defaults can go without a warning.
    assert not diff_variable(variable(), None).is_destructive
    with pytest.raises(ValueError):
        diff_variable(None, None)


def test_reordering_rollout_weights_is_a_change() -> None:
    before = variable(labels={'a': PROD, 'b': CANARY}, rollout={'labels': {'a': 0.5, 'b': 0.5}})
    after = variable(labels={'a': PROD, 'b': CANARY}, rollout={'labels': {'b': 0.5, 'a': 0.5}})
    diff = diff_variable(before, after)
    assert diff.rollout is not None and diff.has_changes and not diff.is_destructive


def test_schema_and_description_changes() -> None:
    after = SERVED.model_copy(update={'json_schema': {'type': 'string'}, 'description': 'The banner'})
    diff = diff_variable(SERVED, after)
    assert diff.schema_changed and diff.description == (None, 'The banner')
    assert render_variable_diff(diff, colors=False) == [
        '    ~ schema changed',
        "    ~ description: None -> 'The banner'",
    ]
    assert not diff_variable(SERVED, SERVED.model_copy()).has_changes


def test_words() -> None:
    assert target_text(LabeledValue(version=2, serialized_value='1')) == 'version 2'
    assert target_text(LabelRef(ref='latest', version=5)) == '-> latest (version 5)'
    assert target_text(LabelRef(ref='latest')) == '-> latest (no versions)'
    assert target_text(LabelRef(ref='code_default')) == '-> code default'
    assert target_text(LabelRef(ref='production')) == "-> label 'production'"
    assert rollout_text({'a': 0.25}) == 'a=0.25, code default=0.75'
    latest_only = variable(labels={'l': {'ref': 'latest'}})
    assert code_default_share(latest_only, {'l': 0.5}) == 1.0


# -- a write body (push plans) ----------------------------------------------------------------


def test_a_write_body_names_new_versions_and_keeps_known_ones() -> None:
    body = variable(
        labels={
            'production': {'version': 3, 'serialized_value': '"hello"'},
            'canary': {'version': 4, 'serialized_value': '"new"'},
        },
        rollout={'labels': {'production': 1.0}},
    )
    diff = diff_variable(SERVED, body, written=True)
    # Version 4 held "hi": the write stores "new" as a version the server numbers.
    assert [(c.label, c.before, c.after) for c in diff.labels] == [('canary', 'version 4', 'new version "new"')]
    assert not diff.is_destructive
    # Read as a stored state, the same numbers would hide the changed value.
    assert diff_variable(SERVED, body).labels == ()


def test_a_created_variable_gets_new_versions_and_a_latest_one() -> None:
    body = variable(
        labels={'l': {'ref': 'latest'}, 'v': {'version': 1, 'serialized_value': '"x"' * 30}},
        rollout={'labels': {'l': 1.0}},
    )
    diff = diff_variable(None, body, written=True)
    assert diff.kind == 'create'
    v = next(c for c in diff.labels if c.label == 'v')
    assert v.after is not None and v.after.startswith('new version "x""x"') and v.after.endswith('…')
    assert len(v.after) == len('new version ') + 40


def test_latest_refs_keep_serving_when_the_write_keeps_the_latest_version() -> None:
    before = variable(
        labels={'l': {'ref': 'latest'}},
        rollout={'labels': {'l': 1.0}},
        latest_version={'version': 2, 'serialized_value': '1'},
    )
    body = before.model_copy(update={'latest_version': None, 'description': 'same traffic'})
    # A write body never carries latest_version; the server keeps its versions, so 'latest' still serves.
    assert not diff_variable(before, body, written=True).is_destructive
    assert diff_variable(before, body).is_destructive  # as a stored state without versions it would not


def test_other_fields_a_write_changes() -> None:
    after = SERVED.model_copy(
        update={
            'example': '"Welcome"',
            'aliases': ['old_banner'],
            'type_name': 'Banner',
            'template_inputs_schema': {'type': 'object'},
        }
    )
    diff = diff_variable(SERVED, after)
    assert diff.has_changes and not diff.is_destructive
    assert render_variable_diff(diff, colors=False) == [
        '    ~ template inputs schema changed',
        '    ~ example: None -> "Welcome"',
        "    ~ aliases: [] -> ['old_banner']",
        "    ~ type_name: None -> 'Banner'",
    ]
    # The same example formatted differently, no aliases vs none, '' vs no description: no change.
    same = SERVED.model_copy(update={'example': None, 'aliases': [], 'description': ''})
    assert not diff_variable(SERVED, same).has_changes
    spaced = diff_variable(
        SERVED.model_copy(update={'example': '{"a":1}'}), SERVED.model_copy(update={'example': '{"a": 1}'})
    )
    assert not spaced.has_changes
