"""Targeting context: the targeting key (and attributes) that reads use when the call site gives none.

Held in the context scope (:mod:`remotevars._scope`, a ContextVar), so each thread, asyncio task and
request sees its own. Priority, highest first: the ``targeting_key=`` of the call, the key set for that
variable, the default key of the context. Attributes set here are merged under the call's
``attributes`` (the call wins on conflicts); this stands in for the OpenTelemetry baggage the
reference SDK merges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import Token
from types import TracebackType
from typing import TYPE_CHECKING, Any

from remotevars._scope import SCOPE, Scope, TargetingState

if TYPE_CHECKING:
    from remotevars._variable import Variable

__all__ = ['current_targeting', 'targeting_context']


def current_targeting() -> TargetingState | None:
    """Return the targeting state in force in this context, or None."""
    scope = SCOPE.get()
    return None if scope is None else scope.targeting


class targeting_context:
    """Set the targeting key (and optionally attributes) for reads inside the ``with`` block.

    ``variables=None`` sets the default key; otherwise the key applies to those variables only and
    beats the default whatever the nesting order. ``attributes`` are merged over the attributes of
    enclosing contexts. Leaving the block restores what was in force before.
    """

    __slots__ = ('_attributes', '_key', '_names', '_token')

    def __init__(
        self,
        targeting_key: Any,
        variables: Iterable[Variable[Any] | str] | None = None,
        *,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self._key = targeting_key
        self._names = None if variables is None else [v if isinstance(v, str) else v.name for v in variables]
        self._attributes = attributes
        self._token: Token[Scope | None] | None = None

    def __enter__(self) -> targeting_context:
        scope = SCOPE.get()
        current = None if scope is None else scope.targeting
        default_key = None if current is None else current.default_key
        by_variable: Mapping[str, Any] = {} if current is None else current.by_variable
        merged = None if current is None else current.attributes
        if self._names is None:
            default_key = self._key
        else:
            by_variable = {**by_variable, **dict.fromkeys(self._names, self._key)}
        if self._attributes:
            merged = {**merged, **self._attributes} if merged else dict(self._attributes)
        targeting = TargetingState(default_key, by_variable, merged)
        self._token = SCOPE.set(
            Scope(None, None, targeting) if scope is None else Scope(scope.client, scope.pinned, targeting)
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            SCOPE.reset(self._token)
            self._token = None
