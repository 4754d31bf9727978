"""One variable being changed inside a transaction: the rules every write obeys, whatever the operation.

An :class:`Edit` starts from the stored variable (or none), lets an operation change its document and
mint versions, then :meth:`Edit.finish` enforces the rules and records the result:

- the variable must be valid as a whole (labels that rollouts, overrides and refs use exist; weights;
  the regex patterns of the overrides the write brings are usable; no more labels and overrides than
  the :class:`~._limits.Limits` allow), else 422 naming the problem;
- every version minted by the write must match the variable's ``json_schema`` in force after it, else
  422 (:class:`SchemaViolation`) naming the variable, the label and the JSON path;
- labels that point at existing versions are not re-validated, only reported (:class:`SchemaWarning`)
  when the write changed the schema or moved the label onto an invalid value;
- a write that changes nothing records nothing (no revision, no event, no history entry);
- otherwise the variable is saved at the transaction's revision, one history entry records the actor,
  the action and the read shapes before and after, and the change is announced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from pydantic import ValidationError

from remotevars.config import VariableConfig
from remotevars.server._json import StrictJsonError, loads_strict
from remotevars.server._json_schema import InvalidSchema, check_schema, value_violations, violations
from remotevars.server._limits import Limits
from remotevars.server._shape import load_shape
from remotevars.server._storage import Change, NewHistoryEntry, Transaction, VariableRecord
from remotevars.server._wire import DEFAULT_LIMITS, WriteRejected, check_override_patterns, validation_message

__all__ = ['Edit', 'SchemaViolation', 'SchemaWarning']

#: Read-shape fields that say when, not what: a write that changes only these changed nothing.
_TIMESTAMPS = ('created_at', 'updated_at')


@dataclass(frozen=True, slots=True)
class SchemaWarning:
    """A label left pointing at a value its variable's ``json_schema`` does not accept (reported, not refused)."""

    variable: str
    label: str
    version: int
    path: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """Return the warning as sent in responses and kept in the history."""
        return {
            'variable': self.variable,
            'label': self.label,
            'version': self.version,
            'path': self.path,
            'message': self.message,
        }


class SchemaViolation(WriteRejected):
    """A write refused because a new version breaks its variable's ``json_schema`` (422); ``errors`` says where."""

    def __init__(self, errors: list[dict[str, Any]], *, prefix: str = '') -> None:
        parts = []
        for error in errors:
            where = f'label {error["label"]!r}' if error['label'] is not None else 'new version'
            parts.append(
                f'Variable {error["variable"]!r}, {where}: value does not match the json_schema'
                f' at {error["path"]}: {error["message"]}'
            )
        super().__init__(prefix + '; '.join(parts), 422)
        self.errors = errors


