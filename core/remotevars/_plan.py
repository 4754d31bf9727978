"""Pure planning for the push / validate / config workflows: what would change, and what would break.

Every function here is a function of its inputs (local variables, types or configs, and the server's
config as fetched by the caller); nothing does I/O. :mod:`remotevars._render` prints the results and
:mod:`remotevars.push` fetches, prompts and applies them.

Deliberate differences from the reference (README.md, "Where remotevars deliberately differs"):

- local names are looked up on the server by name, then by alias (item 25);
- a create whose code default cannot be serialised is recorded as an error, so the caller can refuse
  before anything is sent (item 26);
- a schema update keeps the server's aliases, example, type name and template inputs schema, and a
  changed (non-empty) local description is pushed as an update (items 27 and 28);
- type schemas are compared canonically and a server-side type description is kept (item 29);
- push-config compares configs canonically and keeps the server's label versions for unchanged label
  values, so re-pushing a pulled config is a no-op and creates no versions (item 31).

Every plan also carries a field-level :class:`~remotevars._diff.VariableDiff` per variable it writes or
deletes, which says what the write removes and whether it is destructive.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import TypeAdapter, ValidationError

from remotevars._diff import VariableDiff, diff_variable
from remotevars._errors import VariableSerializationError
from remotevars._reference_checks import reference_problems, template_issues
from remotevars.config import LabeledValue, LabelRef, Rollout, VariableConfig, VariablesConfig, VariableTypeConfig

if TYPE_CHECKING:
    from remotevars._template import TemplateFieldIssue
    from remotevars._variable import Variable

__all__ = [
    'ConfigCheck',
    'ConfigIncompatibility',
    'ConfigPlan',
    'DescriptionDifference',
    'LabelIncompatibility',
    'LabelValidationError',
    'PushEntry',
    'PushPlan',
    'SyncMode',
    'TypeEntry',
    'TypeIncompatibility',
    'TypesPlan',
    'ValidationReport',
    'canonical_json',
    'check_config_values',
    'config_key',
    'default_type_name',
    'normalize_types',
    'plan_push',
    'plan_push_config',
    'plan_push_types',
    'source_hint',
    'type_label_incompatibilities',
    'validate_report',
]

SyncMode = Literal['merge', 'replace']
"""How ``variables_push_config`` treats server variables missing from the config: keep or delete."""


def canonical_json(value: Any) -> str:
    """Return ``value`` as JSON with sorted keys, so equal documents compare equal whatever their key order."""
    return json.dumps(value, sort_keys=True, separators=(',', ':'))


def _canonical_text(serialized: str | None) -> str | None:
    # JSON text compared by meaning: '{"a":1,"b":2}' equals '{"b": 2, "a": 1}'.
    if serialized is None:
        return None
    try:
        return canonical_json(json.loads(serialized))
    except ValueError:
        return serialized


def _schema_key(schema: Mapping[str, Any] | None) -> str:
    # The reference treats a missing or empty server schema as '{}'.
    return canonical_json(dict(schema) if schema else {})


def _same_description(a: str | None, b: str | None) -> bool:
    return (a or '') == (b or '')


def _incompatibilities(adapter: TypeAdapter[Any], config: VariableConfig) -> tuple[LabelIncompatibility, ...]:
    # Every labelled value and the latest version, validated with the local type; refs are skipped.
    found: list[LabelIncompatibility] = []
    for label, target in config.labels.items():
        if isinstance(target, LabeledValue):
            error = _validation_error(adapter, target.serialized_value)
            if error is not None:
                found.append(LabelIncompatibility(label, error))
    if config.latest_version is not None:
        error = _validation_error(adapter, config.latest_version.serialized_value)
        if error is not None:
            found.append(LabelIncompatibility('latest', error))
    return tuple(found)


def _validation_error(adapter: TypeAdapter[Any], serialized: str) -> str | None:
    try:
        adapter.validate_json(serialized)
    except (ValidationError, ValueError, TypeError) as exc:
        return str(exc)
    return None


# -- push ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelIncompatibility:
    """A server value (under ``label``; ``'latest'`` for the latest version) that the local type rejects."""

    label: str
    error: str


@dataclass(frozen=True, slots=True)
class DescriptionDifference:
    """A variable whose local and server descriptions differ (None and '' count as equal)."""

    variable_name: str
    local_description: str | None
    server_description: str | None


@dataclass(frozen=True, slots=True)
class PushEntry:
    """What ``variables_push`` does with one local variable.

    ``body`` is the config to send for a create or an update (None when unchanged or when the
    default cannot be serialised); ``server_name`` is the canonical server name (which differs from
    ``name`` when the local name is an alias on the server).
    """

    name: str
    action: Literal['create', 'update', 'unchanged']
    description: str | None = None
    example: str | None = None
    default_is_function: bool = False
    server_name: str | None = None
    value_schema_changed: bool = False
    inputs_schema_changed: bool = False
    description_changed: bool = False
    incompatible: tuple[LabelIncompatibility, ...] = ()
    body: VariableConfig | None = None


@dataclass(frozen=True, slots=True)
class PushPlan:
    """The whole plan of ``variables_push``: one entry per local variable, in local order."""

    entries: tuple[PushEntry, ...]
    server_only: tuple[str, ...] = ()
    description_differences: tuple[DescriptionDifference, ...] = ()
    #: One message per variable whose code default cannot be serialised (blocks the push).
    serialization_errors: tuple[str, ...] = ()
    #: ``@{reference}@`` problems (missing references, unparsable values, then cycles) and the cycles alone.
    reference_errors: tuple[str, ...] = ()
    reference_cycles: tuple[str, ...] = ()
    #: ``{{fields}}`` of template variables that their inputs schemas do not declare.
    template_field_issues: tuple[TemplateFieldIssue, ...] = ()
    #: What each create and update changes, field by field (a push changes metadata only: never destructive).
    diffs: tuple[VariableDiff, ...] = ()

    @property
    def has_reference_warnings(self) -> bool:
        """Whether references or template fields have problems (applied with a warning unless strict)."""
        return bool(self.reference_errors or self.template_field_issues)

    @property
    def creates(self) -> list[PushEntry]:
        """The entries to create."""
        return [e for e in self.entries if e.action == 'create']

    @property
    def updates(self) -> list[PushEntry]:
        """The entries to update."""
        return [e for e in self.entries if e.action == 'update']

    @property
    def unchanged(self) -> list[PushEntry]:
        """The entries already up to date."""
        return [e for e in self.entries if e.action == 'unchanged']

    @property
    def has_changes(self) -> bool:
        """Whether anything would be written."""
        return any(e.action != 'unchanged' for e in self.entries)

    @property
    def incompatibility_message(self) -> str | None:
        """The reference's summary of incompatible server values, or None when there are none."""
        on_update = any(e.incompatible for e in self.updates)
        on_unchanged = any(e.incompatible for e in self.unchanged)
        if on_update and on_unchanged:
            return (
                'Some existing label values are incompatible with the variable types, '
                'and some schema changes will make additional values incompatible.'
            )
        if on_update:
            return 'Some schema changes will result in label values incompatible with the new schema.'
        if on_unchanged:
            return 'Some existing label values are incompatible with the variable types (schema unchanged).'
        return None


