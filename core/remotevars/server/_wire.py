"""Conversion and validation of the server's HTTP bodies (contract §1.3, §1.7, §1.8).

Owns the write format (labels with ``target_type``) and its checks: a write body becomes a
:class:`VariableWrite`, or a :class:`WriteRejected` whose message names the offending field. The read
format is produced by :mod:`remotevars.server._store`; the checks reuse :mod:`remotevars.config`, so
everything the server accepts is something every client can parse.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from remotevars._errors import VariableWriteError
from remotevars.config import LabeledValue, LabelRef, VariableConfig, VariableTypeConfig

__all__ = [
    'NAME_PATTERN',
    'RESERVED_LABELS',
    'LabelTarget',
    'VariableWrite',
    'WriteRejected',
    'check_name',
    'parse_bulk',
    'parse_json',
    'parse_new_version',
    'parse_variable_type',
    'parse_write',
]

NAME_PATTERN = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')
RESERVED_LABELS = frozenset({'latest', 'code_default'})
_TARGET_TYPES = ('version', 'latest', 'code_default', 'label')


class WriteRejected(VariableWriteError, ValueError):
    """A request the server refuses; ``status`` is the HTTP status and the message names the field."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class LabelTarget:
    """What a label points at in a write: a version (maybe new), ``latest``, ``code_default`` or a label."""

    kind: str  # one of _TARGET_TYPES
    version: int | None = None
    serialized_value: str | None = None
    target_label: str | None = None


@dataclass(frozen=True, slots=True)
class VariableWrite:
    """A validated write body: everything but version numbers, which the store assigns."""

    name: str
    description: str | None
    labels: dict[str, LabelTarget]
    rollout: dict[str, Any]
    overrides: list[dict[str, Any]]
    json_schema: dict[str, Any] | None
    type_name: str | None
    aliases: list[str] | None
    example: str | None
    template_inputs_schema: dict[str, Any] | None
    #: Whether the body carried ``type_name`` (the Logfire write format never does: then the stored one is kept).
    has_type_name: bool = False


