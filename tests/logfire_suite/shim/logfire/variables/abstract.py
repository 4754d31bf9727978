"""``logfire.variables.abstract``: results, reports, errors and the render helper, from remotevars."""

from __future__ import annotations

from remotevars import (
    ResolutionReason,
    ResolvedVariable,
    VariableAlreadyExistsError,
    VariableNotFoundError,
    VariableWriteError,
)
from remotevars._plan import DescriptionDifference, LabelValidationError, ValidationReport
from remotevars._template import render_serialized as render_serialized_string

__all__ = [
    'DescriptionDifference',
    'LabelValidationError',
    'ResolutionReason',
    'ResolvedVariable',
    'ValidationReport',
    'VariableAlreadyExistsError',
    'VariableNotFoundError',
    'VariableWriteError',
    'render_serialized_string',
]


class VariableProvider:
    """Not mapped: the SDK's provider base class (provider internals are not applicable)."""


class NoOpVariableProvider(VariableProvider):
    """Not mapped."""


def _not_mapped(*args: object, **kwargs: object) -> None:
    raise NotImplementedError('a Logfire-private helper, not applicable to remotevars')


LabelCompatibility = VariableChange = VariableDiff = object
_apply_changes = _check_label_compatibility = _check_type_label_compatibility = _not_mapped
_compute_diff = _format_diff = _get_default_serialized = _get_json_schema = _not_mapped


def _check_reference_errors(variables: list[object], server_config: object) -> tuple[list[str], list[str]]:
    from remotevars._reference_checks import reference_problems

    return reference_problems(variables, server_config)  # type: ignore[arg-type]
