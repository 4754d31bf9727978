"""The server's write operations, storage-neutral: what the HTTP API (and any other front end) may change.

Each operation is one transaction of the :class:`~._storage.Store` and, when it changes something, one
revision, one update event and one history entry per variable it changed, naming the ``actor`` (the
name of the API key). The rules shared by every operation (validation, schema checks, history) are in
:class:`~._edit.Edit`; the ones particular to an operation are here. None of this knows SQL or HTTP:
operations raise :class:`~._wire.WriteRejected` (with the HTTP status it maps to) or
:class:`~._storage.StorageUnavailable`.

Versions are immutable: operations add versions and move labels, never change or remove a version
(deleting a variable removes its versions; its history stays).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from remotevars.server._edit import Edit, SchemaViolation, SchemaWarning
from remotevars.server._json_schema import InvalidSchema, check_schema
from remotevars.server._limits import Limits
from remotevars.server._preconditions import Precondition
from remotevars.server._snapshot import Snapshot
from remotevars.server._storage import Commit, HistoryEntry, Store, Transaction
from remotevars.server._wire import DEFAULT_LIMITS, LabelTarget, VariableWrite, WriteRejected, check_label

__all__ = ['MAX_HISTORY', 'Operations', 'Outcome', 'Target', 'label_users']

T = TypeVar('T')

#: The most history entries one read returns (``GET .../history/?limit=``, the console's ``?history=``).
MAX_HISTORY = 1000

#: The fields of a write body stored as they are (labels are converted, type_name may be kept).
_WRITE_FIELDS = ('description', 'rollout', 'overrides', 'json_schema', 'type_name', 'aliases', 'example')
#: What a rollback restores; the other fields stay as they are (unless it re-creates a deleted variable).
_ROUTING_FIELDS = ('rollout', 'overrides')
_RESTORED_WHEN_RECREATED = ('description', 'json_schema', 'type_name', 'aliases', 'example', 'template_inputs_schema')


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class Target:
    """Where a label points: a version number, or a ref (``latest``, ``code_default`` or another label)."""

    version: int | None = None
    ref: str | None = None

    def __post_init__(self) -> None:
        if (self.version is None) == (self.ref is None):
            raise ValueError('a label target is either a version or a ref')
        if self.version is not None and self.version < 1:
            raise ValueError('versions are numbered from 1')


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an operation did: its :class:`~._storage.Commit` (no changes: nothing to do), warnings, new version."""

    commit: Commit
    warnings: tuple[SchemaWarning, ...] = ()
    version: int | None = None

    @property
    def changed(self) -> bool:
        """Whether the operation changed anything (a commit with changes; otherwise nothing was written)."""
        return bool(self.commit.changes)


