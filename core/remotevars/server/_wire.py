"""Conversion and validation of the server's HTTP bodies (the Logfire write format, and our extensions).

Owns the write format (labels with ``target_type``) and its checks: a write body becomes a
:class:`VariableWrite`, or a :class:`WriteRejected` whose message names the offending field. Bodies
are decoded strictly (:mod:`._json`) and held to the :class:`~remotevars.server._limits.Limits`. The
read format is produced by :mod:`remotevars.server._shape`; the checks reuse :mod:`remotevars.config`
and the condition engine's :func:`~remotevars._regex.compile_pattern`, so everything the server
accepts is something every client can parse and evaluate.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from pydantic import ValidationError

from remotevars._errors import VariableWriteError
from remotevars._regex import PatternError, compile_pattern
from remotevars.config import LabeledValue, LabelRef, VariableConfig, VariableTypeConfig
from remotevars.server._json import StrictJsonError, format_path, loads_strict
from remotevars.server._limits import Limits

__all__ = [
    'DEFAULT_LIMITS',
    'NAME_PATTERN',
    'RESERVED_LABELS',
    'LabelTarget',
    'VariableWrite',
    'WriteRejected',
    'check_label',
    'check_name',
    'check_override_patterns',
    'check_pattern_budget',
    'is_positive_id',
    'parse_body',
    'parse_bulk',
    'parse_json',
    'parse_new_version',
    'parse_variable_type',
    'parse_write',
    'validation_message',
]

NAME_PATTERN = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')
RESERVED_LABELS = frozenset({'latest', 'code_default'})
DEFAULT_LIMITS: Final = Limits()
_TARGET_TYPES = ('version', 'latest', 'code_default', 'label')
#: Unicode categories a label name may not contain: control, format (bidi overrides, zero-width), surrogate,
#: line and paragraph separators. Everything else is allowed, as Logfire allows any string.
_LABEL_FORBIDDEN_CATEGORIES: Final = frozenset({'Cc', 'Cf', 'Cs', 'Zl', 'Zp'})

#: The largest version number or history id: a database's 64-bit signed integer.
_MAX_ID: Final = 2**63 - 1

T = TypeVar('T')


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


def parse_body(raw: bytes, parse: Callable[[Any, Limits], T], limits: Limits = DEFAULT_LIMITS) -> T:
    """Return ``parse(decoded body, limits)``: the whole CPU-bound part of a write (run it off the event loop).

    Raises :class:`WriteRejected` (400 malformed, 422 invalid).
    """
    return parse(parse_json(raw, limits), limits)


def parse_json(raw: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Return the decoded JSON of a request body, strictly (:func:`~remotevars.server._json.loads_strict`).

    Raises :class:`WriteRejected`: 400 when it is not JSON, 422 naming the field for NaN/Infinity, an
    unpaired surrogate or nesting past ``limits.max_json_depth``.
    """
    if not raw.strip():
        raise WriteRejected('body: expected a JSON body, got an empty one', 400)
    try:
        return loads_strict(raw, max_depth=limits.max_json_depth)
    except StrictJsonError as exc:
        if exc.malformed:
            raise WriteRejected(f'body: {exc.reason}', 400) from None
        raise WriteRejected(f'{format_path(exc.path) or "body"}: {exc.reason}') from None