def plan_push(variables: Sequence[Variable[Any]], server: VariablesConfig) -> PushPlan:
    """Return the :class:`PushPlan` that brings ``server`` up to date with the local ``variables``.

    Only metadata is planned (schema, description; example on create): labels, versions, rollouts and
    overrides of existing variables are carried over untouched.
    """
    entries: list[PushEntry] = []
    differences: list[DescriptionDifference] = []
    errors: list[str] = []
    matched: set[str] = set()
    for variable in variables:
        local_schema = variable.type_adapter.json_schema()
        local_inputs = variable.template_inputs_schema()
        existing = server.get_variable_config(variable.name)
        if existing is None:
            entry, error = _plan_create(variable, local_schema, local_inputs)
            entries.append(entry)
            if error is not None:
                errors.append(error)
            continue
        matched.add(existing.name)
        if not _same_description(variable.description, existing.description):
            differences.append(DescriptionDifference(variable.name, variable.description, existing.description))
        schema_changed = _schema_key(local_schema) != _schema_key(existing.json_schema)
        # A plain variable keeps whatever inputs schema the server has (another codebase may render it).
        inputs_changed = local_inputs is not None and _schema_key(local_inputs) != _schema_key(
            existing.template_inputs_schema
        )
        # A local description that is empty never wipes the server's (it may be maintained in the UI).
        description_changed = bool(variable.description) and variable.description != existing.description
        incompatible = _incompatibilities(variable.type_adapter, existing)
        if not (schema_changed or inputs_changed or description_changed):
            entries.append(PushEntry(variable.name, 'unchanged', server_name=existing.name, incompatible=incompatible))
            continue
        # Everything the server has is kept; only the schema and the description change.
        body = existing.model_copy(
            update={
                'json_schema': local_schema if schema_changed else existing.json_schema,
                'template_inputs_schema': local_inputs if inputs_changed else existing.template_inputs_schema,
                'description': variable.description if description_changed else existing.description,
            }
        )
        entries.append(
            PushEntry(
                variable.name,
                'update',
                description=variable.description,
                server_name=existing.name,
                value_schema_changed=schema_changed,
                inputs_schema_changed=inputs_changed,
                description_changed=description_changed,
                incompatible=incompatible,
                body=body,
            )
        )
    server_only = tuple(name for name in server.variables if name not in matched)
    problems, cycles = reference_problems(variables, server)
    diffs = tuple(
        diff_variable(server.variables.get(entry.server_name or entry.name), entry.body)
        for entry in entries
        if entry.body is not None
    )
    return PushPlan(
        tuple(entries),
        server_only,
        tuple(differences),
        tuple(errors),
        tuple(problems),
        tuple(cycles),
        tuple(template_issues(variables, server)),
        diffs,
    )


