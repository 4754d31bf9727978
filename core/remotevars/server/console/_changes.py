"""The console's reviewed edits: a submitted form becomes a :class:`Change` (the state after it, and how to apply it).

Pure. Each function reads a form against the variable as last committed and returns the variable's read
shape after the change, so the review page can show the change with the command line's words before
anything is written, and the operation that applies it. Bodies are checked with the parsers of the edit
endpoints (:mod:`remotevars.server._edit_bodies`), so the console refuses what the API refuses, with the
same messages; the operation checks everything again when it runs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from remotevars._diff import override_text
from remotevars._errors import RemoteVarsError
from remotevars._regex import PatternError, compile_pattern
from remotevars.server._edit_bodies import parse_override, parse_rollout
from remotevars.server._json import StrictJsonError, loads_strict
from remotevars.server._limits import Limits
from remotevars.server._ops import Operations, Outcome, Target, label_users
from remotevars.server._preconditions import Precondition
from remotevars.server._storage import HistoryEntry
from remotevars.server._wire import DEFAULT_LIMITS, WriteRejected, check_label
from remotevars.server.console._base import Form, VariableState

__all__ = [
    'CONDITION_KINDS',
    'Change',
    'FormErrors',
    'label_change',
    'override_added',
    'override_removed',
    'rollback_change',
    'rollout_change',
    'weights_of',
]

#: Every condition kind, and the operand it takes (None: none).
CONDITION_KINDS: dict[str, str | None] = {
    'value-equals': 'value',
    'value-does-not-equal': 'value',
    'value-is-in': 'values',
    'value-is-not-in': 'values',
    'value-matches-regex': 'pattern',
    'value-does-not-match-regex': 'pattern',
    'key-is-present': None,
    'key-is-not-present': None,
}

#: Applies a change: (operations, actor, precondition) -> outcome.
Apply = Callable[[Operations, str, Precondition], Outcome]


class FormErrors(RemoteVarsError, ValueError):
    """A form that does not make a change: ``errors`` maps field names ('' for the form as a whole) to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__('; '.join(errors.values()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Change:
    """A reviewed edit: its title, the variable's read shape after it, how to apply it and what the page says then."""

    title: str
    after: dict[str, Any]
    apply: Apply
    done: str


def _after(state: VariableState) -> dict[str, Any]:
    return copy.deepcopy(state.shape)


# -- labels --------------------------------------------------------------------------------------


def label_change(
    state: VariableState, form: Form, versions: Mapping[int, str], limits: Limits = DEFAULT_LIMITS
) -> Change:
    """Return the change of the label form: ``label`` and ``target`` (``version:N``, ``ref:X`` or ``remove``).

    ``versions`` maps the variable's version numbers to their values; ``limits`` are the server's.
    Raises :class:`FormErrors`.
    """
    try:
        label = check_label(form.get('label', '').strip(), limits, 'label')
    except WriteRejected as exc:
        raise FormErrors({'label': str(exc).removeprefix('label: ')}) from None
    target = form.get('target', '')
    after = _after(state)
    name = state.name
    if target == 'remove':
        if label not in after['labels']:
            raise FormErrors({'label': f'there is no label {label!r} to remove'})
        users = label_users(after, label)
        if users:
            raise FormErrors({'label': f'{label!r} is used by {", ".join(users)}: change that first'})
        del after['labels'][label]

        def remove(ops: Operations, actor: str, precondition: Precondition) -> Outcome:
            return ops.delete_label(name, label, actor=actor, precondition=precondition)

        return Change(f'Remove label {label!r}', after, remove, 'label-removed')
    kind, _, rest = target.partition(':')
    if kind == 'version' and rest.isdigit() and int(rest) in versions:
        number = int(rest)
        after['labels'][label] = {'version': number, 'serialized_value': versions[number]}
        pointed = Target(version=number)
        title = f'Point label {label!r} at version {number}'
    elif kind == 'ref' and rest:
        if rest == 'latest':
            latest = after['latest_version']
            after['labels'][label] = {'version': latest['version'] if latest else None, 'ref': 'latest'}
        else:
            after['labels'][label] = {'ref': rest}
        pointed = Target(ref=rest)
        title = f'Point label {label!r} at {rest.replace("_", " ") if rest == "code_default" else rest}'
    else:
        raise FormErrors({'target': 'choose a version, a reference or "remove"'})

    def point(ops: Operations, actor: str, precondition: Precondition) -> Outcome:
        return ops.set_label(name, label, pointed, actor=actor, precondition=precondition)

    return Change(title, after, point, 'label')


# -- rollouts ------------------------------------------------------------------------------------


def weights_of(form: Form, prefix: str = 'w:') -> dict[str, float]:
    """Return the weights of a form's ``w:<label>`` fields, in the form's order; empty and zero ones left out.

    Raises :class:`FormErrors` naming each field that is not a number.
    """
    weights: dict[str, float] = {}
    errors: dict[str, str] = {}
    for field, text in form.items():
        if not field.startswith(prefix) or not text.strip():
            continue
        try:
            weight = float(text)
        except ValueError:
            errors[field] = f'{text!r} is not a number'
            continue
        if weight != 0:
            weights[field.removeprefix(prefix)] = weight
    if errors:
        raise FormErrors(errors)
    return weights


def _checked_rollout(weights: dict[str, float], limits: Limits) -> dict[str, float]:
    try:
        return parse_rollout({'labels': weights}, limits)
    except WriteRejected as exc:
        raise FormErrors({'': str(exc)}) from None


def rollout_change(state: VariableState, form: Form, limits: Limits = DEFAULT_LIMITS) -> Change:
    """Return the change of the rollout form (``w:<label>`` weights). Raises :class:`FormErrors`."""
    weights = _checked_rollout(weights_of(form), limits)
    after = _after(state)
    after['rollout'] = {'labels': weights}
    name = state.name

    def apply(ops: Operations, actor: str, precondition: Precondition) -> Outcome:
        return ops.set_rollout(name, weights, actor=actor, precondition=precondition)

    return Change('Change the rollout', after, apply, 'rollout')


# -- overrides -----------------------------------------------------------------------------------


def _operand(kind: str, text: str, as_json: bool, field: str, max_depth: int) -> Any:
    if as_json:
        try:
            value = loads_strict(text, max_depth=max_depth)
        except StrictJsonError as exc:
            raise FormErrors({field: f'not valid JSON ({exc})'}) from None
        if CONDITION_KINDS[kind] == 'values' and not isinstance(value, list):
            raise FormErrors({field: 'expected a JSON array, e.g. ["pro", "enterprise"]'})
        return value
    if CONDITION_KINDS[kind] == 'values':
        return [part.strip() for part in text.split(',') if part.strip()]
    return text


def conditions_of(form: Form, limits: Limits = DEFAULT_LIMITS) -> list[dict[str, Any]]:
    """Return the conditions of the override form's rows (``c<i>.attribute``, ``.kind``, ``.operand``, ``.json``).

    Rows without an attribute are left out; a JSON operand is held to the strict JSON of API bodies.
    Raises :class:`FormErrors` naming the field.
    """
    rows = int(form['conditions']) if form.get('conditions', '').isdigit() else 0
    conditions = []
    for i in range(min(rows, 100)):
        attribute = form.get(f'c{i}.attribute', '').strip()
        if not attribute:
            continue
        kind = form.get(f'c{i}.kind', 'value-equals')
        if kind not in CONDITION_KINDS:
            raise FormErrors({f'c{i}.kind': f'unknown condition kind {kind!r}'})
        condition: dict[str, Any] = {'kind': kind, 'attribute': attribute}
        operand = CONDITION_KINDS[kind]
        if operand is not None:
            field = f'c{i}.operand'
            value = _operand(kind, form.get(field, ''), bool(form.get(f'c{i}.json')), field, limits.max_json_depth)
            if operand == 'pattern':
                if not isinstance(value, str):
                    raise FormErrors({field: 'a pattern is text'})
                try:
                    compile_pattern(value, cache=False)  # only checked here, as the API checks it
                except PatternError as exc:
                    raise FormErrors({field: str(exc)}) from None
            condition[operand] = value
        conditions.append(condition)
    return conditions


def override_added(state: VariableState, form: Form, limits: Limits = DEFAULT_LIMITS) -> Change:
    """Return the change of the override form: its conditions and rollout, held to ``limits``.

    Raises :class:`FormErrors`.
    """
    conditions = conditions_of(form, limits)
    weights = _checked_rollout(weights_of(form), limits)
    try:
        override = parse_override({'conditions': conditions, 'rollout': {'labels': weights}}, limits)
    except WriteRejected as exc:
        raise FormErrors({'': str(exc)}) from None
    after = _after(state)
    after['overrides'].append(override)
    name = state.name

    def apply(ops: Operations, actor: str, precondition: Precondition) -> Outcome:
        return ops.add_override(name, override, actor=actor, precondition=precondition)

    return Change('Add an override', after, apply, 'override-added')


def override_removed(state: VariableState, index: int) -> Change:
    """Return the change removing override ``index``. Raises :class:`FormErrors` when there is none."""
    if not 0 <= index < len(state.config.overrides):
        raise FormErrors({'': f'Variable {state.name!r} has no override [{index}]'})
    after = _after(state)
    del after['overrides'][index]
    name = state.name
    title = f'Remove override [{index}] ({override_text(state.config.overrides[index])})'

    def apply(ops: Operations, actor: str, precondition: Precondition) -> Outcome:
        return ops.remove_override(name, index, actor=actor, precondition=precondition)

    return Change(title, after, apply, 'override-removed')


# -- rollback ------------------------------------------------------------------------------------


def rollback_change(state: VariableState, entry: HistoryEntry | None, entry_id: int) -> Change:
    """Return the change restoring labels, rollout and overrides as they were after history entry ``entry``.

    Raises :class:`FormErrors` when there is no such entry or it deleted the variable.
    """
    if entry is None or entry.variable != state.name:
        raise FormErrors({'': f'Variable {state.name!r} has no history entry {entry_id}'})
    if entry.after is None:
        raise FormErrors({'': f'History entry {entry_id} deleted the variable: roll back to an entry before it'})
    after = _after(state)
    for field in ('labels', 'rollout', 'overrides'):
        after[field] = copy.deepcopy(entry.after[field])
    latest = after['latest_version']
    for target in after['labels'].values():
        if target.get('ref') == 'latest':  # a ref follows the latest version of now, not of then
            target['version'] = latest['version'] if latest else None
    name = state.name

    def apply(ops: Operations, actor: str, precondition: Precondition) -> Outcome:
        return ops.rollback(name, entry_id, actor=actor, precondition=precondition)

    title = (
        f'Roll back to history entry #{entry_id} ({entry.action} by {entry.actor}, {entry.at[:19].replace("T", " ")})'
    )
    return Change(title, after, apply, 'rollback')
