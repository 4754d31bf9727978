"""Field-level differences between two states of one variable, and which of them are destructive.

Pure: a function of two ``VariableConfig`` objects (either may be None: created or deleted). Push plans,
the admin commands and the server's console all describe a change with it, so a change reads the same
wherever it is made. ``after`` is either a stored state (history: its version numbers are the server's) or,
with ``written=True``, a write body about to be sent (a push plan: a value the server does not hold under
that number yet becomes a new version, which the server numbers).

A change is *destructive* when it takes traffic away from what was served: it removes a label that
the rollout or an override serves, or it sends a larger share of the traffic to the code default (a
rollout remainder that grows, a served label now leading to the code default, a variable that served
values deleted).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from remotevars._resolve import follow_target
from remotevars.config import LabeledValue, LatestVersion

if TYPE_CHECKING:
    from remotevars.config import LabelRef, RolloutOverride, VariableConfig

__all__ = [
    'LabelDiff',
    'VariableDiff',
    'code_default_share',
    'condition_text',
    'diff_variable',
    'override_text',
    'rollout_text',
    'target_text',
    'value_preview',
]

#: Shares closer than this are the same (weights are floats that users type with a few decimals).
_EPSILON = 1e-9
#: Characters of a new value shown in a label line (a prompt can be pages long).
_PREVIEW = 40


def target_text(target: LabeledValue | LabelRef) -> str:
    """Return what a label points at, in words: ``version 3``, ``-> latest (version 5)``, ``-> code default``."""
    ref = getattr(target, 'ref', None)
    if ref is None:
        return f'version {target.version}'
    if ref == 'latest':
        return f'-> latest (version {target.version})' if target.version is not None else '-> latest (no versions)'
    if ref == 'code_default':
        return '-> code default'
    return f'-> label {ref!r}'


def rollout_text(labels: Mapping[str, float]) -> str:
    """Return a rollout in words: ``production=0.9, canary=0.1``, with the code default's remainder if any."""
    if not labels:
        return 'code default=1'
    parts = [f'{label}={weight:g}' for label, weight in labels.items()]
    rest = 1.0 - math.fsum(labels.values())
    if rest > _EPSILON:
        parts.append(f'code default={rest:g}')
    return ', '.join(parts)


def condition_text(condition: Any) -> str:
    """Return a condition in words: ``plan value-equals "enterprise"``."""
    data = condition.model_dump(mode='json')
    extra = {k: v for k, v in data.items() if k not in ('kind', 'attribute')}
    operand = ' '.join(json.dumps(v) for v in extra.values())
    return f'{data["attribute"]} {data["kind"]} {operand}'.rstrip()


def override_text(override: RolloutOverride) -> str:
    """Return an override in words: ``when plan value-equals "pro": canary=1``."""
    conditions = ' and '.join(condition_text(c) for c in override.conditions) or 'always'
    return f'when {conditions}: {rollout_text(override.rollout.labels)}'


def code_default_share(variable: VariableConfig, weights: Mapping[str, float]) -> float:
    """Return the share of a rollout's traffic that gets the code default under ``variable``'s labels.

    That is the remainder the weights leave below 1, plus the weights of labels that lead to the code
    default (a ``code_default`` ref, ``latest`` with no versions, a broken or missing label).
    """
    share = max(0.0, 1.0 - math.fsum(weights.values()))
    for label, weight in weights.items():
        target = variable.labels.get(label)
        if target is None or follow_target(variable.labels, variable.latest_version, target)[0] is None:
            share += weight
    return min(share, 1.0)


def _served_labels(variable: VariableConfig) -> dict[str, str]:
    """Return the labels that get traffic, each with where (``the rollout``, ``override [i]``), refs followed."""
    served: dict[str, str] = {}
    sources = [('the rollout', variable.rollout.labels)]
    sources += [(f'override [{i}]', o.rollout.labels) for i, o in enumerate(variable.overrides)]
    for where, weights in sources:
        for label, weight in weights.items():
            if weight <= 0:
                continue
            # A label that refs another one serves that one's value too: removing either breaks the route.
            seen: set[str] = set()
            current: str | None = label
            while current is not None and current not in seen and current in variable.labels:
                seen.add(current)
                served.setdefault(current, where)
                ref = getattr(variable.labels[current], 'ref', None)
                current = ref if ref not in (None, 'latest', 'code_default') else None
    return served


