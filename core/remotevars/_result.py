"""The result of a read: ``ResolvedVariable[T]``, its ``reason``, and the results active in a context.

A leaf module: the wire models (:mod:`remotevars.config`) and the read path (:mod:`remotevars._variable`)
both build results, and neither imports the other for it.
"""

from __future__ import annotations

from contextvars import ContextVar
from types import TracebackType
from typing import Any, Final, Generic, Literal, TypeVar

__all__ = ['ResolutionReason', 'ResolvedVariable', 'active_variables']

T_co = TypeVar('T_co', covariant=True)

ResolutionReason = Literal[
    'resolved',
    'cached',
    'context_override',
    'code_default',
    'missing_config',
    'unrecognized_variable',
    'no_provider',
    'validation_error',
    'other_error',
]
"""Why a read returned what it did.

``resolved``: a value from the config. ``cached``: a value from the last-good cache file, served
because the server has not been reached yet. ``context_override``: from ``Variable.override``.
``code_default``: the config routes this read to the code default (rollout remainder, empty rollout,
a label that refs ``code_default`` or a ``latest`` with no versions). ``unrecognized_variable``: the
config has no such variable. ``missing_config``: a provider is configured but no config has arrived.
``no_provider``: nothing is configured. ``validation_error``: the config's value does not fit the
type (code default served). ``other_error``: an unexpected failure (code default served).
"""

#: The stack of results entered as context managers: ``(result, outer)`` links.
_ACTIVE: Final[ContextVar[tuple[ResolvedVariable[Any], Any] | None]] = ContextVar('remotevars_active', default=None)


class ResolvedVariable(Generic[T_co]):
    """The result of a read: the value and where it came from. Immutable.

    Entering it as a context manager records it as active (see :func:`active_variables`) until the
    block ends, so logging and tracing code can tag what happens inside with the label and version.
    """

    __slots__ = ('composed_from', 'exception', 'label', 'name', 'reason', 'value', 'version')

    name: str
    value: T_co
    label: str | None
    version: int | None
    reason: ResolutionReason
    exception: Exception | None
    #: What each ``@{reference}@`` of the value resolved to (``ComposedReference`` objects), in name order.
    composed_from: list[Any]

    def __init__(
        self,
        *,
        name: str,
        value: T_co,
        reason: ResolutionReason,
        label: str | None = None,
        version: int | None = None,
        exception: Exception | None = None,
        composed_from: list[Any] | None = None,
    ) -> None:
        setter = object.__setattr__
        setter(self, 'name', name)
        setter(self, 'value', value)
        setter(self, 'label', label)
        setter(self, 'version', version)
        setter(self, 'reason', reason)
        setter(self, 'exception', exception)
        setter(self, 'composed_from', [] if composed_from is None else composed_from)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f'ResolvedVariable is immutable; cannot set {name!r}')

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f'ResolvedVariable is immutable; cannot delete {name!r}')

    def __repr__(self) -> str:
        return (
            f'ResolvedVariable(name={self.name!r}, value={self.value!r}, label={self.label!r}, '
            f'version={self.version!r}, reason={self.reason!r}, exception={self.exception!r})'
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResolvedVariable):
            return NotImplemented
        return (self.name, self.value, self.label, self.version, self.reason, self.exception) == (
            other.name,
            other.value,
            other.label,
            other.version,
            other.reason,
            other.exception,
        )

    __hash__ = None  # type: ignore[assignment]  # values may be unhashable

    def __enter__(self) -> ResolvedVariable[T_co]:
        _ACTIVE.set((self, _ACTIVE.get()))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Results are shared between reads, so the link is found by identity rather than a token.
        top = _ACTIVE.get()
        if top is not None and top[0] is self:
            _ACTIVE.set(top[1])


def active_variables() -> dict[str, ResolvedVariable[Any]]:
    """Return the results entered with ``with var.get() as r:`` in this context, by name."""
    found: dict[str, ResolvedVariable[Any]] = {}
    link = _ACTIVE.get()
    while link is not None:
        found.setdefault(link[0].name, link[0])
        link = link[1]
    return found
