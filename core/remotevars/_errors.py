"""The exception tree: every error remotevars raises derives from :class:`RemoteVarsError`.

Reads (``Variable.get``) never raise; these are for declarations, configuration, payloads and writes.
"""

from __future__ import annotations

__all__ = [
    'ConfigPayloadError',
    'ConfigurationError',
    'RemoteVarsError',
    'VariableAlreadyExistsError',
    'VariableNotFoundError',
    'VariableRegistrationError',
    'VariableSerializationError',
    'VariableWriteError',
]


class RemoteVarsError(Exception):
    """The root of every exception raised by remotevars."""


class ConfigurationError(RemoteVarsError, ValueError):
    """Options or settings that cannot work (raised at start-up, never from a read)."""


class VariableRegistrationError(RemoteVarsError, ValueError):
    """A variable declaration is invalid: bad name, or a name already taken with another type."""


class VariableSerializationError(RemoteVarsError, ValueError):
    """A variable's code default cannot be serialised to JSON (so it cannot be pushed)."""


class ConfigPayloadError(RemoteVarsError, ValueError):
    """A configuration payload (file or HTTP body) is unusable as a whole; the last good one stays."""


class VariableWriteError(RemoteVarsError):
    """A write to the variables API failed."""


class VariableNotFoundError(VariableWriteError):
    """The variable to update or delete does not exist."""


class VariableAlreadyExistsError(VariableWriteError):
    """The variable to create already exists."""