@dataclass(frozen=True, slots=True)
class LabelDiff:
    """One label added (``before`` None), removed (``after`` None) or moved, as :func:`target_text` words."""

    label: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class VariableDiff:
    """What changes in one variable, field by field; ``destructive`` says, in words, what takes traffic away."""

    name: str
    kind: Literal['create', 'update', 'delete']
    labels: tuple[LabelDiff, ...] = ()
    rollout: tuple[Mapping[str, float], Mapping[str, float]] | None = None
    overrides_added: tuple[str, ...] = ()
    overrides_removed: tuple[str, ...] = ()
    schema_changed: bool = False
    description: tuple[str | None, str | None] | None = None
    destructive: tuple[str, ...] = ()
    #: The other fields a write can change: the template inputs schema, the example, aliases, the type name.
    inputs_schema_changed: bool = False
    example: tuple[str | None, str | None] | None = None
    aliases: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    type_name: tuple[str | None, str | None] | None = None

    @property
    def has_changes(self) -> bool:
        """Whether anything a reader or a pusher would notice changes (creation and deletion always do)."""
        return self.kind != 'update' or bool(
            self.labels
            or self.rollout
            or self.overrides_added
            or self.overrides_removed
            or self.schema_changed
            or self.description
            or self.inputs_schema_changed
            or self.example
            or self.aliases
            or self.type_name
        )

    @property
    def is_destructive(self) -> bool:
        """Whether the change takes traffic away from what was served."""
        return bool(self.destructive)


def _label_targets(variable: VariableConfig | None) -> dict[str, str]:
    if variable is None:
        return {}
    return {label: target_text(target) for label, target in variable.labels.items()}


def _stored_versions(variable: VariableConfig | None) -> set[tuple[int, str]]:
    """Return the (version, value) pairs ``variable`` is known to hold: its labels' and its latest version."""
    if variable is None:
        return set()
    known = {(t.version, t.serialized_value) for t in variable.labels.values() if isinstance(t, LabeledValue)}
    if variable.latest_version is not None:
        known.add((variable.latest_version.version, variable.latest_version.serialized_value))
    return known


def value_preview(serialized: str) -> str:
    """Return a JSON text cut to a line's worth (an ellipsis marks the cut)."""
    return serialized if len(serialized) <= _PREVIEW else serialized[: _PREVIEW - 1] + '…'


def _written_targets(before: VariableConfig | None, body: VariableConfig) -> tuple[dict[str, str], bool]:
    """Return the words for a write body's labels, and whether the write creates a version.

    A label keeps its version only when ``before`` holds that exact value under that number; any other
    value becomes a new version (``new version "..."``).
    """
    known = _stored_versions(before)
    texts: dict[str, str] = {}
    creates = False
    for label, target in body.labels.items():
        if isinstance(target, LabeledValue) and (target.version, target.serialized_value) not in known:
            texts[label] = f'new version {value_preview(target.serialized_value)}'
            creates = True
        else:
            texts[label] = target_text(target)
    return texts, creates


def _as_stored(before: VariableConfig | None, body: VariableConfig) -> VariableConfig:
    """Return ``body`` with the latest version it will have: a new one if it creates a version, else ``before``'s.

    Only whether there is a latest version matters here (a ``latest`` ref with none gets the code default).
    """
    _, creates = _written_targets(before, body)
    if creates:
        value = next(t.serialized_value for t in body.labels.values() if isinstance(t, LabeledValue))
        number = (before.latest_version.version + 1) if before is not None and before.latest_version else 1
        latest: LatestVersion | None = LatestVersion(version=number, serialized_value=value)
    else:
        latest = before.latest_version if before is not None else None
    return body.model_copy(update={'latest_version': latest})


def _pair(before: Any, after: Any) -> tuple[Any, Any] | None:
    return None if before == after else (before, after)


def _canonical_value(serialized: str | None) -> Any:
    if serialized is None:
        return None
    try:
        return json.loads(serialized)
    except ValueError:
        return serialized


def _override_texts(overrides: Sequence[RolloutOverride]) -> list[str]:
    return [override_text(o) for o in overrides]


def _multiset_difference(left: list[str], right: list[str]) -> tuple[str, ...]:
    remaining = list(right)
    missing = []
    for item in left:
        if item in remaining:
            remaining.remove(item)
        else:
            missing.append(item)
    return tuple(missing)


def _percent(share: float) -> str:
    return f'{share * 100:.4g}%'


