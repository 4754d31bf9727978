"""``logfire.variables``: the SDK's names, from remotevars."""

from __future__ import annotations

from logfire._internal.config import LocalVariablesOptions, VariablesOptions
from logfire.variables.abstract import (
    ResolvedVariable,
    ValidationReport,
    VariableAlreadyExistsError,
    VariableNotFoundError,
    VariableWriteError,
)
from logfire.variables.config import (
    KeyIsNotPresent,
    KeyIsPresent,
    LabeledValue,
    LabelRef,
    LatestVersion,
    Rollout,
    RolloutOverride,
    ValueDoesNotEqual,
    ValueDoesNotMatchRegex,
    ValueEquals,
    ValueIsIn,
    ValueIsNotIn,
    ValueMatchesRegex,
    VariableConfig,
    VariablesConfig,
    VariableTypeConfig,
)
from logfire.variables.variable import TemplateVariable, Variable, targeting_context

__all__ = [
    'KeyIsNotPresent',
    'KeyIsPresent',
    'LabelRef',
    'LabeledValue',
    'LatestVersion',
    'Rollout',
    'RolloutOverride',
    'ValueDoesNotEqual',
    'ValueDoesNotMatchRegex',
    'ValueEquals',
    'ValueIsIn',
    'ValueIsNotIn',
    'ValueMatchesRegex',
    'VariableConfig',
    'VariableTypeConfig',
    'VariablesConfig',
    'LocalVariablesOptions',
    'ResolvedVariable',
    'TemplateVariable',
    'ValidationReport',
    'Variable',
    'VariableAlreadyExistsError',
    'VariableNotFoundError',
    'VariableWriteError',
    'VariablesOptions',
    'targeting_context',
]