def parse_json(raw: bytes) -> Any:
    """Return the decoded JSON of a request body; raises :class:`WriteRejected` (400) when it is not JSON."""
    if not raw.strip():
        raise WriteRejected('body: expected a JSON body, got an empty one', 400)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WriteRejected(f'body: malformed JSON ({exc})', 400) from None
    except RecursionError:
        raise WriteRejected('body: JSON nested too deeply', 400) from None


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid variable name; raises :class:`WriteRejected` (422) otherwise."""
    if not NAME_PATTERN.fullmatch(name):
        raise WriteRejected(
            f'name: invalid variable name {name!r} (letters, digits and underscores, not starting with a digit)'
        )
    return name


def _format_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        message = str(error['msg']).removeprefix('Value error, ')
        loc = '.'.join(str(p) for p in error['loc'])
        parts.append(f'{loc}: {message}' if loc else message)
    return '; '.join(parts)


def _parse_label(label: Any, raw: Any) -> LabelTarget:
    where = f'labels.{label}'
    if not isinstance(label, str) or not label:
        raise WriteRejected('labels: label names must be non-empty strings')
    if label in RESERVED_LABELS:
        raise WriteRejected(f'{where}: {label!r} is reserved and cannot be used as a label name')
    if not isinstance(raw, dict):
        raise WriteRejected(f'{where}: expected an object with a target_type')
    kind = raw.get('target_type')
    if kind not in _TARGET_TYPES:
        raise WriteRejected(f'{where}.target_type: expected one of {", ".join(_TARGET_TYPES)}, got {kind!r}')
    if kind == 'version':
        value = raw.get('serialized_value')
        if not isinstance(value, str):
            raise WriteRejected(f'{where}.serialized_value: expected a string of JSON text')
        try:
            json.loads(value)
        except ValueError:
            raise WriteRejected(f'{where}.serialized_value: not valid JSON text') from None
        version = raw.get('version')
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
            raise WriteRejected(f'{where}.version: expected a positive integer or null')
        return LabelTarget('version', version=version, serialized_value=value)
    if kind == 'label':
        target = raw.get('target_label')
        if not isinstance(target, str) or not target:
            raise WriteRejected(f'{where}.target_label: expected the name of another label')
        if target == label:
            raise WriteRejected(f'{where}.target_label: a label cannot point at itself')
        return LabelTarget('label', target_label=target)
    return LabelTarget(kind)


def _candidate_label(target: LabelTarget) -> LabeledValue | LabelRef:
    # The read-shape stand-in used only to run the shared model checks (version numbers are not known yet).
    if target.kind == 'version':
        assert target.serialized_value is not None
        return LabeledValue(version=target.version or 0, serialized_value=target.serialized_value)
    if target.kind == 'label':
        assert target.target_label is not None
        return LabelRef(ref=target.target_label)
    return LabelRef(ref=target.kind)


def _check_patterns(overrides: list[dict[str, Any]]) -> None:
    for i, override in enumerate(overrides):
        for j, condition in enumerate(override['conditions']):
            if 'pattern' in condition:
                try:
                    re.compile(condition['pattern'])
                except re.error as exc:
                    raise WriteRejected(
                        f'overrides.{i}.conditions.{j}.pattern: invalid regular expression ({exc})'
                    ) from None


def parse_write(body: Any) -> VariableWrite:
    """Return the validated :class:`VariableWrite` of a write body (contract §1.7).

    Raises :class:`WriteRejected` (422) naming the field: bad name, unknown label in a rollout or
    override, a ref to a missing label, a reserved label name, negative / non-finite / too large weights.
    """
    if not isinstance(body, dict):
        raise WriteRejected('body: expected a JSON object')
    name = body.get('name')
    if not isinstance(name, str):
        raise WriteRejected('name: expected a string')
    check_name(name)
    raw_labels = body.get('labels') or {}
    if not isinstance(raw_labels, dict):
        raise WriteRejected('labels: expected an object mapping label names to targets')
    labels = {label: _parse_label(label, raw) for label, raw in raw_labels.items()}
    candidate = {
        'name': name,
        'description': body.get('description'),
        'labels': {label: _candidate_label(t) for label, t in labels.items()},
        'rollout': body.get('rollout', {'labels': {}}),
        'overrides': body.get('overrides', []),
        'json_schema': body.get('json_schema'),
        'type_name': body.get('type_name'),
        'aliases': body.get('aliases'),
        'example': body.get('example'),
        'template_inputs_schema': body.get('template_inputs_schema'),
    }
    _check_finite(candidate['rollout'], 'rollout')
    try:
        model = VariableConfig.model_validate(candidate)
    except ValidationError as exc:
        raise WriteRejected(_format_validation_error(exc)) from None
    overrides = [o.model_dump(mode='json') for o in model.overrides]
    _check_patterns(overrides)
    return VariableWrite(
        name=name,
        description=model.description,
        labels=labels,
        rollout=model.rollout.model_dump(mode='json'),
        overrides=overrides,
        json_schema=model.json_schema,
        type_name=model.type_name,
        aliases=model.aliases,
        example=model.example,
        template_inputs_schema=model.template_inputs_schema,
        has_type_name='type_name' in body,
    )


def _check_finite(rollout: Any, where: str) -> None:
    # JSON has no NaN/Infinity, but Python's json module accepts them; refuse them with a clear message.
    labels = rollout.get('labels') if isinstance(rollout, dict) else None
    if isinstance(labels, dict):
        for label, weight in labels.items():
            if isinstance(weight, float) and not math.isfinite(weight):
                raise WriteRejected(f'{where}.labels.{label}: weights must be finite numbers')


def parse_bulk(body: Any) -> tuple[list[VariableWrite], list[str]]:
    """Return ``(upserts, deletes)`` of a bulk body: a JSON array of write bodies, or ``{upsert, delete}``.

    Raises :class:`WriteRejected` naming the entry (index and variable name) and the field.
    """
    if isinstance(body, list):
        raw_upserts: Any = body
        raw_deletes: Any = []
    elif isinstance(body, dict):
        unknown = sorted(set(body) - {'upsert', 'delete'})
        if unknown:
            raise WriteRejected(f'body: unknown keys {unknown}; expected "upsert" and/or "delete"')
        raw_upserts = body.get('upsert', [])
        raw_deletes = body.get('delete', [])
    else:
        raise WriteRejected('body: expected a JSON array of variables or an object {"upsert": [...], "delete": [...]}')
    if not isinstance(raw_upserts, list):
        raise WriteRejected('upsert: expected an array of variable bodies')
    if not isinstance(raw_deletes, list) or not all(isinstance(n, str) for n in raw_deletes):
        raise WriteRejected('delete: expected an array of variable names')
    upserts = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_upserts):
        label = raw.get('name') if isinstance(raw, dict) else None
        try:
            write = parse_write(raw)
        except WriteRejected as exc:
            raise WriteRejected(f'upsert[{i}] (variable {label!r}): {exc}', exc.status) from None
        if write.name in seen:
            raise WriteRejected(f'upsert[{i}] (variable {write.name!r}): name appears more than once')
        seen.add(write.name)
        upserts.append(write)
    for i, name in enumerate(raw_deletes):
        try:
            check_name(name)
        except WriteRejected as exc:
            raise WriteRejected(f'delete[{i}]: {exc}') from None
        if name in seen:
            raise WriteRejected(f'delete[{i}] (variable {name!r}): cannot both upsert and delete a variable')
    if len(set(raw_deletes)) != len(raw_deletes):
        raise WriteRejected('delete: a name appears more than once')
    return upserts, list(raw_deletes)


def parse_new_version(body: Any) -> str:
    """Return the ``serialized_value`` of a new-version body; raises :class:`WriteRejected` when malformed."""
    if not isinstance(body, dict):
        raise WriteRejected('body: expected a JSON object {"serialized_value": "<JSON text>"}')
    value = body.get('serialized_value')
    if not isinstance(value, str):
        raise WriteRejected('serialized_value: expected a string of JSON text')
    try:
        json.loads(value)
    except ValueError:
        raise WriteRejected('serialized_value: not valid JSON text') from None
    return value


def parse_variable_type(body: Any) -> dict[str, Any]:
    """Return the validated variable type (contract §1.8) as a JSON-ready dict; raises :class:`WriteRejected`."""
    if not isinstance(body, dict):
        raise WriteRejected('body: expected a JSON object')
    if not isinstance(body.get('name'), str) or not body['name']:
        raise WriteRejected('name: expected a non-empty string')
    try:
        model = VariableTypeConfig.model_validate({'json_schema': {}, **body})
    except ValidationError as exc:
        raise WriteRejected(_format_validation_error(exc)) from None
    return model.model_dump(mode='json')