def _plan_create(
    variable: Variable[Any], schema: dict[str, Any], inputs_schema: dict[str, Any] | None
) -> tuple[PushEntry, str | None]:
    try:
        example = variable.serialized_default(strict=True)
    except VariableSerializationError as exc:
        entry = PushEntry(variable.name, 'create', description=variable.description)
        return entry, str(exc)
    body = VariableConfig(
        name=variable.name,
        description=variable.description,
        labels={},
        rollout=Rollout(labels={}),
        overrides=[],
        json_schema=schema,
        example=example,
        template_inputs_schema=inputs_schema,
    )
    entry = PushEntry(
        variable.name,
        'create',
        description=variable.description,
        example=example,
        default_is_function=example is None,
        body=body,
    )
    return entry, None


# -- validate -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelValidationError:
    """A server value that does not validate against the local type (label None: the variable as a whole)."""

    variable_name: str
    label: str | None
    error: Exception


@dataclass
class ValidationReport:
    """The result of ``variables_validate``: what on the server no longer fits the code.

    ``is_valid`` ignores description differences (they are informational).
    """

    errors: list[LabelValidationError]
    variables_checked: int
    variables_not_on_server: list[str]
    description_differences: list[DescriptionDifference] = field(default_factory=list)
    #: ``@{reference}@`` problems (missing references and cycles), and the cycles alone.
    reference_errors: list[str] = field(default_factory=list)
    reference_cycles: list[str] = field(default_factory=list)
    #: ``{{fields}}`` of template variables that their inputs schemas do not declare.
    template_field_issues: list[TemplateFieldIssue] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        """True when no value is invalid, every variable exists on the server and references and fields are sound."""
        return not (self.errors or self.variables_not_on_server or self.reference_errors or self.template_field_issues)

    @property
    def has_errors(self) -> bool:
        """The opposite of :attr:`is_valid`."""
        return not self.is_valid

    def format(self, colors: bool = True) -> str:
        """Return the report as printable text, with ANSI colours unless ``colors=False``."""
        from remotevars._render import format_validation_report

        return format_validation_report(self, colors=colors)


def validate_report(variables: Sequence[Variable[Any]], server: VariablesConfig) -> ValidationReport:
    """Return the :class:`ValidationReport` of ``variables`` against ``server`` (aliases count as names)."""
    missing: list[str] = []
    differences: list[DescriptionDifference] = []
    on_server: list[Variable[Any]] = []
    for variable in variables:
        existing = server.get_variable_config(variable.name)
        if existing is None:
            missing.append(variable.name)
            continue
        on_server.append(variable)
        if not _same_description(variable.description, existing.description):
            differences.append(DescriptionDifference(variable.name, variable.description, existing.description))
    errors = [
        LabelValidationError(name, label, error)
        for name, by_label in server.get_validation_errors(on_server).items()
        for label, error in by_label.items()
    ]
    problems, cycles = reference_problems(variables, server)
    return ValidationReport(
        errors, len(variables), missing, differences, problems, cycles, template_issues(variables, server)
    )


