"""``logfire.variables.abstract``: results, reports, errors, the provider base class and the push planning helpers.

The SDK's private push helpers are views of remotevars' own planning: ``_compute_diff`` runs
``remotevars._plan.plan_push`` and presents its entries as the SDK's ``VariableChange`` records,
``_format_diff`` turns such records back into a plan and prints it with ``remotevars._render``, and
``_apply_changes`` applies the planned bodies with remotevars' all-or-nothing writer. The provider
base class runs remotevars' public workflow functions (``variables_push`` and friends) against the
provider, through :class:`ProviderApi`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import remotevars
from remotevars import (
    ResolutionReason,
    ResolvedVariable,
    VariableAlreadyExistsError,
    VariableNotFoundError,
    VariableWriteError,
)
from remotevars._errors import BulkWriteUnsupported
from remotevars._plan import (
    DescriptionDifference,
    LabelIncompatibility,
    LabelValidationError,
    PushEntry,
    PushPlan,
    ValidationReport,
    plan_push,
)
from remotevars._template import TemplateFieldIssue
from remotevars._template import render_serialized as render_serialized_string
from remotevars.config import LabeledValue, Rollout, VariableConfig, VariablesConfig, VariableTypeConfig

__all__ = [
    'DescriptionDifference',
    'LabelCompatibility',
    'LabelValidationError',
    'NoOpVariableProvider',
    'ProviderApi',
    'ResolutionReason',
    'ResolvedVariable',
    'ValidationReport',
    'VariableAlreadyExistsError',
    'VariableChange',
    'VariableDiff',
    'VariableNotFoundError',
    'VariableProvider',
    'VariableWriteError',
    'render_serialized_string',
]


def _default_of(function: Any, parameter: str) -> Any:
    # The SDK's signatures take their defaults from remotevars' public functions, so a test of a
    # default (push is strict by default) checks remotevars, not the shim.
    return inspect.signature(function).parameters[parameter].default


STRICT_PUSH: bool = _default_of(remotevars.variables_push, 'strict')
STRICT_PUSH_TYPES: bool = _default_of(remotevars.variables_push_types, 'strict')


# -- the SDK's provider interface over remotevars' workflows -------------------------------------


class ProviderApi:
    """What remotevars' workflows call on a server (``remotevars._api.ApiClient``), over an SDK provider.

    A provider has no transactional bulk write, so remotevars writes variable by variable and undoes
    what it wrote if a later write fails.
    """

    def __init__(self, provider: VariableProvider) -> None:
        self._provider = provider

    def list_variables(self) -> VariablesConfig:
        return self._provider.get_all_variables_config()

    def bulk_write(self, upsert: Sequence[VariableConfig], delete: Sequence[str]) -> None:
        raise BulkWriteUnsupported('an SDK provider has no bulk endpoint', status=404)

    def create_variable(self, config: VariableConfig) -> VariableConfig:
        return self._provider.create_variable(config)

    def update_variable(self, name: str, config: VariableConfig) -> VariableConfig:
        return self._provider.update_variable(name, config)

    def delete_variable(self, name: str) -> None:
        self._provider.delete_variable(name)

    def list_variable_types(self) -> dict[str, VariableTypeConfig]:
        return self._provider.list_variable_types()

    def upsert_variable_type(self, variable_type: VariableTypeConfig) -> VariableTypeConfig:
        return self._provider.upsert_variable_type(variable_type)


class VariableProvider:
    """The SDK's provider base class: reads are the subclass's; push, validate and push-types are remotevars'.

    The SDK's default write and type methods (which warn and do nothing) are not mapped: a provider used
    with a workflow here implements what the workflow calls.
    """

    def get_serialized_value(
        self, variable_name: str, targeting_key: str | None = None, attributes: Mapping[str, Any] | None = None
    ) -> ResolvedVariable[str | None]:
        raise NotImplementedError

    def get_serialized_value_for_label(self, variable_name: str, label: str) -> ResolvedVariable[str | None]:
        """The value a label serves (refs followed with remotevars' ``VariableConfig.follow_ref``)."""
        config = self.get_variable_config(variable_name)
        if config is None:
            return ResolvedVariable(name=variable_name, value=None, reason='unrecognized_variable')
        target = config.labels.get(label)
        if target is None:
            return ResolvedVariable(name=variable_name, value=None, reason='missing_config')
        serialized, version = config.follow_ref(target)
        reason: ResolutionReason = 'resolved' if serialized is not None else 'missing_config'
        return ResolvedVariable(name=variable_name, value=serialized, label=label, version=version, reason=reason)

    def refresh(self, force: bool = False) -> None:
        """Nothing to refresh: remotevars' workflows read the provider's config directly."""

    def shutdown(self, timeout_millis: float = 5000) -> None:
        """Nothing to stop."""

    def get_variable_config(self, name: str) -> VariableConfig | None:
        return None

    def get_all_variables_config(self) -> VariablesConfig:
        return VariablesConfig(variables={})

    def create_variable(self, config: VariableConfig) -> VariableConfig:
        raise NotImplementedError(f'{type(self).__name__} does not write variables')

    def update_variable(self, name: str, config: VariableConfig) -> VariableConfig:
        raise NotImplementedError(f'{type(self).__name__} does not write variables')

    def delete_variable(self, name: str) -> None:
        raise NotImplementedError(f'{type(self).__name__} does not write variables')

    def list_variable_types(self) -> dict[str, VariableTypeConfig]:
        raise NotImplementedError(f'{type(self).__name__} has no variable types')

    def upsert_variable_type(self, config: VariableTypeConfig) -> VariableTypeConfig:
        raise NotImplementedError(f'{type(self).__name__} has no variable types')

    def push_variables(
        self, variables: Sequence[Any], *, dry_run: bool = False, yes: bool = False, strict: bool = STRICT_PUSH
    ) -> bool:
        return remotevars.variables_push(
            list(variables), api=ProviderApi(self), dry_run=dry_run, yes=yes, strict=strict, colors=True
        )

    def validate_variables(self, variables: Sequence[Any]) -> ValidationReport:
        return remotevars.variables_validate(list(variables), api=ProviderApi(self))

    def push_variable_types(
        self, types: Sequence[Any], *, dry_run: bool = False, yes: bool = False, strict: bool = STRICT_PUSH_TYPES
    ) -> bool:
        return remotevars.variables_push_types(
            list(types), api=ProviderApi(self), dry_run=dry_run, yes=yes, strict=strict, colors=True
        )

    def push_config(
        self, config: VariablesConfig, *, mode: str = 'merge', dry_run: bool = False, yes: bool = False
    ) -> bool:
        return remotevars.variables_push_config(
            config,
            api=ProviderApi(self),
            mode=mode,  # type: ignore[arg-type]
            dry_run=dry_run,
            yes=yes,
            colors=True,
        )

    def pull_config(self) -> VariablesConfig:
        return remotevars.variables_pull_config(api=ProviderApi(self))


class NoOpVariableProvider(VariableProvider):
    """Not mapped: remotevars has no provider object for "no provider" (reads report ``no_provider``)."""

    def __init__(self) -> None:
        raise NotImplementedError('the SDK NoOpVariableProvider is not applicable to remotevars')

    def get_serialized_value(
        self, variable_name: str, targeting_key: str | None = None, attributes: Mapping[str, Any] | None = None
    ) -> ResolvedVariable[str | None]:
        raise NotImplementedError


# -- the SDK's push planning records, as views of remotevars' PushPlan -----------------------------


@dataclass
class LabelCompatibility:
    label: str
    serialized_value: str
    is_compatible: bool
    error: str | None = None


@dataclass
class VariableChange:
    """One entry of a remotevars ``PushPlan`` in the SDK's shape; ``body`` (not compared) is what would be sent."""

    name: str
    change_type: str  # 'create', 'update_schema', 'update_description' (remotevars pushes those), 'no_change'
    local_schema: dict[str, Any] | None = None
    server_schema: dict[str, Any] | None = None
    initial_value: str | None = None
    incompatible_labels: list[LabelCompatibility] | None = None
    server_id: str | None = None
    local_description: str | None = None
    server_description: str | None = None
    description_differs: bool = False
    template_inputs_schema: dict[str, Any] | None = None
    value_schema_changed: bool = False
    inputs_schema_changed: bool = False
    body: VariableConfig | None = field(default=None, compare=False, repr=False)


@dataclass
class VariableDiff:
    changes: list[VariableChange]
    orphaned_server_variables: list[str]
    reference_errors: list[str] = field(default_factory=list)
    reference_cycles: list[str] = field(default_factory=list)
    template_field_issues: list[TemplateFieldIssue] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return any(change.change_type != 'no_change' for change in self.changes)


def _get_json_schema(variable: Any) -> dict[str, Any] | None:
    return variable.to_config().json_schema


def _get_default_serialized(variable: Any) -> str | None:
    return variable.serialized_default()


def _served_text(config: VariableConfig, label: str) -> str:
    target = config.labels.get(label)
    if isinstance(target, LabeledValue):
        return target.serialized_value
    return config.latest_version.serialized_value if config.latest_version is not None else ''


def _compatibilities(issues: Sequence[LabelIncompatibility], config: VariableConfig) -> list[LabelCompatibility]:
    return [LabelCompatibility(i.label, _served_text(config, i.label), False, i.error) for i in issues]


def _check_label_compatibility(variable: Any, label: str, serialized_value: str) -> LabelCompatibility:
    from remotevars._plan import _validation_error

    error = _validation_error(variable.type_adapter, serialized_value)
    return LabelCompatibility(label, serialized_value, error is None, error)


def _check_type_label_compatibility(adapter: Any, server_var: VariableConfig) -> list[LabelCompatibility]:
    from remotevars._plan import _incompatibilities

    return _compatibilities(_incompatibilities(adapter, server_var), server_var)


def _check_reference_errors(variables: list[Any], server_config: VariablesConfig) -> tuple[list[str], list[str]]:
    from remotevars._reference_checks import reference_problems

    return reference_problems(variables, server_config)


def _change(variable: Any, entry: PushEntry, server: VariablesConfig) -> VariableChange:
    local_schema = variable.type_adapter.json_schema()
    if entry.action == 'create':
        return VariableChange(
            variable.name,
            'create',
            local_schema=local_schema,
            initial_value=entry.example,
            local_description=variable.description,
            template_inputs_schema=variable.template_inputs_schema(),
            body=entry.body,
        )
    existing = server.get_variable_config(variable.name)
    assert existing is not None
    described = {
        'local_description': variable.description,
        'server_description': existing.description,
        'description_differs': (variable.description or None) != (existing.description or None),
        'incompatible_labels': _compatibilities(entry.incompatible, existing) or None,
    }
    if entry.action == 'unchanged':
        return VariableChange(variable.name, 'no_change', **described)
    schema_changed = entry.value_schema_changed or entry.inputs_schema_changed
    return VariableChange(
        variable.name,
        'update_schema' if schema_changed else 'update_description',
        local_schema=local_schema,
        server_schema=existing.json_schema,
        template_inputs_schema=variable.template_inputs_schema(),
        value_schema_changed=entry.value_schema_changed,
        inputs_schema_changed=entry.inputs_schema_changed,
        body=entry.body,
        **described,
    )


def _compute_diff(variables: Sequence[Any], server_config: VariablesConfig) -> VariableDiff:
    plan = plan_push(variables, server_config)
    return VariableDiff(
        changes=[_change(v, e, server_config) for v, e in zip(variables, plan.entries, strict=True)],
        orphaned_server_variables=list(plan.server_only),
        reference_errors=list(plan.reference_errors),
        reference_cycles=list(plan.reference_cycles),
        template_field_issues=list(plan.template_field_issues),
    )


def _entry(change: VariableChange) -> PushEntry:
    incompatible = tuple(LabelIncompatibility(c.label, c.error or '') for c in change.incompatible_labels or ())
    if change.change_type == 'create':
        body = change.body or VariableConfig(
            name=change.name,
            description=change.local_description,
            rollout=Rollout(labels={}),
            overrides=[],
            json_schema=change.local_schema,
            example=change.initial_value,
            template_inputs_schema=change.template_inputs_schema,
        )
        return PushEntry(
            change.name,
            'create',
            description=change.local_description,
            example=change.initial_value,
            default_is_function=change.initial_value is None,
            body=body,
        )
    if change.change_type == 'no_change':
        return PushEntry(change.name, 'unchanged', server_name=change.name, incompatible=incompatible)
    return PushEntry(
        change.name,
        'update',
        description=change.local_description,
        server_name=change.name,
        value_schema_changed=change.value_schema_changed,
        inputs_schema_changed=change.inputs_schema_changed,
        description_changed=change.change_type == 'update_description',
        incompatible=incompatible,
        body=change.body,
    )


def _format_diff(diff: VariableDiff) -> str:
    from remotevars._render import render_push_plan

    plan = PushPlan(
        tuple(_entry(change) for change in diff.changes),
        tuple(diff.orphaned_server_variables),
        tuple(
            DescriptionDifference(c.name, c.local_description, c.server_description)
            for c in diff.changes
            if c.description_differs
        ),
        reference_errors=tuple(diff.reference_errors),
        reference_cycles=tuple(diff.reference_cycles),
        template_field_issues=tuple(diff.template_field_issues),
    )
    return render_push_plan(plan, colors=True)


def _apply_changes(provider: VariableProvider, diff: VariableDiff, server_config: VariablesConfig) -> None:
    from remotevars.push import _apply_writes

    writes = [(change.name, change.body) for change in diff.changes if change.body is not None]
    _apply_writes(ProviderApi(provider), writes, [])  # type: ignore[arg-type]
