"""Pure rendering: the printed plans and reports match contract §6 and Appendices A and B line for line."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

import remotevars
from remotevars._plan import (
    ConfigCheck,
    ConfigIncompatibility,
    DescriptionDifference,
    LabelValidationError,
    TypesPlan,
    ValidationReport,
    normalize_types,
    plan_push,
    plan_push_config,
    plan_push_types,
    type_label_incompatibilities,
)
from remotevars._render import (
    destructive_warning,
    error_summary,
    format_validation_report,
    render_changes,
    render_config_check,
    render_config_plan,
    render_push_plan,
    render_types_plan,
)
from remotevars.config import (
    LabeledValue,
    LatestVersion,
    Rollout,
    VariableConfig,
    VariablesConfig,
    VariableTypeConfig,
)

ANSI = re.compile(r'\x1b\[[0-9;]*m')


def plain(text: str) -> str:
    """Drop pydantic's 'For further information visit' lines, as the contract's appendices do."""
    return '\n'.join(line for line in text.split('\n') if not line.strip().startswith('For further information visit'))


def var_config(name: str, *, labels: dict[str, Any] | None = None, **fields: Any) -> VariableConfig:
    labels = labels or {}
    rollout = fields.pop('rollout', Rollout(labels={}))
    return VariableConfig(name=name, labels=labels, rollout=rollout, overrides=[], **fields)


def config_of(*variables: VariableConfig) -> VariablesConfig:
    return VariablesConfig(variables={v.name: v for v in variables})


INT_ERROR = (
    '1 validation error for int\n'
    "  Input should be a valid integer, unable to parse string as an integer [type=int_parsing, input_value='{}', "
    'input_type=str]'
)

# Appendix A without the template/reference parts (remotevars has neither); the update line names the
# description too, because remotevars pushes changed descriptions (contract §9 item 28).
APPENDIX_A_DIFF = f"""
=== Variables to CREATE ===
  + newvar
    Description: A new one
    Example value: "hello"
  + fnvar
    (No example value - default is a function)

=== Variables to UPDATE (schema changed) ===
  ~ changed (value schema + description)
    Warning: Incompatible label values:
      - prod: {INT_ERROR.format('str')}

=== No changes needed (1 variables) ===
    same

=== Validation warnings (schema unchanged) ===
  ⚠ same
    Incompatible label values:
      - v1: {INT_ERROR.format('bad')}
      - latest: {INT_ERROR.format('bad')}

=== Server-only variables (not in local code) ===
  ? orphan

=== Description differences (informational) ===
Note: Different descriptions may be intentional for different codebases.
  ! changed
    Local:  local desc
    Server: server desc"""


def appendix_a(client: remotevars.Client) -> tuple[list[remotevars.Variable[Any]], VariablesConfig]:
    server = config_of(
        var_config(
            'changed',
            labels={'prod': LabeledValue(version=1, serialized_value='"str"')},
            json_schema={'type': 'string'},
            description='server desc',
        ),
        var_config(
            'same',
            labels={'v1': LabeledValue(version=1, serialized_value='"bad"')},
            latest_version=LatestVersion(version=2, serialized_value='"bad"'),
            json_schema={'type': 'integer'},
        ),
        var_config('orphan'),
    )
    local: list[remotevars.Variable[Any]] = [
        client.var('changed', type=int, default=1, description='local desc'),
        client.var('same', type=int, default=2),
        client.var('newvar', type=str, default='hello', description='A new one'),
        client.var('fnvar', type=int, default=lambda key, attributes: 1),
    ]
    return local, server


def test_push_plan_matches_appendix_a(client: remotevars.Client) -> None:
    local, server = appendix_a(client)
    plan = plan_push(local, server)
    assert plain(render_push_plan(plan, colors=False)) == APPENDIX_A_DIFF


def test_push_plan_colours(client: remotevars.Client) -> None:
    local, server = appendix_a(client)
    coloured = render_push_plan(plan_push(local, server), colors=True)
    assert '\033[32m=== Variables to CREATE ===\033[0m' in coloured
    assert '  \033[33m~ changed (value schema + description)\033[0m' in coloured
    assert '  \033[90m  same\033[0m' in coloured
    assert '    \033[31mWarning: Incompatible label values:\033[0m' in coloured
    assert plain(ANSI.sub('', coloured)) == APPENDIX_A_DIFF
    assert '\033[' not in render_push_plan(plan_push(local, server), colors=False)


def test_push_plan_update_details(client: remotevars.Client) -> None:
    only_schema = client.var('a', type=int, default=1)
    only_description = client.var('b', type=int, default=1, description='new')
    server = config_of(
        var_config('a', json_schema={'type': 'string'}), var_config('b', json_schema={'type': 'integer'})
    )
    text = render_push_plan(plan_push([only_schema, only_description], server), colors=False)
    assert '  ~ a (value schema)\n' in text
    assert '  ~ b (description)\n' in text


def test_unserialisable_default_rendered_as_blocking_section(client: remotevars.Client) -> None:
    class Opaque:
        pass

    bad = client.var('bad', type=Any, default=Opaque())
    text = render_push_plan(plan_push([bad], config_of()), colors=False)
    lines = text.split('\n')
    assert lines[:4] == [
        '',
        '=== Variables to CREATE ===',
        '  + bad',
        '    (No example value - default cannot be serialised)',
    ]
    assert lines[4:6] == ['', '=== Code defaults that cannot be serialised (block the push) ===']
    assert lines[6].startswith("  ✗ The code default of variable 'bad' cannot be serialised to JSON")


APPENDIX_B_CONFIG = """
=== Variables to CREATE ===
  + new
    Description: brand new
    Labels: prod, stg

