"""``Outcome``: how a command ended, and the exit code every command line gives it.

The one exit-code policy of ``remotevars`` (workflow and admin commands), ``flask vars`` and
``manage.py vars_*``: 0 done (or nothing to do), 1 refused, invalid or drift, 2 usage, connection,
authentication or server failure. :func:`api_failure_status` says which of 1 and 2 a failed API request
is. A leaf module: the status page imports it without the workflows' HTTP code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from remotevars._errors import ApiError

__all__ = ['Outcome', 'OutcomeStatus', 'api_failure_status']

OutcomeStatus = Literal[
    'applied', 'dry_run', 'no_changes', 'done', 'refused', 'aborted', 'failed', 'invalid', 'empty', 'usage', 'error'
]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a command ended; ``ok`` is what the public push functions return.

    ``status``: ``applied``, ``dry_run``, ``no_changes``, ``done`` (clean); ``refused`` (strict checks,
    no terminal, unserialisable defaults, a destructive change without ``allow_destructive``, input
    the command cannot use), ``aborted`` (the answer was not yes), ``failed`` (the server rejected the
    request), ``invalid`` (validation found values that do not fit, or drift); ``empty`` (nothing
    given), ``usage`` (a bad option or module) and ``error`` (no connection, a key the server refuses,
    a server failure, misconfiguration). ``reason`` is a one-line explanation for the non-clean ones.
    """

    status: OutcomeStatus
    reason: str = ''

    @property
    def ok(self) -> bool:
        """True when changes were applied, or would be in a dry run."""
        return self.status in ('applied', 'dry_run')

    @property
    def exit_code(self) -> int:
        """The command-line exit code: 0 done or nothing to do, 1 refused or invalid, 2 usage, connection or server."""
        if self.status in ('applied', 'dry_run', 'no_changes', 'done'):
            return 0
        if self.status in ('refused', 'aborted', 'failed', 'invalid'):
            return 1
        return 2


def api_failure_status(exc: ApiError) -> Literal['failed', 'error']:
    """Return how a failed API request ends a command.

    ``error`` (exit 2) when the server could not be used: no response, a key it refuses (401/403), a
    server failure (5xx). ``failed`` (exit 1) when it refused the request itself (invalid, 404, 409, 412...).
    """
    if exc.status is None or exc.status in (401, 403) or exc.status >= 500:
        return 'error'
    return 'failed'
