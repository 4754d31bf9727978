"""Checking values against a variable's ``json_schema`` (jsonschema-rs; docs/server.md says why).

A validator is built once per distinct schema and cached. Schemas never fetch anything: a ``$ref`` to
a remote document is an error, not a request (the schema comes from whoever holds a write key).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonschema_rs
import msgspec

__all__ = ['InvalidSchema', 'Violation', 'check_schema', 'json_path', 'value_violations', 'violations']

_IDENTIFIER = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
_MAX_VIOLATIONS = 10


class InvalidSchema(ValueError):
    """A ``json_schema`` that is not a usable JSON Schema; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One way a value breaks a schema: where (a JSON path such as ``$.items[0].name``) and what."""

    path: str
    message: str


def json_path(location: Sequence[str | int]) -> str:
    """Return the JSON path of a location in a value (``$`` for the value itself)."""
    parts = ['$']
    for step in location:
        if isinstance(step, int):
            parts.append(f'[{step}]')
        elif _IDENTIFIER.fullmatch(step):
            parts.append(f'.{step}')
        else:
            parts.append(f'[{json.dumps(step)}]')
    return ''.join(parts)


@lru_cache(maxsize=256)
def _validator(schema_key: bytes) -> jsonschema_rs.Validator:
    try:
        return jsonschema_rs.validator_for(msgspec.json.decode(schema_key), offline=True)
    except (jsonschema_rs.ValidationError, ValueError) as exc:
        # The library's message spans several lines (with the failing part of the schema): keep the first.
        raise InvalidSchema(str(exc).strip().splitlines()[0]) from None


def _key(schema: dict[str, Any]) -> bytes:
    # msgspec, not json: a 2 MiB schema is keyed in ~2 ms instead of ~15 ms holding the GIL (every
    # write that mints a version keys its schema). Stored schemas are strict JSON (no NaN to lose).
    return msgspec.json.encode(schema, order='sorted')


def check_schema(schema: dict[str, Any]) -> None:
    """Return if ``schema`` is a usable JSON Schema; raises :class:`InvalidSchema` otherwise."""
    _validator(_key(schema))


def violations(schema: dict[str, Any], serialized_value: str) -> list[Violation]:
    """Return how the JSON text ``serialized_value`` breaks ``schema`` (at most 10; [] when it is valid).

    Raises :class:`InvalidSchema` when the schema itself is unusable.
    """
    return value_violations(schema, json.loads(serialized_value))


def value_violations(schema: dict[str, Any], value: Any) -> list[Violation]:
    """Return how the decoded JSON ``value`` breaks ``schema``, as :func:`violations` does."""
    validator = _validator(_key(schema))
    found = []
    for error in validator.iter_errors(value):
        found.append(Violation(json_path(error.instance_path), error.message))
        if len(found) == _MAX_VIOLATIONS:
            break
    return found