=== Variables to UPDATE ===
  ~ upd

=== Variables to DELETE ===
  - gone

=== No changes needed (1 variables) ===
    keep"""


def test_config_plan_matches_appendix_b() -> None:
    labels = {
        'prod': LabeledValue(version=1, serialized_value='1'),
        'stg': LabeledValue(version=1, serialized_value='2'),
    }
    server = config_of(var_config('upd', description='x'), var_config('gone'), var_config('keep'))
    local = config_of(
        var_config('new', labels=labels, description='brand new'),
        var_config('upd', description='y'),
        var_config('keep'),
    )
    plan = plan_push_config(local, server, 'replace')
    assert render_config_plan(plan, colors=False) == APPENDIX_B_CONFIG
    coloured = render_config_plan(plan, colors=True)
    assert '  \033[31m- gone\033[0m' in coloured
    assert ANSI.sub('', coloured) == APPENDIX_B_CONFIG


class FeatureConfig(BaseModel):
    enabled: bool = False


class Other(BaseModel):
    x: int = 0


APPENDIX_B_TYPES = """
Variable Types Push Summary
========================================

New types (1):
  + my_int

Schema updates (1):
  ~ FeatureConfig

Unchanged (1):
  = Other

=== Label compatibility warnings ===
  Type: FeatureConfig
    ⚠ Variable 'f', label 'v1': 1 validation error for FeatureConfig
  Input should be an object [type=model_type, input_value='nope', input_type=str]"""


def test_types_plan_matches_appendix_b() -> None:
    pairs = normalize_types([(int, 'my_int'), FeatureConfig, Other])
    server_types = {
        'FeatureConfig': VariableTypeConfig(name='FeatureConfig', json_schema={'type': 'object'}),
        'Other': VariableTypeConfig(name='Other', json_schema=Other.model_json_schema()),
    }
    server = config_of(
        var_config('f', labels={'v1': LabeledValue(version=1, serialized_value='"nope"')}, type_name='FeatureConfig')
    )
    plan = plan_push_types(pairs, server_types)
    plan = TypesPlan(plan.entries, type_label_incompatibilities(pairs, plan, server))
    assert plain(render_types_plan(plan, colors=False)) == APPENDIX_B_TYPES
    coloured = render_types_plan(plan, colors=True)
    assert '\n\033[1mVariable Types Push Summary\033[0m\n' in coloured
    assert '\n\033[2mUnchanged (1):\033[0m\n' in coloured
    assert plain(ANSI.sub('', coloured)) == APPENDIX_B_TYPES


def test_validation_report_failed_format() -> None:
    long_error = ValueError('\n'.join(f'line {i}' for i in range(8)))
    report = ValidationReport(
        errors=[
            LabelValidationError('a', None, ValueError("No config for variable with name 'a'")),
            LabelValidationError('b', 'prod', long_error),
            LabelValidationError('b', 'latest', ValueError('short')),
        ],
        variables_checked=4,
        variables_not_on_server=['c'],
        description_differences=[DescriptionDifference('d', 'local', None)],
    )
    assert format_validation_report(report, colors=False) == (
        '\n=== Validation Errors ===\n'
        "  ✗ a: No config for variable with name 'a'\n"
        '  ✗ b (label: prod)\n'
        '      line 0\n      line 1\n      line 2\n      line 3\n      line 4\n'
        '      ... (3 more lines)\n'
        '  ✗ b (label: latest)\n'
        '      short\n'
        '\n=== Variables Not Found on Server ===\n'
        '  ? c\n'
        '\n=== Description differences (informational) ===\n'
        'Note: Different descriptions may be intentional for different codebases.\n'
        '  ! d\n'
        '    Local:  local\n'
        '    Server: (none)\n'
        '\nValidation failed: 3 issue(s) found.'
    )
    assert report.format(colors=False) == format_validation_report(report, colors=False)
    coloured = report.format()
    assert '\n\033[31mValidation failed: 3 issue(s) found.\033[0m' in coloured


def test_validation_report_passed_format() -> None:
    report = ValidationReport(errors=[], variables_checked=3, variables_not_on_server=[])
    assert report.format(colors=False) == (
        '\n=== Valid (3 variables) ===\n\nValidation passed: All 3 variable(s) are valid.'
    )
    empty = ValidationReport(errors=[], variables_checked=0, variables_not_on_server=[])
    assert empty.format(colors=False) == '\nValidation passed: All 0 variable(s) are valid.'


# -- remotevars additions: field-level changes, push-config --strict ---------------------------------


def test_field_level_changes_follow_the_reference_lines(client: remotevars.Client) -> None:
    served = var_config(
        'banner',
        labels={'production': LabeledValue(version=1, serialized_value='"hi"')},
        rollout=Rollout(labels={'production': 1.0}),
        latest_version=LatestVersion(version=1, serialized_value='"hi"'),
    )
    template = remotevars.variables_build_config([client.var('banner', type=str, default='Welcome')])
    new = var_config('new', labels={'prod': LabeledValue(version=7, serialized_value='2')})
    plan = plan_push_config(VariablesConfig(variables={**template.variables, 'new': new}), config_of(served))
    assert render_config_plan(plan, colors=False) == (
        '\n=== Variables to CREATE ===\n  + new\n    Labels: prod\n\n=== Variables to UPDATE ===\n  ~ banner'
    )
    assert render_changes(plan.diffs, colors=False) == (
        '\n=== Field-level changes ===\n'
        '  + new\n'
        "    + label 'prod': new version 2\n"
        '  ~ banner\n'
        "    - label 'production': version 1\n"
        '    ~ rollout: production=1 -> code default=1\n'
        '    ~ schema changed\n'
        '    ~ example: None -> "Welcome"\n'
        "    DESTRUCTIVE: removes label 'production', which the rollout serves\n"
        '    DESTRUCTIVE: sends 100% of the rollout to the code default (was 0%)'
    )
    coloured = render_changes(plan.diffs, colors=True)
    assert "\033[1m\033[31mDESTRUCTIVE: removes label 'production'" in coloured
    assert ANSI.sub('', coloured) == render_changes(plan.diffs, colors=False)
    # Nothing to show (a push create without labels): no section at all.
    assert render_changes(plan_push([client.var('x', type=int, default=1)], config_of()).diffs, colors=False) == ''


def test_destructive_warning_and_one_line_errors() -> None:
    assert destructive_warning(["banner: removes label 'production', which the rollout serves"]) == (
        'This plan has 1 destructive change, which take traffic away from what is served:\n'
        "  banner: removes label 'production', which the rollout serves"
    )
    error = (
        '1 validation error for int\n  Input should be a valid integer [type=int_parsing]\n'
        '    For further information visit https://errors.pydantic.dev/2/v/int_parsing'
    )
    assert error_summary(error) == '1 validation error for int: Input should be a valid integer [type=int_parsing]'
    assert error_summary('plain') == 'plain'


def test_config_check_lists_each_value_and_the_unchecked_variables() -> None:
    check = ConfigCheck((ConfigIncompatibility('limit', 'production', 'bad\nworse'),), ('extra',))
    assert render_config_check(check, colors=False) == (
        '\n=== Values that do not fit the types in code ===\n'
        '  ✗ limit (label: production)\n'
        '      bad\n'
        '      worse\n'
        '\nNote: not declared in code, so not checked: extra'
    )
    assert render_config_check(ConfigCheck((), ()), colors=False) == ''
