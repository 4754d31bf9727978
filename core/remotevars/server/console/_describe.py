"""What the console's pages show about a variable, in words: pure functions of read shapes.

A read shape is what ``GET /v1/variables/`` serves for a variable. Changes are described with
:func:`remotevars._diff.diff_variable` and :func:`remotevars._render.render_variable_diff`, the same
words the command line prints, so a change reads the same wherever it is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Literal

from pydantic import ValidationError

from remotevars._diff import VariableDiff, rollout_text, target_text
from remotevars._errors import RemoteVarsError
from remotevars._render import render_variable_diff
from remotevars.config import VariableConfig
from remotevars.server._json_schema import InvalidSchema, violations
from remotevars.server._wire import validation_message

__all__ = [
    'ChangeLine',
    'InvalidVariable',
    'LabelRow',
    'VariableRow',
    'change_lines',
    'label_rows',
    'schema_problems',
    'type_text',
    'variable_config',
    'variable_row',
]


class InvalidVariable(RemoteVarsError, ValueError):
    """A variable state that breaks the rules every variable obeys; the message says which, in one line."""


def variable_config(shape: dict[str, Any]) -> VariableConfig:
    """Return the config model of a read shape; raises :class:`InvalidVariable` naming what is wrong."""
    try:
        return VariableConfig.model_validate(shape)
    except ValidationError as exc:
        raise InvalidVariable(validation_message(exc)) from None


def type_text(shape: dict[str, Any]) -> str:
    """Return a variable's type in a word: its ``type_name``, else its schema's title or type ('-': none)."""
    if shape.get('type_name'):
        return str(shape['type_name'])
    schema = shape.get('json_schema')
    if not isinstance(schema, dict):
        return '-'
    kind = schema.get('title') or schema.get('type')
    if isinstance(kind, list):
        return ' | '.join(map(str, kind))
    return str(kind) if kind else 'JSON'


def _target(target: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(**target)


def schema_problems(shape: dict[str, Any]) -> dict[str, list[str]]:
    """Return, per label, how its value breaks the variable's current ``json_schema`` (labels that fit: absent).

    A schema change may leave labels on values it refuses (it is accepted, and reported): the console
    flags them.
    """
    schema = shape.get('json_schema')
    if not isinstance(schema, dict):
        return {}
    latest = shape.get('latest_version') or {}
    problems: dict[str, list[str]] = {}
    for label, target in shape['labels'].items():
        value = target.get('serialized_value')
        if value is None and target.get('ref') == 'latest':
            value = latest.get('serialized_value')
        if value is None:
            continue
        try:
            found = violations(schema, value)
        except InvalidSchema as exc:
            return {label: [f'the json_schema is not usable: {exc}'] for label in shape['labels']}
        if found:
            problems[label] = [f'{v.path}: {v.message}' for v in found]
    return problems


@dataclass(frozen=True, slots=True)
class VariableRow:
    """One line of the variables list."""

    name: str
    description: str
    type: str
    labels: tuple[tuple[str, str], ...]  # (label, what it points at)
    rollout: str
    overrides: int
    latest_version: int | None
    updated_at: str
    schema_problems: int


def variable_row(shape: dict[str, Any]) -> VariableRow:
    """Return the list line of a variable."""
    latest = shape.get('latest_version')
    return VariableRow(
        name=shape['name'],
        description=shape.get('description') or '',
        type=type_text(shape),
        labels=tuple((label, target_text(_target(t))) for label, t in shape['labels'].items()),  # type: ignore[arg-type]
        rollout=rollout_text(shape['rollout']['labels']),
        overrides=len(shape['overrides']),
        latest_version=latest['version'] if latest else None,
        updated_at=(shape.get('updated_at') or '')[:19].replace('T', ' '),
        schema_problems=len(schema_problems(shape)),
    )


@dataclass(frozen=True, slots=True)
class LabelRow:
    """One label on the variable page: where it points, the value it serves, and schema problems."""

    label: str
    target: str
    version: int | None
    serialized_value: str | None  # None: the code default (or nothing to serve)
    weight: float | None  # its weight in the base rollout
    problems: tuple[str, ...]


def label_rows(config: VariableConfig, shape: dict[str, Any]) -> list[LabelRow]:
    """Return the variable's labels, each with the value it leads to (refs followed)."""
    problems = schema_problems(shape)
    rows = []
    for label, target in config.labels.items():
        value, version = config.follow_ref(target)
        rows.append(
            LabelRow(
                label=label,
                target=target_text(target),
                version=version,
                serialized_value=value,
                weight=config.rollout.labels.get(label),
                problems=tuple(problems.get(label, ())),
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class ChangeLine:
    """One line describing a change: ``added``, ``removed`` or ``changed``, in the command line's words."""

    kind: Literal['added', 'removed', 'changed']
    text: str


def change_lines(diff: VariableDiff) -> list[ChangeLine]:
    """Return the lines of a change as the command line prints them, less the destructive ones (shown apart)."""
    lines = []
    for line in render_variable_diff(diff, colors=False, indent=''):
        if line.startswith('DESTRUCTIVE:'):
            continue
        kind: Literal['added', 'removed', 'changed'] = (
            'added' if line.startswith('+') else 'removed' if line.startswith('-') else 'changed'
        )
        lines.append(ChangeLine(kind, line))
    return lines
