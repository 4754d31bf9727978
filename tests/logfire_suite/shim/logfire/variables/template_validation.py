"""``logfire.variables.template_validation``: remotevars' template field checks and cycle detection, SDK names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from remotevars._template import TemplateFieldIssue, template_field_issues
from remotevars._template import template_strings as extract_template_strings


@dataclass
class TemplateValidationResult:
    issues: list[TemplateFieldIssue] = field(default_factory=list)


def validate_template_composition(
    variable_name: str,
    template_inputs_schema: dict[str, Any],
    get_all_serialized_values: Callable[[str], dict[str | None, str]],
) -> TemplateValidationResult:
    return TemplateValidationResult(
        template_field_issues(variable_name, template_inputs_schema, get_all_serialized_values)
    )


def detect_composition_cycles(
    variable_name: str, new_references: set[str], get_all_references: Callable[[str], set[str]]
) -> list[str] | None:
    """The cycle (``[name, ..., name]``) that giving ``variable_name`` these references would close, or None.

    The reference graph reachable from the new references, checked by remotevars' cycle detection (the
    one push and validate use); only a cycle through ``variable_name`` counts.
    """
    from remotevars._reference_checks import _find_cycles

    graph = {variable_name: sorted(new_references)}
    pending = list(graph[variable_name])
    while pending:
        name = pending.pop()
        if name not in graph:
            graph[name] = sorted(get_all_references(name))
            pending.extend(graph[name])
    return next((cycle for cycle in _find_cycles(graph) if cycle[0] == variable_name), None)


__all__ = [
    'detect_composition_cycles',
    'TemplateFieldIssue',
    'TemplateValidationResult',
    'extract_template_strings',
    'validate_template_composition',
]