def _destructive_reasons(before: VariableConfig | None, after: VariableConfig | None) -> tuple[str, ...]:
    if before is None:
        return ()
    if after is None:
        routes = [before.rollout.labels, *(o.rollout.labels for o in before.overrides)]
        if all(code_default_share(before, weights) >= 1 - _EPSILON for weights in routes):
            return ()  # it served nothing but code defaults: deleting it changes no read
        return (f'deletes {before.name!r}: every read gets the code default',)
    served = _served_labels(before)
    reasons = [
        f'removes label {label!r}, which {where} serves' for label, where in served.items() if label not in after.labels
    ]
    share_before = code_default_share(before, before.rollout.labels)
    share_after = code_default_share(after, after.rollout.labels)
    if share_after > share_before + _EPSILON:
        reasons.append(
            f'sends {_percent(share_after)} of the rollout to the code default (was {_percent(share_before)})'
        )
    # Overrides are matched by their conditions: the same segment, now served less.
    after_by_conditions = {tuple(condition_text(c) for c in o.conditions): o for o in after.overrides}
    for i, override in enumerate(before.overrides):
        kept = after_by_conditions.get(tuple(condition_text(c) for c in override.conditions))
        if kept is None:
            continue
        old_share = code_default_share(before, override.rollout.labels)
        new_share = code_default_share(after, kept.rollout.labels)
        if new_share > old_share + _EPSILON:
            reasons.append(
                f'sends {_percent(new_share)} of override [{i}] to the code default (was {_percent(old_share)})'
            )
    return tuple(reasons)


def diff_variable(
    before: VariableConfig | None, after: VariableConfig | None, *, written: bool = False
) -> VariableDiff:
    """Return the field-level difference from ``before`` to ``after`` (None: the variable does not exist).

    ``written``: ``after`` is a write body rather than a stored state, so its label versions are a
    request (see the module docstring) and its latest version is the one the write will leave.
    Raises ValueError when both are None.
    """
    if before is None and after is None:
        raise ValueError('diff_variable needs at least one state')
    name = (after or before).name  # type: ignore[union-attr]  # one of them is set
    kind: Literal['create', 'update', 'delete'] = (
        'create' if before is None else 'delete' if after is None else 'update'
    )
    old_labels = _label_targets(before)
    if written and after is not None:
        new_labels, _ = _written_targets(before, after)
        after = _as_stored(before, after)
    else:
        new_labels = _label_targets(after)
    labels = tuple(
        LabelDiff(label, old_labels.get(label), new_labels.get(label))
        for label in [*old_labels, *(label for label in new_labels if label not in old_labels)]
        if old_labels.get(label) != new_labels.get(label)
    )
    old_rollout = dict(before.rollout.labels) if before is not None else {}
    new_rollout = dict(after.rollout.labels) if after is not None else {}
    # Order matters to bucketing: the same weights in another order are a change.
    rollout = None if list(old_rollout.items()) == list(new_rollout.items()) else (old_rollout, new_rollout)
    old_overrides = _override_texts(before.overrides) if before is not None else []
    new_overrides = _override_texts(after.overrides) if after is not None else []
    old_schema = json.dumps(before.json_schema, sort_keys=True) if before is not None else 'null'
    new_schema = json.dumps(after.json_schema, sort_keys=True) if after is not None else 'null'
    # None and '' are the same description.
    old_description = (before.description or None) if before is not None else None
    new_description = (after.description or None) if after is not None else None
    diff = VariableDiff(
        name=name,
        kind=kind,
        labels=labels,
        rollout=rollout,
        overrides_added=_multiset_difference(new_overrides, old_overrides),
        overrides_removed=_multiset_difference(old_overrides, new_overrides),
        schema_changed=kind == 'update' and old_schema != new_schema,
        description=_pair(old_description, new_description),
        destructive=_destructive_reasons(before, after),
    )
    if before is None or after is None:
        return diff
    return replace(
        diff,
        inputs_schema_changed=json.dumps(before.template_inputs_schema, sort_keys=True)
        != json.dumps(after.template_inputs_schema, sort_keys=True),
        example=_example_change(before, after),
        # No aliases and an empty list are the same.
        aliases=_pair(tuple(before.aliases or ()), tuple(after.aliases or ())),
        type_name=_pair(before.type_name, after.type_name),
    )


def _example_change(before: VariableConfig, after: VariableConfig) -> tuple[str | None, str | None] | None:
    # Examples are JSON texts: the same document formatted differently is no change.
    if _canonical_value(before.example) == _canonical_value(after.example):
        return None
    return (before.example, after.example)
