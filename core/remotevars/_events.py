"""Change events: which variables a new config changed, with their old and new labels.

The client computes them when it swaps snapshots and hands them to listeners; the Django and Flask
adapters turn them into signals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from remotevars._resolve import CompiledVariable
    from remotevars._snapshot import Snapshot

__all__ = ['RefreshEvent', 'VariableChange', 'VariableState', 'diff_snapshots']


@dataclass(frozen=True, slots=True)
class VariableState:
    """A variable as a config has it: each label's version (refs followed) and the rollout weights."""

    labels: Mapping[str, int | None]
    rollout: Mapping[str, float]

    @classmethod
    def of(cls, variable: CompiledVariable) -> VariableState:
        """Return the state of a compiled variable."""
        labels = {label: target[1] for label, target in variable.targets.items()}
        return cls(labels=labels, rollout=dict(variable.rollout.labels))


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