class Operations:
    """The operations over one :class:`~._storage.Store`; ``clock`` returns ISO timestamps.

    The front ends (the HTTP API, the console) reach the store only through them: the writes, and the
    reads they show (the committed snapshot, versions, history, variable types). ``limits`` bounds what
    a variable may hold after any operation (label names, labels and overrides per variable), whichever
    front end calls it.
    """

    def __init__(self, store: Store, *, clock: Callable[[], str] = _now, limits: Limits = DEFAULT_LIMITS) -> None:
        self.store = store
        self.limits = limits
        self._clock = clock

    def _new_edit(self, tx: Transaction, name: str, now: str) -> Edit:
        return Edit(tx, name, tx.variable(name), now=now, limits=self.limits)

    def _start(self, tx: Transaction, name: str, now: str, precondition: Precondition | None) -> Edit:
        edit = self._new_edit(tx, name, now)
        if precondition is not None:
            precondition.check(edit.name, tx.db_id, None if edit.record is None else edit.record.revision)
        return edit

    # -- reads (no transaction: the snapshot, or one consistent read of the store) ----------------------

    @property
    def snapshot(self) -> Snapshot:
        """The last committed state (reading it does not touch the database)."""
        return self.store.snapshot

    def versions(self, name: str) -> list[dict[str, Any]] | None:
        """Return every version of ``name`` (oldest first), or None when the variable does not exist."""
        return self.store.versions(name)

    def history(self, name: str, limit: int = MAX_HISTORY) -> list[HistoryEntry]:
        """Return the newest ``limit`` history entries of ``name`` (at most :data:`MAX_HISTORY`), newest first."""
        return self.store.history(name, min(limit, MAX_HISTORY))

    def history_entry(self, name: str, entry_id: int) -> HistoryEntry | None:
        """Return history entry ``entry_id`` when it is one of ``name``'s, else None."""
        entry = self.store.history_entry(entry_id)
        return entry if entry is not None and entry.variable == name else None

    def variable_types(self) -> list[dict[str, Any]]:
        """Return every variable type, by name."""
        return self.store.variable_types()

    # -- plumbing ------------------------------------------------------------------------------------

    def _run(self, apply: Callable[[Transaction, str], tuple[T, list[SchemaWarning]]]) -> tuple[T, Outcome]:
        now = self._clock()
        with self.store.transaction() as tx:
            result, warnings = apply(tx, now)
        return result, Outcome(tx.committed, tuple(warnings))

    def _edit_one(
        self,
        name: str,
        action: str,
        actor: str,
        precondition: Precondition | None,
        change: Callable[[Edit], T],
    ) -> tuple[T, Outcome]:
        """Run ``change`` on the existing variable ``name`` in one transaction, then finish the edit."""

        def apply(tx: Transaction, now: str) -> tuple[T, list[SchemaWarning]]:
            edit = self._start(tx, name, now, precondition)
            edit.require_doc()
            result = change(edit)
            return result, edit.finish(action, actor)

        return self._run(apply)

    # -- whole variables (the Logfire API) -----------------------------------------------------------

    def create(self, write: VariableWrite, *, actor: str) -> Outcome:
        """Create a variable from a write body. Raises :class:`WriteRejected`: 409 if it exists, 422 if invalid."""

        def apply(tx: Transaction, now: str) -> tuple[None, list[SchemaWarning]]:
            edit = self._new_edit(tx, write.name, now)
            if edit.exists:
                raise WriteRejected(f'Variable {write.name!r} already exists', 409)
            _apply_write(edit, write)
            return None, edit.finish('create', actor)

        return self._run(apply)[1]

    def replace(self, write: VariableWrite, *, actor: str, precondition: Precondition | None = None) -> Outcome:
        """Replace a variable by a write body. Raises :class:`WriteRejected`: 404 if missing, 412, 422."""

        def apply(tx: Transaction, now: str) -> tuple[None, list[SchemaWarning]]:
            edit = self._start(tx, write.name, now, precondition)
            edit.require_doc()
            _apply_write(edit, write)
            return None, edit.finish('replace', actor)

        return self._run(apply)[1]

    def delete(self, name: str, *, actor: str, precondition: Precondition | None = None) -> Outcome:
        """Delete a variable and its versions (its history stays). Raises :class:`WriteRejected`: 404, 412."""

        def apply(tx: Transaction, now: str) -> tuple[None, list[SchemaWarning]]:
            edit = self._start(tx, name, now, precondition)
            edit.require_doc()
            edit.doc = None
            return None, edit.finish('delete', actor)

        return self._run(apply)[1]

    def bulk(self, upserts: Sequence[VariableWrite], deletes: Sequence[str], *, actor: str) -> Outcome:
        """Apply upserts then deletes in one transaction, all or nothing.

        Raises :class:`WriteRejected` naming the entry: 422 for an invalid result, 404 for a missing delete.
        """

        def apply(tx: Transaction, now: str) -> tuple[None, list[SchemaWarning]]:
            warnings: list[SchemaWarning] = []
            for i, write in enumerate(upserts):
                edit = self._new_edit(tx, write.name, now)
                action = 'bulk-replace' if edit.exists else 'bulk-create'
                try:
                    _apply_write(edit, write)
                    warnings += edit.finish(action, actor)
                except SchemaViolation as exc:
                    raise SchemaViolation(exc.errors, prefix=f'upsert[{i}] (variable {write.name!r}): ') from None
                except WriteRejected as exc:
                    raise WriteRejected(f'upsert[{i}] (variable {write.name!r}): {exc}', exc.status) from None
            for name in deletes:
                edit = self._new_edit(tx, name, now)
                if not edit.exists:
                    raise WriteRejected(f'delete: Variable {name!r} not found', 404)
                edit.doc = None
                edit.finish('bulk-delete', actor)
            return None, warnings

        return self._run(apply)[1]

    def upsert_variable_type(self, variable_type: dict[str, Any], *, actor: str) -> Outcome:
        """Create or replace a variable type (no variable changes: no event). Raises :class:`WriteRejected` (422)."""
        try:
            check_schema(variable_type['json_schema'])
        except InvalidSchema as exc:
            raise WriteRejected(f'json_schema: not a usable JSON Schema ({exc})') from None

        def apply(tx: Transaction, now: str) -> tuple[None, list[SchemaWarning]]:
            tx.save_variable_type(variable_type)
            return None, []

        return self._run(apply)[1]

    # -- edits (extension endpoints) -----------------------------------------------------------------

    def create_version(
        self,
        name: str,
        serialized_value: str,
        labels: Sequence[str] = (),
        *,
        actor: str,
        precondition: Precondition | None = None,
    ) -> Outcome:
        """Create the next version of ``name`` and point ``labels`` at it; ``Outcome.version`` is its number.

        Raises :class:`WriteRejected`: 404, 412, :class:`SchemaViolation` (422).
        """

        for label in labels:
            check_label(label, self.limits)

        def change(edit: Edit) -> int:
            doc = edit.require_doc()
            number = edit.mint(serialized_value)
            for label in labels:
                doc['labels'][label] = {'version': number}
            return number

        number, outcome = self._edit_one(name, 'create-version', actor, precondition, change)
        return Outcome(outcome.commit, outcome.warnings, version=number)

    def set_label(
        self, name: str, label: str, target: Target, *, actor: str, precondition: Precondition | None = None
    ) -> Outcome:
        """Point ``label`` (new or existing) at a version or a ref. Raises :class:`WriteRejected`: 404, 412, 422."""
        check_label(label, self.limits)

        def change(edit: Edit) -> None:
            doc = edit.require_doc()
            if target.version is not None:
                if edit.tx.version_value(name, target.version) is None:
                    latest = edit.tx.latest_version(name)
                    have = f'versions 1 to {latest[0]}' if latest else 'no versions'
                    raise WriteRejected(f'Variable {name!r} has no version {target.version} (it has {have})')
                doc['labels'][label] = {'version': target.version}
            else:
                if target.ref == label:
                    raise WriteRejected(f'Variable {name!r}: label {label!r} cannot point at itself')
                doc['labels'][label] = {'ref': target.ref}

        return self._edit_one(name, 'set-label', actor, precondition, change)[1]

    def delete_label(self, name: str, label: str, *, actor: str, precondition: Precondition | None = None) -> Outcome:
        """Remove ``label``. Raises :class:`WriteRejected`: 404 (variable or label), 412, 422 while it is in use."""

        def change(edit: Edit) -> None:
            doc = edit.require_doc()
            if label not in doc['labels']:
                raise WriteRejected(f'Variable {name!r} has no label {label!r}', 404)
            users = label_users(doc, label)
            if users:
                raise WriteRejected(
                    f'Variable {name!r}: label {label!r} is used by {", ".join(users)}; change '
                    f'{"that" if len(users) == 1 else "those"} first'
                )
            del doc['labels'][label]

        return self._edit_one(name, 'delete-label', actor, precondition, change)[1]

    def set_rollout(
        self, name: str, weights: dict[str, float], *, actor: str, precondition: Precondition | None = None
    ) -> Outcome:
        """Replace the base rollout by ``weights``. Raises :class:`WriteRejected`: 404, 412, 422."""

        def change(edit: Edit) -> None:
            edit.require_doc()['rollout'] = {'labels': dict(weights)}

        return self._edit_one(name, 'set-rollout', actor, precondition, change)[1]

    def add_override(
        self, name: str, override: dict[str, Any], *, actor: str, precondition: Precondition | None = None
    ) -> Outcome:
        """Append ``override`` (write format, already parsed). Raises :class:`WriteRejected`: 404, 412, 422."""

        def change(edit: Edit) -> None:
            edit.require_doc()['overrides'].append(override)

        return self._edit_one(name, 'add-override', actor, precondition, change)[1]

    def remove_override(
        self, name: str, index: int, *, actor: str, precondition: Precondition | None = None
    ) -> Outcome:
        """Remove the override at ``index`` (0-based). Raises :class:`WriteRejected`: 404, 412."""

        def change(edit: Edit) -> None:
            overrides = edit.require_doc()['overrides']
            if not 0 <= index < len(overrides):
                raise WriteRejected(f'Variable {name!r} has no override [{index}] (it has {len(overrides)})', 404)
            del overrides[index]

        return self._edit_one(name, 'remove-override', actor, precondition, change)[1]

    def clear_overrides(self, name: str, *, actor: str, precondition: Precondition | None = None) -> Outcome:
        """Remove every override. Raises :class:`WriteRejected`: 404, 412."""

        def change(edit: Edit) -> None:
            edit.require_doc()['overrides'] = []

        return self._edit_one(name, 'clear-overrides', actor, precondition, change)[1]

    def rollback(self, name: str, entry_id: int, *, actor: str, precondition: Precondition | None = None) -> Outcome:
        """Restore labels, rollout and overrides as they were after history entry ``entry_id``, as one write.

        Labels get their versions back when those still hold the same values; otherwise (the variable was
        deleted and created again since) the value becomes a new version. A deleted variable is created
        again, with the other fields of that entry too. Raises :class:`WriteRejected`: 404 (no such entry
        for ``name``), 412, 422 (an entry that deleted the variable; a value the current schema refuses).
        """

        def apply(tx: Transaction, now: str) -> tuple[None, list[SchemaWarning]]:
            entry = tx.history_entry(entry_id)
            if entry is None or entry.variable != name:
                raise WriteRejected(f'Variable {name!r} has no history entry {entry_id}', 404)
            if entry.after is None:
                raise WriteRejected(
                    f'History entry {entry_id} deleted variable {name!r}: roll back to an entry before it'
                )
            edit = self._start(tx, name, now, precondition)
            target = entry.after
            if edit.doc is None:
                edit.doc = {f: target[f] for f in _RESTORED_WHEN_RECREATED} | {'labels': {}}
            doc = edit.doc
            for f in _ROUTING_FIELDS:
                doc[f] = target[f]
            doc['labels'] = {}
            for label, shape in target['labels'].items():
                if 'serialized_value' in shape:
                    value = shape['serialized_value']
                    same = tx.version_value(name, shape['version']) == value
                    doc['labels'][label] = {'version': shape['version'] if same else edit.mint(value)}
                else:
                    doc['labels'][label] = {'ref': shape['ref']}
            return None, edit.finish('rollback', actor)

        return self._run(apply)[1]


