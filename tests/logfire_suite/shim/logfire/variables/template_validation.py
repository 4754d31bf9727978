"""``logfire.variables.template_validation``: remotevars' template field checks under the SDK's names."""

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


def detect_composition_cycles(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError('a Logfire backend helper remotevars does not have (push checks the whole graph)')


__all__ = [
    'detect_composition_cycles',
    'TemplateFieldIssue',
    'TemplateValidationResult',
    'extract_template_strings',
    'validate_template_composition',
]
