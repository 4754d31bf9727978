"""``logfire.variables.composition``: remotevars' composition functions under the SDK's names."""

from __future__ import annotations

from remotevars._compose import (
    MAX_COMPOSITION_DEPTH,
    ComposedReference,
    expand_references,
    find_references,
    find_references_and_errors,
)
from remotevars._errors import VariableCompositionCycleError, VariableCompositionError


def has_references(serialized_value: str) -> bool:
    return '@{' in serialized_value


__all__ = [
    'MAX_COMPOSITION_DEPTH',
    'ComposedReference',
    'VariableCompositionCycleError',
    'VariableCompositionError',
    'expand_references',
    'find_references',
    'find_references_and_errors',
    'has_references',
]