def is_positive_id(value: Any) -> bool:
    """Return whether ``value`` can be a version number or history id: an integer from 1 to 2**63 - 1."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= _MAX_ID


def check_name(name: str, max_length: int | None = None) -> str:
    """Return ``name`` if it is a valid variable name (at most ``max_length`` characters when given).

    Raises :class:`WriteRejected` (422) otherwise.
    """
    if max_length is not None and len(name) > max_length:
        raise WriteRejected(f'name: variable names are at most {max_length} characters, got {len(name)}')
    if not NAME_PATTERN.fullmatch(name):
        raise WriteRejected(
            f'name: invalid variable name {name!r} (letters, digits and underscores, not starting with a digit)'
        )
    return name


def check_label(label: Any, limits: Limits = DEFAULT_LIMITS, where: str = 'label') -> str:
    """Return ``label`` if it can name a label: the one rule of label names, for write bodies and edits alike.

    A label name is a non-empty string of at most ``limits.max_label_length`` characters, without
    control, format or line-separator characters, and not ``latest`` or ``code_default``. Raises
    :class:`WriteRejected` (422) whose message starts with ``where``.
    """
    if not isinstance(label, str) or not label:
        raise WriteRejected(f'{where}: label names must be non-empty strings')
    if len(label) > limits.max_label_length:
        raise WriteRejected(
            f'{where}: label names are at most {limits.max_label_length} characters,'
            f' got {len(label)} ({label[:20]!r}...)'
        )
    for char in label:
        if unicodedata.category(char) in _LABEL_FORBIDDEN_CATEGORIES:
            raise WriteRejected(
                f'{where}: label names may not contain control, format or line-separator characters'
                f' (found {char!r} in {label[:40]!r})'
            )
    if label in RESERVED_LABELS:
        raise WriteRejected(f'{where}: {label!r} is reserved and cannot be used as a label name')
    return label


def _check_json_text(value: str, where: str, limits: Limits) -> None:
    # A version's value is JSON text inside a string: held to the same strictness as a body.
    try:
        loads_strict(value, max_depth=limits.max_json_depth)
    except StrictJsonError as exc:
        raise WriteRejected(f'{where}: not valid JSON text ({exc})') from None


def validation_message(exc: ValidationError, prefix: str = '') -> str:
    """Return how a value failed the config models, in one line: ``field.path: message`` per error, ``; ``-joined.

    ``prefix`` (the field the validated value sits in) starts every path. Every refusal the server words
    from a model's errors (bodies, whole variables, the console's forms) goes through here.
    """
    parts = []
    for error in exc.errors(include_url=False):
        message = str(error['msg']).removeprefix('Value error, ')
        loc = '.'.join(str(p) for p in ((prefix, *error['loc']) if prefix else error['loc']))
        parts.append(f'{loc}: {message}' if loc else message)
    return '; '.join(parts)


def _parse_label(label: Any, raw: Any, limits: Limits) -> LabelTarget:
    check_label(label, limits, 'labels')
    where = f'labels.{label}'
    if not isinstance(raw, dict):
        raise WriteRejected(f'{where}: expected an object with a target_type')
    kind = raw.get('target_type')
    if kind not in _TARGET_TYPES:
        raise WriteRejected(f'{where}.target_type: expected one of {", ".join(_TARGET_TYPES)}, got {kind!r}')
    if kind == 'version':
        value = raw.get('serialized_value')
        if not isinstance(value, str):
            raise WriteRejected(f'{where}.serialized_value: expected a string of JSON text')
        _check_json_text(value, f'{where}.serialized_value', limits)
        version = raw.get('version')
        if version is not None and not is_positive_id(version):
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


def _raw_patterns(bodies: list[Any]) -> Iterator[Any]:
    # The pattern of every condition in raw (not yet validated) write bodies, whatever their shape.
    for body in bodies:
        overrides = body.get('overrides') if isinstance(body, dict) else None
        for override in overrides if isinstance(overrides, list) else ():
            conditions = override.get('conditions') if isinstance(override, dict) else None
            for condition in conditions if isinstance(conditions, list) else ():
                if isinstance(condition, dict):
                    yield condition.get('pattern')


def check_pattern_budget(bodies: list[Any], limits: Limits) -> None:
    """Return if the regex patterns of the write bodies ``bodies`` are within their total; raises WriteRejected.

    Runs before anything is compiled, on raw (not yet validated) bodies.
    """
    # Before anything is compiled: compiling costs up to ~1 ms per character (re, case-insensitive
    # classes spanning the BMP), so the characters of one request are bounded as a whole.
    total = sum(len(p) for p in _raw_patterns(bodies) if isinstance(p, str))
    if total > limits.max_total_pattern_length:
        raise WriteRejected(
            f'overrides: the regex patterns of one request total at most {limits.max_total_pattern_length}'
            f' characters, got {total}'
        )


def check_override_patterns(override: dict[str, Any], limits: Limits, where: str) -> None:
    """Return if every pattern of ``override`` (validated) is usable; raises :class:`WriteRejected` (422) naming it.

    A pattern is refused past ``limits.max_pattern_length``, and when the condition engine refuses it.
    """
    # compile_pattern is what every remotevars client runs on these patterns: what it refuses (re or
    # regex refuse it, re overflows or recurses, repeats unroll too far) is refused here, as a 422.
    for j, condition in enumerate(override['conditions']):
        if 'pattern' in condition:
            at = f'{where}.conditions.{j}.pattern'
            pattern = condition['pattern']
            if len(pattern) > limits.max_pattern_length:
                raise WriteRejected(
                    f'{at}: patterns are at most {limits.max_pattern_length} characters, got {len(pattern)}'
                )
            try:
                compile_pattern(pattern, cache=False)
            except PatternError as exc:
                raise WriteRejected(f'{at}: {exc}') from None


def _check_patterns(overrides: list[dict[str, Any]], limits: Limits) -> None:
    for i, override in enumerate(overrides):
        check_override_patterns(override, limits, f'overrides.{i}')


def _check_counts(body: dict[str, Any], raw_labels: dict[Any, Any], limits: Limits) -> None:
    # Before the model validates them, so a body of a million overrides costs a length check.
    if len(raw_labels) > limits.max_labels:
        raise WriteRejected(f'labels: at most {limits.max_labels} labels per variable, got {len(raw_labels)}')
    overrides = body.get('overrides')
    if isinstance(overrides, list) and len(overrides) > limits.max_overrides:
        raise WriteRejected(f'overrides: at most {limits.max_overrides} overrides per variable, got {len(overrides)}')
    aliases = body.get('aliases')
    for i, alias in enumerate(aliases if isinstance(aliases, list) else ()):
        if isinstance(alias, str) and len(alias) > limits.max_name_length:
            raise WriteRejected(f'aliases.{i}: names are at most {limits.max_name_length} characters, got {len(alias)}')


def parse_write(body: Any, limits: Limits = DEFAULT_LIMITS) -> VariableWrite:
    """Return the validated :class:`VariableWrite` of a write body (the Logfire write format).

    Raises :class:`WriteRejected` (422) naming the field: bad name, unknown label in a rollout or
    override, a ref to a missing label, a reserved or malformed label name, negative or too large
    weights, a pattern the condition engine refuses, anything past ``limits``.
    """
    if not isinstance(body, dict):
        raise WriteRejected('body: expected a JSON object')
    name = body.get('name')
    if not isinstance(name, str):
        raise WriteRejected('name: expected a string')
    check_name(name, limits.max_name_length)
    raw_labels = body.get('labels') or {}
    if not isinstance(raw_labels, dict):
        raise WriteRejected('labels: expected an object mapping label names to targets')
    _check_counts(body, raw_labels, limits)
    check_pattern_budget([body], limits)
    labels = {label: _parse_label(label, raw, limits) for label, raw in raw_labels.items()}
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
    try:
        model = VariableConfig.model_validate(candidate)
    except ValidationError as exc:
        raise WriteRejected(validation_message(exc)) from None
    overrides = [o.model_dump(mode='json') for o in model.overrides]
    _check_patterns(overrides, limits)
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


def parse_bulk(body: Any, limits: Limits = DEFAULT_LIMITS) -> tuple[list[VariableWrite], list[str]]:
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
    check_pattern_budget(raw_upserts, limits)
    upserts = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_upserts):
        label = raw.get('name') if isinstance(raw, dict) else None
        try:
            write = parse_write(raw, limits)
        except WriteRejected as exc:
            raise WriteRejected(f'upsert[{i}] (variable {label!r}): {exc}', exc.status) from None
        if write.name in seen:
            raise WriteRejected(f'upsert[{i}] (variable {write.name!r}): name appears more than once')
        seen.add(write.name)
        upserts.append(write)
    for i, name in enumerate(raw_deletes):
        try:
            check_name(name, limits.max_name_length)
        except WriteRejected as exc:
            raise WriteRejected(f'delete[{i}]: {exc}') from None
        if name in seen:
            raise WriteRejected(f'delete[{i}] (variable {name!r}): cannot both upsert and delete a variable')
    if len(set(raw_deletes)) != len(raw_deletes):
        raise WriteRejected('delete: a name appears more than once')
    return upserts, list(raw_deletes)


def parse_new_version(body: Any, limits: Limits = DEFAULT_LIMITS) -> str:
    """Return the ``serialized_value`` of a new-version body; raises :class:`WriteRejected` when malformed."""
    if not isinstance(body, dict):
        raise WriteRejected('body: expected a JSON object {"serialized_value": "<JSON text>"}')
    value = body.get('serialized_value')
    if not isinstance(value, str):
        raise WriteRejected('serialized_value: expected a string of JSON text')
    _check_json_text(value, 'serialized_value', limits)
    return value


def parse_variable_type(body: Any, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Return the validated variable type (the Logfire shape) as a JSON-ready dict; raises :class:`WriteRejected`.

    ``limits`` is unused (the body's decoding applied them); it keeps the signature of the other parsers.
    """
    if not isinstance(body, dict):
        raise WriteRejected('body: expected a JSON object')
    if not isinstance(body.get('name'), str) or not body['name']:
        raise WriteRejected('name: expected a non-empty string')
    try:
        model = VariableTypeConfig.model_validate({'json_schema': {}, **body})
    except ValidationError as exc:
        raise WriteRejected(validation_message(exc)) from None
    return model.model_dump(mode='json')
