"""``logfire.variables.variable``: the variable classes and helpers, from remotevars."""

from __future__ import annotations

from typing import Any

from remotevars import (
    ResolveFunction,
    TemplateInputsMismatchError,
    TemplateVariable,
    Variable,
    is_resolve_function,
    targeting_context,
)


def get_template_inputs_schema(variable: Any) -> dict[str, Any] | None:
    return variable.template_inputs_schema()


__all__ = [
    'ResolveFunction',
    'TemplateInputsMismatchError',
    'TemplateVariable',
    'Variable',
    'get_template_inputs_schema',
    'is_resolve_function',
    'targeting_context',
]