# -- push types ---------------------------------------------------------------------------------


def default_type_name(type_: Any) -> str:
    """Return the name a type is pushed under: ``__name__`` for classes, else ``str(type_)``."""
    return type_.__name__ if isinstance(type_, type) else str(type_)


def source_hint(type_: Any) -> str | None:
    """Return ``module.qualname`` of a class (where the type is defined), else None."""
    module = getattr(type_, '__module__', None)
    qualname = getattr(type_, '__qualname__', None)
    if isinstance(type_, type) and module and qualname:
        return f'{module}.{qualname}'
    return None


def normalize_types(types: Sequence[Any]) -> list[tuple[Any, str]]:
    """Return ``(type, name)`` pairs for items that are a type or a ``(type, name)`` tuple."""
    pairs: list[tuple[Any, str]] = []
    for item in types:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str):
            pairs.append((item[0], item[1]))
        else:
            pairs.append((item, default_type_name(item)))
    return pairs


@dataclass(frozen=True, slots=True)
class TypeEntry:
    """What ``variables_push_types`` does with one type; ``body`` is what would be sent."""

    name: str
    action: Literal['create', 'update', 'unchanged']
    body: VariableTypeConfig


@dataclass(frozen=True, slots=True)
class TypeIncompatibility:
    """A value of a variable using type ``type_name`` that the new schema rejects."""

    type_name: str
    variable_name: str
    label: str
    error: str


@dataclass(frozen=True, slots=True)
class TypesPlan:
    """The plan of ``variables_push_types``, in the order the types were given."""

    entries: tuple[TypeEntry, ...]
    incompatibilities: tuple[TypeIncompatibility, ...] = ()

    def of(self, action: str) -> list[TypeEntry]:
        """Return the entries with ``action`` ('create', 'update' or 'unchanged')."""
        return [e for e in self.entries if e.action == action]

    @property
    def has_changes(self) -> bool:
        """Whether any type would be written."""
        return any(e.action != 'unchanged' for e in self.entries)


def plan_push_types(types: Sequence[tuple[Any, str]], server_types: Mapping[str, VariableTypeConfig]) -> TypesPlan:
    """Return the :class:`TypesPlan` for ``(type, name)`` pairs against the server's types.

    Schemas are compared canonically (key order is irrelevant); an update keeps the server's
    description, which the code cannot express.
    """
    entries: list[TypeEntry] = []
    for type_, name in types:
        schema = TypeAdapter(type_).json_schema()
        existing = server_types.get(name)
        body = VariableTypeConfig(
            name=name,
            json_schema=schema,
            description=existing.description if existing is not None else None,
            source_hint=source_hint(type_),
        )
        if existing is None:
            action: Literal['create', 'update', 'unchanged'] = 'create'
        elif _schema_key(existing.json_schema) != _schema_key(schema):
            action = 'update'
        else:
            action = 'unchanged'
        entries.append(TypeEntry(name, action, body))
    return TypesPlan(tuple(entries))


def type_label_incompatibilities(
    types: Sequence[tuple[Any, str]], plan: TypesPlan, server: VariablesConfig
) -> tuple[TypeIncompatibility, ...]:
    """Return the server values of variables using an updated type that the new type rejects."""
    updated = {e.name for e in plan.of('update')}
    found: list[TypeIncompatibility] = []
    for type_, name in types:
        if name not in updated:
            continue
        adapter: TypeAdapter[Any] = TypeAdapter(type_)
        for config in server.variables.values():
            if config.type_name != name:
                continue
            for issue in _incompatibilities(adapter, config):
                found.append(TypeIncompatibility(name, config.name, issue.label, issue.error))
    return tuple(found)


# -- push config --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigPlan:
    """The plan of ``variables_push_config``: full configs to create / update, names to delete.

    ``diffs``: what each create, update and delete changes, field by field, in that order.
    """

    creates: tuple[VariableConfig, ...]
    updates: tuple[VariableConfig, ...]
    deletes: tuple[str, ...]
    unchanged: tuple[str, ...]
    diffs: tuple[VariableDiff, ...] = ()

    @property
    def has_changes(self) -> bool:
        """Whether anything would be written or deleted."""
        return bool(self.creates or self.updates or self.deletes)

    @property
    def destructive(self) -> tuple[VariableDiff, ...]:
        """The diffs that take traffic away from what is served."""
        return tuple(d for d in self.diffs if d.is_destructive)


