"""The exception tree: every error remotevars raises derives from :class:`RemoteVarsError`.

Reads (``Variable.get``) never raise; these are for declarations, configuration, payloads and writes.
"""

from __future__ import annotations

__all__ = [
    'ApiConnectionError',
    'ApiError',
    'BulkWriteUnsupported',
    'ConfigPayloadError',
    'ConfigurationError',
    'RemoteVarsError',
    'TemplateInputsMismatchError',
    'VariableAlreadyExistsError',
    'VariableCompositionCycleError',
    'VariableCompositionError',
    'VariableNotFoundError',
    'VariableRegistrationError',
    'VariableSerializationError',
    'VariableWriteError',
]


class RemoteVarsError(Exception):
    """The root of every exception raised by remotevars."""


class VariableCompositionError(RemoteVarsError):
    """A ``@{ref}@`` composition that cannot be expanded: too deep, or (subclass) circular."""


class VariableCompositionCycleError(VariableCompositionError):
    """A ``@{ref}@`` chain that comes back to a variable already being expanded."""


class TemplateInputsMismatchError(RemoteVarsError):
    """A template uses ``{{fields}}`` its ``inputs_type`` does not declare, under the ``'error'`` policy.

    The one exception a read lets through: that policy asks for a loud failure.
    """


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


class ApiError(RemoteVarsError):
    """A request to the variables HTTP API failed; ``status`` is the HTTP status (None: no response).

    Messages name the method, the path and the server's error text, never the API key.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def transient(self) -> bool:
        """Whether retrying later may help: no response, a timeout, 408, 429 or a 5xx."""
        return self.status is None or self.status in (408, 429) or self.status >= 500


class ApiConnectionError(ApiError):
    """No usable HTTP response: the server could not be reached, or the request timed out."""


class BulkWriteUnsupported(ApiError):
    """The server has no transactional bulk endpoint (404/405 on ``POST /v1/variables/bulk/``)."""
