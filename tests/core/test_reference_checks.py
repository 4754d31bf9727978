"""Push and validate: ``@{reference}@`` problems and template ``{{field}}`` issues (contract §7.3, §7.4).

The plans are pure (local variables + a server config in, findings out); one test pushes to our server.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import remotevars
from remotevars._api import ApiClient
from remotevars._plan import plan_push, validate_report
from remotevars._reference_checks import TOO_DEEP, reference_problems
from remotevars._render import format_validation_report, reference_gate, render_push_plan
from remotevars.config import VariablesConfig
from tests.serverutil import RunningServer, running_server, seed_variable, variable_body


class Inputs(BaseModel):
    name: str


def server_config(**variables: dict[str, Any]) -> VariablesConfig:
    """Variables given as ``name={label: value}``; ``latest`` becomes the latest version."""
    built = {}
    for name, labels in variables.items():
        latest = labels.pop('latest', None)
        built[name] = {
            'name': name,
            'labels': {label: {'version': 1, 'serialized_value': json.dumps(v)} for label, v in labels.items()},
            'rollout': {'labels': {}},
            'overrides': [],
            **({'latest_version': {'version': 9, 'serialized_value': json.dumps(latest)}} if latest else {}),
        }
    return VariablesConfig.model_validate({'variables': built})


class TestReferenceProblems:
    def test_missing_references_from_default_label_and_latest_then_cycles(self, client: remotevars.Client) -> None:
        local = [
            client.var('var_a', default='@{var_b}@ @{ghost_default}@'),
            client.var('var_b', default='@{var_a}@'),
        ]
        server = server_config(var_a={'production': '@{ghost_label}@', 'latest': '@{ghost_latest}@'})
        problems, cycles = reference_problems(local, server)
        assert problems == [
            "Variable 'var_a' references '@{ghost_default}@' which does not exist.",
            "Variable 'var_a' references '@{ghost_label}@' which does not exist.",
            "Variable 'var_a' references '@{ghost_latest}@' which does not exist.",
            'Reference cycle detected: var_a -> var_b -> var_a',
        ]
        assert cycles == ['Reference cycle detected: var_a -> var_b -> var_a']

    def test_chains_through_server_only_variables(self, client: remotevars.Client) -> None:
        local = [client.var('root', default='@{middle}@')]
        server = server_config(middle={'p': '@{leaf}@'}, leaf={'p': '@{nowhere}@ @{middle}@'})
        problems, cycles = reference_problems(local, server)
        assert "Variable 'leaf' references '@{nowhere}@' which does not exist." in problems
        assert cycles == ['Reference cycle detected: middle -> leaf -> middle']

    def test_unparsable_values_are_reported(self, client: remotevars.Client) -> None:
        local = [client.var('bad', default='@{#if x}@ never closed')]
        problems, cycles = reference_problems(local, server_config())
        assert len(problems) == 1 and not cycles
        assert problems[0].startswith("Variable 'bad': value '@{#if x}@ never closed' could not be parsed")

    def test_graph_too_deep_counts_as_a_cycle(self, client: remotevars.Client) -> None:
        depth = 3000
        chain = {f'v{i}': {'p': f'@{{v{i + 1}}}@'} for i in range(depth)}
        chain[f'v{depth}'] = {'p': 'end'}
        problems, cycles = reference_problems([client.var('v0', default='@{v1}@')], server_config(**chain))
        assert cycles == [TOO_DEEP] and TOO_DEEP in problems


class TestTemplateFieldIssues:
    def test_direct_and_composed_lines(self, client: remotevars.Client) -> None:
        root = client.template_var('root', default='Hi {{nickname}} @{fragment}@', inputs_type=Inputs)
        client.var('fragment', default='{{name}}')
        server = server_config(fragment={'production': 'by {{team}}'})
        plan = plan_push([root], server)
        assert [issue.describe() for issue in plan.template_field_issues] == [
            "root: {{nickname}} is not declared in root's inputs_type schema",
            "root: {{team}} found in fragment (label: production) via @{fragment}@ is not declared in root's "
            'inputs_type schema',
        ]

    def test_validate_report_lists_everything_and_fails(self, client: remotevars.Client) -> None:
        root = client.template_var('root', default='Hi {{nickname}} @{gone}@', inputs_type=Inputs)
        report = validate_report([root], server_config(root={'p': 'x'}))
        assert not report.is_valid
        text = format_validation_report(report, colors=False)
        assert "=== Reference errors ===\n  ✗ Variable 'root' references '@{gone}@' which does not exist." in text
        assert "=== Template field issues ===\n  ✗ root: {{nickname}} is not declared in root's inputs_type" in text
        assert text.endswith('Validation failed: 2 issue(s) found.')


class TestGate:
    def test_cycles_block_even_without_strict(self, client: remotevars.Client) -> None:
        plan = plan_push([client.var('a', default='@{a}@')], server_config())
        gate = reference_gate(plan, strict=False, colors=False)
        assert gate.reason == 'Reference cycle detected: a -> a'
        assert gate.error is not None and 'blocked even without strict=True' in gate.error
        assert '=== Reference cycles (block the push) ===\n  ✗ Reference cycle detected: a -> a' in render_push_plan(
            plan, colors=False
        )

    def test_missing_reference_warns_or_refuses(self, client: remotevars.Client) -> None:
        plan = plan_push([client.var('a', default='@{gone}@')], server_config())
        gate = reference_gate(plan, strict=False, colors=False)
        assert gate.reason is None and 'Warning: 1 reference(s) point at variable(s) not found' in gate.notes
        gate = reference_gate(plan, strict=True, colors=False, strict_flag='--strict', no_strict_flag='--no-strict')
        assert gate.error is not None and 'Error: Reference errors found.' in gate.error
        assert gate.reason is not None and gate.reason.endswith('(pass --no-strict to proceed anyway)')


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / 'vars.sqlite') as srv:
        yield srv


def test_push_sends_inputs_schema_and_reports_fields(server: RunningServer, client: remotevars.Client) -> None:
    seed_variable(server.url, server.write_key, variable_body('other', labels={}))
    welcome = client.template_var('welcome', default='Hi {{name}} {{extra}}', inputs_type=Inputs)
    with ApiClient(server.url, server.write_key, timeout=(5.0, 5.0)) as api:
        out = io.StringIO()
        assert not remotevars.variables_push([welcome], api=api, file=out, colors=False, yes=True, strict=True)
        assert 'Error: Template field issues found.' in out.getvalue()
        assert 'welcome' not in api.list_variables().variables  # strict: nothing written
        out = io.StringIO()
        assert remotevars.variables_push([welcome], api=api, file=out, colors=False, yes=True, strict=False)
        assert "⚠ welcome: {{extra}} is not declared in welcome's inputs_type schema" in out.getvalue()
        assert 'Done — changes applied, but with warnings above' in out.getvalue()
        stored = api.list_variables().variables['welcome']
        assert stored.template_inputs_schema == Inputs.model_json_schema()
        assert remotevars.variables_pull_config(api=api).variables['welcome'].template_inputs_schema is not None

        class MoreInputs(BaseModel):
            name: str
            extra: str

        client.clear()
        renamed = client.template_var('welcome', default='Hi {{name}} {{extra}}', inputs_type=MoreInputs)
        out = io.StringIO()
        assert remotevars.variables_push([renamed], api=api, file=out, colors=False, yes=True)
        assert '~ welcome (template inputs schema)' in out.getvalue()
        assert api.list_variables().variables['welcome'].template_inputs_schema == MoreInputs.model_json_schema()