def label_users(doc: dict[str, Any], label: str) -> list[str]:
    """Return what uses ``label`` in a document or read shape: the rollout, overrides, labels referring to it."""
    users = []
    if label in doc['rollout']['labels']:
        users.append('the rollout')
    users += [f'overrides[{i}]' for i, o in enumerate(doc['overrides']) if label in o['rollout']['labels']]
    users += [f'label {other!r}' for other, t in doc['labels'].items() if t.get('ref') == label]
    return users


def _apply_write(edit: Edit, write: VariableWrite) -> None:
    """Set ``edit``'s document from a write body (PUT replaces every field of the write format).

    ``type_name`` is not part of the Logfire write format: a body without it keeps the stored one.
    A label's version is reused when it holds exactly the written value (or, without a version, when
    the latest version does); otherwise the value becomes a new version, shared by the labels of
    this write that ask for the same (version, value).
    """
    previous = edit.doc or {}
    doc: dict[str, Any] = {f: getattr(write, f) for f in _WRITE_FIELDS}
    if not write.has_type_name:
        doc['type_name'] = previous.get('type_name')
    doc['template_inputs_schema'] = write.template_inputs_schema
    doc['created_at'] = previous.get('created_at')
    doc['updated_at'] = previous.get('updated_at')
    latest = edit.tx.latest_version(edit.name)
    minted: dict[tuple[int | None, str], int] = {}
    labels: dict[str, dict[str, Any]] = {}
    for label, target in write.labels.items():
        labels[label] = _stored_label(edit, target, latest, minted)
    doc['labels'] = labels
    edit.doc = doc


def _stored_label(
    edit: Edit,
    target: LabelTarget,
    latest: tuple[int, str] | None,
    minted: dict[tuple[int | None, str], int],
) -> dict[str, Any]:
    if target.kind == 'label':
        return {'ref': target.target_label}
    if target.kind != 'version':
        return {'ref': target.kind}
    value = target.serialized_value
    assert value is not None
    if target.version is not None and edit.tx.version_value(edit.name, target.version) == value:
        return {'version': target.version}
    if target.version is None and latest is not None and latest[1] == value:
        # No version given: reuse the latest one when it already holds this value (idempotent writes).
        return {'version': latest[0]}
    key = (target.version, value)
    if key not in minted:
        minted[key] = edit.mint(value)
    return {'version': minted[key]}
