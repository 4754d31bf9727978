"""``logfire.variables.composition``: remotevars' composition functions under the SDK's names.

``_walk_references`` (the SDK's walk of a decoded value for references) is remotevars' ``_scan``.
"""

from __future__ import annotations

from remotevars._compose import (
    MAX_COMPOSITION_DEPTH,
    ComposedReference,
    expand_references,
    find_references,
    find_references_and_errors,
)
from remotevars._compose import _scan as _walk_references
from remotevars._errors import VariableCompositionCycleError, VariableCompositionError


def has_references(serialized_value: str) -> bool:
    return '@{' in serialized_value


__all__ = [
    'MAX_COMPOSITION_DEPTH',
    'ComposedReference',
    'VariableCompositionCycleError',
    'VariableCompositionError',
    '_walk_references',
    'expand_references',
    'find_references',
    'find_references_and_errors',
    'has_references',
]
