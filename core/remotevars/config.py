"""The wire-compatible configuration models: variables, labels, rollouts, overrides, conditions.

These pydantic models have the JSON shape of Logfire's managed-variables configuration (field names,
field order, defaults, validation messages), so a file written by the Logfire SDK loads here and dumps
back equal. Resolution is not implemented here: the methods that resolve delegate to the pure
functions in :mod:`remotevars._resolve`, which the runtime uses too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, ValidationError, field_validator
from pydantic import model_validator as _model_validator

from remotevars import _resolve
from remotevars._result import ResolvedVariable

if TYPE_CHECKING:
    from remotevars._variable import Variable

__all__ = [
    'Condition',
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
    'VariableName',
    'VariableTypeConfig',
    'VariablesConfig',
]

#: A variable name: an ASCII Python identifier. pydantic checks patterns as a full match (a trailing
#: newline is rejected), unlike ``re.match`` with ``$``.
VariableName = Annotated[str, StringConstraints(pattern=r'^[a-zA-Z_][a-zA-Z0-9_]*$')]


class LabeledValue(BaseModel):
    """A label that points at one immutable version: its number and its value as JSON text."""

    version: int
    serialized_value: str


class LabelRef(BaseModel):
    """A label that points elsewhere: another label, ``'latest'`` or ``'code_default'``."""

    version: int | None = None
    ref: str


class LatestVersion(BaseModel):
    """The highest version of a variable (derived by the server)."""

    version: int
    serialized_value: str


class Rollout(BaseModel):
    """Weights of labels; what the weights leave below 1 goes to the code default."""

    labels: dict[str, float] = {}

    @field_validator('labels')
    @classmethod
    def _check_weights(cls, labels: dict[str, float]) -> dict[str, float]:
        # Non-finite weights are rejected too (the reference lets NaN through and then fails at
        # resolve time on every read).
        if any(not math.isfinite(w) for w in labels.values()):
            raise ValueError('Label proportions must be finite numbers.')
        if any(w < 0 for w in labels.values()):
            raise ValueError('Label proportions must not be negative.')
        if sum(labels.values()) > 1.0 + 1e-9:
            raise ValueError('Label proportions must not sum to more than 1.')
        return labels

    def select_label(self, seed: str | None) -> str | None:
        """Return the label the deterministic draw for ``seed`` picks, or None (code default)."""
        return _resolve.select_label(_resolve.compile_rollout(self.labels), seed)


class _ConditionBase(BaseModel):
    attribute: str

    def matches(self, attributes: Mapping[str, Any]) -> bool:
        """Return whether ``attributes`` satisfy this condition."""
        kind: str = getattr(self, 'kind')  # noqa: B009 - every subclass declares it
        return _resolve.condition_matches(kind, self.attribute, _resolve.condition_operand(self), attributes)


class ValueEquals(_ConditionBase):
    """Matches when the attribute equals ``value``."""

    value: Any
    kind: Literal['value-equals'] = 'value-equals'


class ValueDoesNotEqual(_ConditionBase):
    """Matches when the attribute differs from ``value`` or is absent."""

    value: Any
    kind: Literal['value-does-not-equal'] = 'value-does-not-equal'


class ValueIsIn(_ConditionBase):
    """Matches when the attribute is one of ``values``."""

    values: Sequence[Any]
    kind: Literal['value-is-in'] = 'value-is-in'


class ValueIsNotIn(_ConditionBase):
    """Matches when the attribute is none of ``values`` or is absent."""

    values: Sequence[Any]
    kind: Literal['value-is-not-in'] = 'value-is-not-in'


class ValueMatchesRegex(_ConditionBase):
    """Matches when the attribute is a string in which ``pattern`` is found (``re.search``)."""

    pattern: str | re.Pattern[str]
    kind: Literal['value-matches-regex'] = 'value-matches-regex'


class ValueDoesNotMatchRegex(_ConditionBase):
    """Matches when the attribute is absent, not a string, or ``pattern`` is not found in it."""

    pattern: str | re.Pattern[str]
    kind: Literal['value-does-not-match-regex'] = 'value-does-not-match-regex'


class KeyIsPresent(_ConditionBase):
    """Matches when the attribute is present (even with a None value)."""

    kind: Literal['key-is-present'] = 'key-is-present'


class KeyIsNotPresent(_ConditionBase):
    """Matches when the attribute is absent."""

    kind: Literal['key-is-not-present'] = 'key-is-not-present'


Condition = Annotated[
    ValueEquals
    | ValueDoesNotEqual
    | ValueIsIn
    | ValueIsNotIn
    | ValueMatchesRegex
    | ValueDoesNotMatchRegex
    | KeyIsPresent
    | KeyIsNotPresent,
    Field(discriminator='kind'),
]


class RolloutOverride(BaseModel):
    """A rollout used instead of the base one when every condition matches."""

    conditions: list[Condition]
    rollout: Rollout


class VariableConfig(BaseModel):
    """One variable: its labels, base rollout, overrides and metadata."""

    name: VariableName
    description: str | None = None
    labels: dict[str, LabeledValue | LabelRef] = {}
    rollout: Rollout
    overrides: list[RolloutOverride]
    latest_version: LatestVersion | None = None
    json_schema: dict[str, Any] | None = None
    type_name: str | None = None
    aliases: list[VariableName] | None = None
    example: str | None = None
    template_inputs_schema: dict[str, Any] | None = None

    @_model_validator(mode='after')
    def _check_label_references(self) -> VariableConfig:
        for label in self.rollout.labels:
            if label not in self.labels:
                raise ValueError(f'Label {label!r} present in `rollout.labels` is not present in `labels`.')
        for i, override in enumerate(self.overrides):
            for label in override.rollout.labels:
                if label not in self.labels:
                    raise ValueError(f'Label {label!r} present in `overrides[{i}].rollout` is not present in `labels`.')
        for label, target in self.labels.items():
            if (
                isinstance(target, LabelRef)
                and target.ref not in _resolve.RESERVED_REFS
                and target.ref not in self.labels
            ):
                raise ValueError(f'Label {label!r} has ref {target.ref!r} which is not present in `labels`.')
        return self

    def resolve_label(
        self, targeting_key: str | None = None, attributes: Mapping[str, Any] | None = None
    ) -> str | None:
        """Return the label the rollout (or the first matching override) picks, or None."""
        return _resolve.resolve_label(_resolve.compile_variable(self), targeting_key, attributes)

    def resolve_value(
        self,
        targeting_key: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        *,
        label: str | None = None,
    ) -> tuple[str | None, str | None, int | None]:
        """Return ``(serialized_value, label, version)``; a None value means the code default."""
        return _resolve.resolve_value(_resolve.compile_variable(self), targeting_key, attributes, label=label)

    def follow_ref(self, target: LabeledValue | LabelRef) -> tuple[str | None, int | None]:
        """Return ``(serialized_value, version)`` a label target leads to (None: code default)."""
        return _resolve.follow_target(self.labels, self.latest_version, target)


class VariablesConfig(BaseModel):
    """A whole configuration: every variable by name."""

    variables: dict[VariableName, VariableConfig]

    @_model_validator(mode='after')
    def _check_keys(self) -> VariablesConfig:
        for key, value in self.variables.items():
            if key != value.name:
                raise ValueError(f'`variables` has invalid lookup key {key!r} for value with name {value.name!r}.')
        return self

    def get_variable_config(self, name: str) -> VariableConfig | None:
        """Return the config of ``name``, looked up by name first and then by alias."""
        found = self.variables.get(name)
        if found is not None:
            return found
        canonical = _alias_map(self).get(name)
        return None if canonical is None else self.variables[canonical]

    def resolve_serialized_value(
        self,
        name: str,
        targeting_key: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        *,
        label: str | None = None,
    ) -> ResolvedVariable[str | None]:
        """Return the serialized value (JSON text) ``name`` resolves to, with label and version.

        ``reason`` is ``'unrecognized_variable'`` when neither a name nor an alias matches, else
        ``'resolved'`` (the value may still be None: the config routes to the code default).
        """
        config = self.get_variable_config(name)
        if config is None:
            return ResolvedVariable(name=name, value=None, reason='unrecognized_variable')
        value, chosen, version = config.resolve_value(targeting_key, attributes, label=label)
        return ResolvedVariable(name=name, value=value, label=chosen, version=version, reason='resolved')

    def get_validation_errors(self, variables: Sequence[Variable[Any]]) -> dict[str, dict[str | None, Exception]]:
        """Validate every labelled value and the latest version against each variable's type.

        Returns ``{variable name: {label or None: exception}}``; label refs are skipped, ``'latest'``
        stands for the latest version, and None for a problem with the variable as a whole.
        """
        errors: dict[str, dict[str | None, Exception]] = {}
        for variable in variables:
            config = self.get_variable_config(variable.name)
            if config is None:
                errors[variable.name] = {None: ValueError(f'No config for variable with name {variable.name!r}')}
                continue
            found: dict[str | None, Exception] = {}
            for label, target in config.labels.items():
                if isinstance(target, LabeledValue):
                    try:
                        variable.type_adapter.validate_json(target.serialized_value)
                    except (ValidationError, ValueError, TypeError) as exc:
                        found[label] = exc
            if config.latest_version is not None:
                try:
                    variable.type_adapter.validate_json(config.latest_version.serialized_value)
                except (ValidationError, ValueError, TypeError) as exc:
                    found['latest'] = exc
            if found:
                errors[variable.name] = found
        return errors

    @staticmethod
    def from_variables(variables: Sequence[Variable[Any]]) -> VariablesConfig:
        """Build a minimal config (name, description, schema, example) for each variable.

        Raises :class:`remotevars.VariableSerializationError` naming the variable when a static
        default cannot be serialised to JSON.
        """
        return VariablesConfig(variables={v.name: v.to_config(strict=True) for v in variables})

    def merge(self, other: VariablesConfig) -> VariablesConfig:
        """Return a new config with the variables of both; an entry in ``other`` replaces ours whole."""
        return VariablesConfig(variables={**self.variables, **other.variables})


def _alias_map(config: VariablesConfig) -> dict[str, str]:
    # Not cached on the model: models are mutable, and this is only used by workflows, never by reads.
    aliases: dict[str, str] = {}
    for name, variable in config.variables.items():
        for alias in variable.aliases or ():
            aliases[alias] = name
    return aliases


class VariableTypeConfig(BaseModel):
    """A named, reusable value schema (pushed with ``variables_push_types``)."""

    name: str
    json_schema: dict[str, Any]
    description: str | None = None
    source_hint: str | None = None