def config_key(config: VariableConfig) -> str:
    """Return a canonical text of everything a write can change in ``config``.

    Key order and JSON formatting do not matter; label version numbers do not matter when the value
    is the same (the server numbers versions itself), while the order of rollout labels does (it
    decides which users get which label). ``latest_version`` and ``type_name`` are never written,
    so they are left out.
    """
    labels: dict[str, Any] = {}
    for label, target in config.labels.items():
        if isinstance(target, LabeledValue):
            labels[label] = {'value': _canonical_text(target.serialized_value)}
        else:
            labels[label] = {'ref': target.ref}
    data = config.model_dump(mode='json', exclude={'latest_version', 'type_name', 'labels'})
    data['labels'] = labels
    data['description'] = config.description or None
    data['aliases'] = config.aliases or None
    data['example'] = _canonical_text(config.example)
    data['rollout_order'] = list(config.rollout.labels)
    data['override_orders'] = [list(o.rollout.labels) for o in config.overrides]
    return canonical_json(data)


def _keep_server_versions(local: VariableConfig, server: VariableConfig) -> VariableConfig:
    # A label whose value equals the server's keeps the server's version, so no new version is created.
    labels: dict[str, LabeledValue | LabelRef] = {}
    for label, target in local.labels.items():
        current = server.labels.get(label)
        if (
            isinstance(target, LabeledValue)
            and isinstance(current, LabeledValue)
            and _canonical_text(target.serialized_value) == _canonical_text(current.serialized_value)
        ):
            labels[label] = current
        else:
            labels[label] = target
    return local.model_copy(update={'labels': labels})


def plan_push_config(config: VariablesConfig, server: VariablesConfig, mode: SyncMode = 'merge') -> ConfigPlan:
    """Return the :class:`ConfigPlan` that makes ``server`` match ``config``.

    ``mode='merge'`` leaves server variables missing from ``config`` alone; ``'replace'`` deletes them
    (in server order).
    """
    creates: list[VariableConfig] = []
    updates: list[VariableConfig] = []
    unchanged: list[str] = []
    for name, local in config.variables.items():
        existing = server.variables.get(name)
        if existing is None:
            creates.append(local)
        elif config_key(local) != config_key(existing):
            updates.append(_keep_server_versions(local, existing))
        else:
            unchanged.append(name)
    deletes = [name for name in server.variables if name not in config.variables] if mode == 'replace' else []
    # type_name is not part of the write format: the server keeps its own, so the diff does too.
    diffs = [diff_variable(None, c.model_copy(update={'type_name': None}), written=True) for c in creates]
    diffs += [
        diff_variable(
            server.variables[c.name],
            c.model_copy(update={'type_name': server.variables[c.name].type_name}),
            written=True,
        )
        for c in updates
    ]
    diffs += [diff_variable(server.variables[name], None) for name in deletes]
    return ConfigPlan(tuple(creates), tuple(updates), tuple(deletes), tuple(unchanged), tuple(diffs))


@dataclass(frozen=True, slots=True)
class ConfigIncompatibility:
    """A value of a config file (under ``label``; ``'latest'`` for the latest version) that the code's type rejects."""

    variable_name: str
    label: str
    error: str


@dataclass(frozen=True, slots=True)
class ConfigCheck:
    """What ``push-config --strict`` found: the file's values that the code's types reject (``errors``), and
    the file's variables that no local variable declares (``unchecked``: nothing to check them with)."""

    errors: tuple[ConfigIncompatibility, ...]
    unchecked: tuple[str, ...]


def check_config_values(config: VariablesConfig, variables: Sequence[Variable[Any]]) -> ConfigCheck:
    """Return every labelled value and latest version of ``config`` that the local ``variables`` reject.

    A file variable is checked with the local variable of its name or one of its aliases; refs are skipped.
    """
    errors: list[ConfigIncompatibility] = []
    checked: set[str] = set()
    for variable in variables:
        found = config.get_variable_config(variable.name)
        if found is None or found.name in checked:
            continue
        checked.add(found.name)
        errors.extend(
            ConfigIncompatibility(found.name, issue.label, issue.error)
            for issue in _incompatibilities(variable.type_adapter, found)
        )
    unchecked = tuple(name for name in config.variables if name not in checked)
    return ConfigCheck(tuple(errors), unchecked)
