"""Bodies of the edit endpoints (docs/server.md, "Atomic edits"): decoded JSON in, operation arguments out.

Each parser takes the strictly decoded body and the server's :class:`~._limits.Limits` (the shape of
:func:`~._wire.parse_body`'s parsers) and returns what :class:`~._ops.Operations` takes, or raises
:class:`~._wire.WriteRejected` (422) naming the field. What they cannot check alone (that a label
exists, that weights fit the variable's labels, label names and counts) the operation checks against
the stored variable.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError

from remotevars.config import Rollout, RolloutOverride
from remotevars.server._limits import Limits
from remotevars.server._ops import Target
from remotevars.server._wire import (
    WriteRejected,
    check_label,
    check_override_patterns,
    check_pattern_budget,
    is_positive_id,
    parse_new_version,
    validation_message,
)

__all__ = [
    'parse_label_target',
    'parse_override',
    'parse_rollback',
    'parse_rollout',
    'parse_version_edit',
]


def _object(body: Any, expected: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise WriteRejected(f'body: expected a JSON object {expected}')
    return body


def parse_version_edit(body: Any, limits: Limits) -> tuple[str, list[str]]:
    """Return ``(serialized_value, labels)`` of ``{"serialized_value": "<JSON text>", "labels": [...]}``."""
    value = parse_new_version(body, limits)
    raw = body.get('labels', [])
    if not isinstance(raw, list):
        raise WriteRejected('labels: expected an array of label names')
    if len(raw) > limits.max_labels:
        raise WriteRejected(f'labels: at most {limits.max_labels} labels per variable, got {len(raw)}')
    labels = [check_label(label, limits, f'labels[{i}]') for i, label in enumerate(raw)]
    if len(set(labels)) != len(labels):
        raise WriteRejected('labels: a label appears more than once')
    return value, labels


def parse_label_target(body: Any, limits: Limits) -> Target:
    """Return the target of ``{"version": n}`` or ``{"ref": "latest" | "code_default" | "<label>"}``."""
    data = _object(body, '{"version": n} or {"ref": "latest" | "code_default" | "<label>"}')
    unknown = sorted(set(data) - {'version', 'ref'})
    if unknown or len(data) != 1:
        raise WriteRejected('body: expected exactly one of "version" and "ref"')
    if 'version' in data:
        if not is_positive_id(data['version']):
            raise WriteRejected('version: expected a positive integer')
        return Target(version=data['version'])
    ref = data['ref']
    if not isinstance(ref, str) or not ref:
        raise WriteRejected('ref: expected "latest", "code_default" or the name of another label')
    return Target(ref=ref)


def parse_rollout(body: Any, limits: Limits) -> dict[str, float]:
    """Return the weights of ``{"labels": {"<label>": weight, ...}}`` (finite, non-negative, sum at most 1)."""
    data = _object(body, '{"labels": {"<label>": weight, ...}}')
    if set(data) - {'labels'}:
        raise WriteRejected('body: expected only "labels"')
    labels = data.get('labels')
    if not isinstance(labels, dict):
        raise WriteRejected('labels: expected an object mapping labels to weights')
    for label, weight in labels.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
            raise WriteRejected(f'labels.{label}: weights must be finite numbers')
    try:
        return Rollout.model_validate(data).labels
    except ValidationError as exc:
        raise WriteRejected(validation_message(exc, 'rollout')) from None


def parse_override(body: Any, limits: Limits) -> dict[str, Any]:
    """Return an override (``{"conditions": [...], "rollout": {"labels": {...}}}``) in its stored form.

    Its regex patterns are held to the same limits as those of a write body.
    """
    data = _object(body, '{"conditions": [...], "rollout": {"labels": {...}}}')
    parse_rollout(data.get('rollout'), limits)
    check_pattern_budget([{'overrides': [data]}], limits)
    try:
        override = RolloutOverride.model_validate(data)
    except ValidationError as exc:
        raise WriteRejected(validation_message(exc)) from None
    dumped: dict[str, Any] = override.model_dump(mode='json')
    check_override_patterns(dumped, limits, 'override')
    return dumped


def parse_rollback(body: Any, limits: Limits) -> int:
    """Return the history entry id of ``{"to": id}``."""
    data = _object(body, '{"to": <history entry id>}')
    entry = data.get('to')
    if set(data) - {'to'} or not is_positive_id(entry):
        raise WriteRejected('to: expected the id of a history entry (a positive integer)')
    assert isinstance(entry, int)
    return entry
