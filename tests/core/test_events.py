"""Change events carry what changed: served values per label, overrides and the latest version."""

from __future__ import annotations

from typing import Any

import remotevars
from remotevars._events import diff_snapshots
from remotevars._snapshot import build_snapshot


def _snapshot(variable: dict[str, Any]) -> Any:
    base = {'name': 'limit', 'labels': {}, 'rollout': {'labels': {}}, 'overrides': []}
    config = remotevars.VariablesConfig.model_validate({'variables': {'limit': {**base, **variable}}})
    return build_snapshot(config.model_dump_json(), None)[0]


PROD = {'labels': {'prod': {'version': 1, 'serialized_value': '5'}}, 'rollout': {'labels': {'prod': 1.0}}}


def test_an_override_change_is_visible_in_old_and_new() -> None:
    override = {
        'conditions': [{'kind': 'value-matches-regex', 'attribute': 'plan', 'pattern': '^pro'}],
        'rollout': {'labels': {'prod': 1.0}},
    }
    (change,) = diff_snapshots(_snapshot(PROD), _snapshot({**PROD, 'overrides': [override]}))
    assert change.kind == 'updated'
    assert change.old is not None and change.new is not None and change.old != change.new
    assert change.old.overrides == ()
    assert change.new.overrides == (
        remotevars.OverrideState(conditions=(('value-matches-regex', 'plan', '^pro'),), rollout={'prod': 1.0}),
    )
    assert change.new.values == {'prod': '5'}


def test_a_regex_condition_is_reported_as_the_config_writes_it() -> None:
    # Not as the pattern the regex engine compiles it to (escapes, spelt-out classes).
    pattern = r'^\w+@example\.com$'
    override = {
        'conditions': [{'kind': 'value-matches-regex', 'attribute': 'email', 'pattern': pattern}],
        'rollout': {'labels': {'prod': 1.0}},
    }
    (change,) = diff_snapshots(_snapshot(PROD), _snapshot({**PROD, 'overrides': [override]}))
    assert change.new is not None
    assert change.new.overrides[0].conditions == (('value-matches-regex', 'email', pattern),)


def test_a_new_version_without_a_label_move_is_visible() -> None:
    before = {**PROD, 'latest_version': {'version': 1, 'serialized_value': '5'}}
    after = {**PROD, 'latest_version': {'version': 2, 'serialized_value': '6'}}
    (change,) = diff_snapshots(_snapshot(before), _snapshot(after))
    assert change.old is not None and change.new is not None
    assert (change.old.latest_version, change.new.latest_version) == (1, 2)
    assert change.old.labels == change.new.labels and change.old != change.new


def test_values_follow_refs_and_code_defaults() -> None:
    state = diff_snapshots(
        _snapshot({}),
        _snapshot(
            {
                'labels': {
                    'prod': {'version': 3, 'serialized_value': '"x"'},
                    'canary': {'version': None, 'ref': 'prod'},
                    'off': {'version': None, 'ref': 'code_default'},
                },
                'rollout': {'labels': {'prod': 1.0}},
            }
        ),
    )[0].new
    assert state is not None
    assert state.values == {'prod': '"x"', 'canary': '"x"', 'off': None}
    assert state.labels == {'prod': 3, 'canary': 3, 'off': None}
