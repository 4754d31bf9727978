"""What reads see in the current context: the active client, pinned snapshots and the targeting.

All three live in ONE ContextVar holding an immutable :class:`Scope`: a read makes one lookup, and a
request scope (the Django middleware, the Flask hooks) one set and one reset, which matters because
each ContextVar operation costs a fraction of a microsecond.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from remotevars._client import Client
    from remotevars._snapshot import Snapshot

__all__ = ['SCOPE', 'Scope', 'TargetingState']


class TargetingState:
    """What a targeting context holds: a default key, keys by variable name, and attributes."""

    __slots__ = ('attributes', 'by_variable', 'default_key')

    def __init__(self, default_key: Any, by_variable: Mapping[str, Any], attributes: Mapping[str, Any] | None) -> None:
        self.default_key = default_key
        self.by_variable = by_variable
        self.attributes = attributes

    def key_for(self, name: str) -> Any:
        """Return the targeting key for the variable ``name`` (variable-specific beats default)."""
        if self.by_variable:
            return self.by_variable.get(name, self.default_key)
        return self.default_key


class Scope:
    """The context of reads: ``client`` whose config every read uses (None: each variable's own),
    ``pinned`` snapshots by client, and the ``targeting`` state. Never mutated: derive a new one."""

    __slots__ = ('client', 'pinned', 'targeting')

    def __init__(
        self, client: Client | None, pinned: Mapping[Client, Snapshot] | None, targeting: TargetingState | None
    ) -> None:
        self.client = client
        self.pinned = pinned
        self.targeting = targeting


SCOPE: Final[ContextVar[Scope | None]] = ContextVar('remotevars_scope', default=None)
