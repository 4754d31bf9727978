"""The read shape of a stored variable: what ``GET /v1/variables/`` serves for it, with label values filled in.

Storage-neutral: built from a :class:`~._storage.VariableRecord` and the values of the versions its
labels and ``latest_version`` need, read through any :class:`~._storage.VariableReader`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from remotevars.server._storage import VariableReader, VariableRecord

__all__ = ['encode', 'load_shape', 'read_shape']


def encode(value: Any) -> bytes:
    """Return compact, strict JSON bytes (the encoding of every body and stream message).

    Raises ValueError for NaN or Infinity. ASCII output: the update stream sends these bytes as SSE
    data, where a raw U+2028 or U+0085 would be a line break for clients that split lines like
    ``str.splitlines`` (httpx does).
    """
    return json.dumps(value, separators=(',', ':'), allow_nan=False).encode()


def load_shape(reader: VariableReader, record: VariableRecord) -> dict[str, Any]:
    """Return the read shape of ``record``, reading the values it needs through ``reader``.

    Reads only the versions its labels and ``latest_version`` need, so long histories cost nothing.
    """
    name = record.name
    values: dict[int, str] = {}
    latest = reader.latest_version(name)
    if latest is not None:
        values[latest[0]] = latest[1]
    for stored in record.doc['labels'].values():
        version = stored.get('version')
        if version is not None and version not in values:
            value = reader.version_value(name, version)
            if value is None:  # pragma: no cover - the operations never store a label on a missing version
                raise LookupError(f'variable {name!r}: label points at missing version {version}')
            values[version] = value
    return read_shape(record, values, None if latest is None else latest[0])


def read_shape(record: VariableRecord, values: dict[int, str], latest: int | None) -> dict[str, Any]:
    """Return the read shape of ``record``; ``values`` maps the version numbers it needs to their values."""
    doc = record.doc
    labels: dict[str, dict[str, Any]] = {}
    for label, stored in doc['labels'].items():
        if 'version' in stored:
            labels[label] = {'version': stored['version'], 'serialized_value': values[stored['version']]}
        elif stored['ref'] == 'latest':
            labels[label] = {'version': latest, 'ref': 'latest'}
        else:
            labels[label] = {'ref': stored['ref']}
    return {
        'name': record.name,
        'description': doc['description'],
        'labels': labels,
        'rollout': doc['rollout'],
        'overrides': doc['overrides'],
        'latest_version': None if latest is None else {'version': latest, 'serialized_value': values[latest]},
        'json_schema': doc['json_schema'],
        'type_name': doc['type_name'],
        'aliases': doc['aliases'],
        'example': doc['example'],
        'template_inputs_schema': doc['template_inputs_schema'],
        'created_at': doc.get('created_at'),
        'updated_at': doc.get('updated_at'),
    }
