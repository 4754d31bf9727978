"""The provider interface: where configs come from (a file, an object, a server) behind one shape.

A provider delivers payloads to a :class:`ConfigSink` (the client), which builds and swaps snapshots;
providers never touch snapshots or variables themselves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from remotevars._snapshot import VariableIssue

__all__ = ['ConfigSink', 'ProviderStatus', 'VariableProvider']


class ConfigSink(Protocol):
    """What a provider reports to: new payloads, and that the first attempt to get one is over."""

    def apply(self, payload: Any, *, source: str, from_cache: bool = False) -> list[VariableIssue]:
        """Install ``payload`` (JSON bytes/str, mapping or ``VariablesConfig``) as the config.

        ``from_cache`` marks a last-good copy served because the source is unreachable; reads then
        report ``reason='cached'`` until a fresh config arrives.

        Returns the variables that could not be used; raises
        :class:`~remotevars.ConfigPayloadError` when the payload as a whole is unusable (the
        previous config stays).
        """
        ...

    def apply_changes(self, changes: Mapping[str, bytes | str | None], *, source: str) -> list[VariableIssue]:
        """Replace some variables (JSON of one variable in the read shape) or remove them (None).

        For sources that push the changed variables themselves; raises
        :class:`~remotevars.ConfigPayloadError` when there is no loaded config to apply them to (the
        caller then fetches the whole config).
        """
        ...

    def first_attempt_done(self) -> None:
        """Signal that the first fetch has been attempted, successfully or not."""
        ...


@dataclass(frozen=True)
class ProviderStatus:
    """What a provider can say about itself (shown by status commands and pages)."""

    kind: str
    source: str
    connected: bool | None = None
    stream_connected: bool | None = None
    last_refresh: float | None = None
    last_error: str | None = None


class VariableProvider(ABC):
    """A source of configs. ``start`` delivers the first one (or starts fetching it)."""

    @abstractmethod
    def start(self, sink: ConfigSink) -> None:
        """Begin delivering configs to ``sink``; may deliver the first one before returning."""

    def refresh(self, force: bool = False) -> None:  # noqa: B027 - optional hook
        """Fetch now if the source may have changed (``force``: even if it looks fresh)."""

    def shutdown(self, timeout: float = 1.0) -> None:  # noqa: B027 - optional hook
        """Stop background work within ``timeout`` seconds; idempotent."""

    def after_fork_in_child(self) -> None:  # noqa: B027 - optional hook
        """Recreate threads and connections in a forked child process."""

    @abstractmethod
    def status(self) -> ProviderStatus:
        """Return the provider's current status."""
