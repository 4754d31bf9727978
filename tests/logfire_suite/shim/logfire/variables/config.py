"""``logfire.variables.config``: remotevars' config models and helpers."""

from __future__ import annotations

from remotevars._plan import default_type_name as get_default_type_name
from remotevars._plan import source_hint as get_source_hint
from remotevars.config import (
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
    'get_default_type_name',
    'get_source_hint',
]
