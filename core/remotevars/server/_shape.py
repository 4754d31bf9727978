"""The read shape of a stored variable: what ``GET /v1/variables/`` serves for it, with label values filled in.

Storage-neutral: built from a :class:`~._storage.VariableRecord` and the values of the versions its
labels and ``latest_version`` need, read through any :class:`~._storage.VariableReader`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from remotevars.server._json import dumps_strict

if TYPE_CHECKING:
    from remotevars.server._storage import VariableReader, VariableRecord

__all__ = ['encode', 'encode_items', 'load_shape', 'read_shape']

#: Characters JSON leaves raw that ``str.splitlines`` breaks lines at (NEL, LINE and PARAGRAPH SEPARATOR), in
#: UTF-8, and their escapes. Each UTF-8 sequence is that character, and in JSON a character is in a string.
_LINE_BREAKS: Final = ((b'\xc2\x85', b'\\u0085'), (b'\xe2\x80\xa8', b'\\u2028'), (b'\xe2\x80\xa9', b'\\u2029'))


def encode(value: Any) -> bytes:
    """Return compact, strict JSON in UTF-8 (the encoding of every body and stream message).

    Raises ValueError (:class:`~._json.StrictJsonError`) for NaN, Infinity or an unpaired surrogate.
    U+0085, U+2028 and U+2029 are escaped: the update stream sends these bytes as SSE data, where they
    would be line breaks for clients that split lines like ``str.splitlines`` (httpx does).
    """
    data = dumps_strict(value)
    for raw, escaped in _LINE_BREAKS:
        if raw in data:
            data = data.replace(raw, escaped)
    return data


def encode_items(values: Iterable[Any]) -> bytes:
    """Return the JSON array of ``values``, each encoded as :func:`encode` does, one at a time.

    For long lists of large values (versions, history entries), built in a worker thread: each encoding
    holds the GIL, and one encoding of the whole list would hold it, so the event loop, throughout.
    """
    return b'[' + b','.join(encode(value) for value in values) + b']'


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