class Edit:
    """One variable changed by one write: start from ``record`` (None: it does not exist), change ``doc``."""

    def __init__(
        self, tx: Transaction, name: str, record: VariableRecord | None, *, now: str, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        self.tx = tx
        self.name = name
        self.record = record
        self.now = now
        self.limits = limits
        self.before = None if record is None else load_shape(tx, record)
        #: The document after the write (None: the variable is deleted); operations change it in place.
        self.doc: dict[str, Any] | None = None if record is None else _copy(record.doc)
        self._minted: dict[int, Any] = {}  # version number -> its value, decoded

    @property
    def exists(self) -> bool:
        """Whether the variable exists before the write."""
        return self.record is not None

    def require_doc(self) -> dict[str, Any]:
        """Return the document being edited; raises :class:`WriteRejected` (404) when the variable does not exist."""
        if self.doc is None:
            raise WriteRejected(f'Variable {self.name!r} not found', 404)
        return self.doc

    def mint(self, serialized_value: str) -> int:
        """Create the next version holding ``serialized_value``; return its number.

        Raises :class:`WriteRejected` (422) unless the value is strict JSON text nested within the limits
        (whatever front end built it: the console writes what a user typed). :meth:`finish` checks it
        against the schema, naming the labels that point at it.
        """
        try:
            value = loads_strict(serialized_value, max_depth=self.limits.max_json_depth)
        except StrictJsonError as exc:
            raise WriteRejected(f'Variable {self.name!r}: new version: not valid JSON text ({exc})') from None
        number = self.tx.add_version(self.name, serialized_value, self.now)
        self._minted[number] = value  # kept decoded: the schema check does not decode a large value again
        return number

    def finish(self, action: str, actor: str) -> list[SchemaWarning]:
        """Check the result, save it and record it (see the module docstring); return the schema warnings.

        Raises :class:`WriteRejected` (422) for an invalid variable and :class:`SchemaViolation` for a
        new version that breaks the schema; the transaction then rolls back.
        """
        if self.doc is None:
            if self.before is None:
                return []
            self.tx.delete_variable(self.name)
            self._record(action, actor, None, [])
            self.tx.changed(Change('deleted', self.name))
            return []
        self._check_counts(self.doc)
        record = VariableRecord(self.name, self.doc, self.tx.revision)
        after = load_shape(self.tx, record)
        _check_variable(after, self.limits, [] if self.before is None else self.before['overrides'])
        schema = self.doc['json_schema']
        schema_changed = self.before is None or self.before['json_schema'] != schema
        if schema is not None and schema_changed:
            try:
                check_schema(schema)
            except InvalidSchema as exc:
                raise WriteRejected(f'Variable {self.name!r}: json_schema: not a usable JSON Schema ({exc})') from None
        self._check_minted(after)
        if self.before is not None and _without_timestamps(after) == _without_timestamps(self.before):
            return []
        warnings = self._warnings(after, schema_changed)
        self.doc['updated_at'] = after['updated_at'] = self.now
        if self.before is None:
            self.doc['created_at'] = after['created_at'] = self.now
        self.tx.save_variable(record)
        self._record(action, actor, after, warnings)
        self.tx.changed(Change('updated' if self.before is not None else 'created', self.name))
        return warnings

    def _check_counts(self, doc: dict[str, Any]) -> None:
        # Write bodies are held to these limits when parsed; edits (a label set, an override added)
        # and rollbacks are held to them here.
        labels, overrides = len(doc['labels']), len(doc['overrides'])
        if labels > self.limits.max_labels:
            raise WriteRejected(
                f'Variable {self.name!r}: labels: at most {self.limits.max_labels} labels per variable, got {labels}'
            )
        if overrides > self.limits.max_overrides:
            raise WriteRejected(
                f'Variable {self.name!r}: overrides: at most {self.limits.max_overrides} overrides per variable,'
                f' got {overrides}'
            )

    def _record(self, action: str, actor: str, after: dict[str, Any] | None, warnings: list[SchemaWarning]) -> None:
        self.tx.add_history(
            NewHistoryEntry(
                variable=self.name,
                at=self.now,
                actor=actor,
                action=action,
                before=self.before,
                after=after,
                warnings=[w.to_json() for w in warnings],
            )
        )

    def _check_minted(self, after: dict[str, Any]) -> None:
        schema = after['json_schema']
        if schema is None or not self._minted:
            return
        latest = after['latest_version']['version'] if after['latest_version'] else None
        errors: list[dict[str, Any]] = []
        for number, value in self._minted.items():
            try:
                found = value_violations(schema, value)
            except InvalidSchema as exc:
                raise WriteRejected(
                    f'Variable {self.name!r}: its json_schema is not a usable JSON Schema ({exc}); '
                    'replace the schema before creating versions'
                ) from None
            labels: list[str | None] = [
                label
                for label, target in after['labels'].items()
                if target.get('version') == number and (target.get('ref') is None or number == latest)
            ]
            for label in labels or [None]:
                errors.extend(
                    {'variable': self.name, 'label': label, 'version': number, 'path': v.path, 'message': v.message}
                    for v in found
                )
        if errors:
            raise SchemaViolation(errors)

    def _warnings(self, after: dict[str, Any], schema_changed: bool) -> list[SchemaWarning]:
        schema = after['json_schema']
        if schema is None:
            return []
        warnings: list[SchemaWarning] = []
        for label, target in after['labels'].items():
            version = _label_version(after, label)
            if version is None or version in self._minted:
                continue
            if not schema_changed and self.before is not None and _label_version(self.before, label) == version:
                continue
            value = target.get('serialized_value')
            if value is None:  # a ref to latest: the latest version's value
                value = after['latest_version']['serialized_value']
            try:
                found = violations(schema, value)
            except InvalidSchema:
                return []  # an unusable stored schema was reported when it was written (or predates the check)
            warnings.extend(SchemaWarning(self.name, label, version, v.path, v.message) for v in found)
        return warnings


def _copy(doc: dict[str, Any]) -> dict[str, Any]:
    # A deep copy of decoded JSON: through msgspec it takes a fifth of copy.deepcopy's time (a 2 MiB
    # document: ~8 ms against ~40 ms of the write's work). A NaN or Infinity an older release stored
    # becomes null, which strict JSON can hold.
    copied: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(doc))
    return copied


def _label_version(shape: dict[str, Any], label: str) -> int | None:
    """Return the version a label of a read shape points at directly or through ``latest`` (None: neither)."""
    target = shape['labels'].get(label)
    if target is None or target.get('ref') not in (None, 'latest'):
        return None
    version: int | None = target.get('version')
    return version


def _without_timestamps(shape: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in shape.items() if k not in _TIMESTAMPS}


def _check_variable(shape: dict[str, Any], limits: Limits, kept: list[dict[str, Any]]) -> None:
    """Return if the variable is valid as a whole; raises :class:`WriteRejected` (422) naming the problem.

    The patterns of overrides in ``kept`` (the overrides before the write) are not compiled again: they
    were checked when they were written, and compiling costs up to ~1 ms per character.
    """
    try:
        VariableConfig.model_validate(shape)
    except ValidationError as exc:
        raise WriteRejected(f'Variable {shape["name"]!r}: {validation_message(exc)}') from None
    for i, override in enumerate(shape['overrides']):
        if override not in kept:
            try:
                check_override_patterns(override, limits, f'overrides.{i}')
            except WriteRejected as exc:
                raise WriteRejected(f'Variable {shape["name"]!r}: {exc}') from None
