"""Change events: which variables a new config changed, with their old and new state and values.

The client computes them when it swaps snapshots and hands them to listeners; the Django and Flask
adapters turn them into signals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from remotevars._resolve import CompiledCondition, CompiledVariable
    from remotevars._snapshot import Snapshot

__all__ = ['OverrideState', 'RefreshEvent', 'VariableChange', 'VariableState', 'diff_snapshots']


@dataclass(frozen=True, slots=True)
class OverrideState:
    """One rollout override: its conditions as ``(kind, attribute, operand)`` and the rollout it selects."""

    conditions: tuple[tuple[str, str, Any], ...]
    rollout: Mapping[str, float]


def _condition(condition: CompiledCondition) -> tuple[str, str, Any]:
    from remotevars._resolve import _KINDS

    code, attribute, operand = condition
    kind = next(name for name, number in _KINDS.items() if number == code)
    return kind, attribute, getattr(operand, 'pattern', operand)  # a compiled regex gives its source


@dataclass(frozen=True, slots=True)
class VariableState:
    """A variable as a config has it.

    ``labels``: each label's version (refs followed; None: the code default). ``rollout``: each label's
    weight. ``values``: what each label serves, as JSON text (None: the code default); decode one with
    ``variable.type_adapter.validate_json``. ``overrides``: the rollout overrides, in order.
    ``latest_version``: the number of the newest version, labelled or not (None: none yet).
    """

    labels: Mapping[str, int | None]
    rollout: Mapping[str, float]
    values: Mapping[str, str | None] = field(default_factory=dict)
    overrides: tuple[OverrideState, ...] = ()
    latest_version: int | None = None

    @classmethod
    def of(cls, variable: CompiledVariable) -> VariableState:
        """Return the state of a compiled variable."""
        return cls(
            labels={label: target[1] for label, target in variable.targets.items()},
            rollout=dict(variable.rollout.labels),
            values={label: target[0] for label, target in variable.targets.items()},
            overrides=tuple(
                OverrideState(tuple(_condition(c) for c in conditions), dict(rollout.labels))
                for conditions, rollout in variable.overrides
            ),
            latest_version=variable.latest_version,
        )


@dataclass(frozen=True, slots=True)
class VariableChange:
    """One variable that a new config created, updated or deleted."""

    name: str
    old: VariableState | None
    new: VariableState | None

    @property
    def kind(self) -> Literal['created', 'updated', 'deleted']:
        """``created`` (no old state), ``deleted`` (no new state) or ``updated``."""
        if self.old is None:
            return 'created'
        return 'deleted' if self.new is None else 'updated'


@dataclass(frozen=True, slots=True)
class RefreshEvent:
    """A config was applied: where it came from and what it changed (possibly nothing)."""

    source: str
    changes: tuple[VariableChange, ...]


def diff_snapshots(old: Snapshot, new: Snapshot) -> tuple[VariableChange, ...]:
    """Return the variables whose config differs between two snapshots, in name order."""
    changes: list[VariableChange] = []
    for name in sorted(old.variables.keys() | new.variables.keys()):
        before, after = old.variables.get(name), new.variables.get(name)
        if before is after or (before is not None and after is not None and before.source == after.source):
            continue
        changes.append(
            VariableChange(
                name,
                None if before is None else VariableState.of(before),
                None if after is None else VariableState.of(after),
            )
        )
    return tuple(changes)
