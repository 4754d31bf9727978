"""``Outcome``: how a workflow or status command ended, and the exit code every command line gives it.

The one exit-code policy of ``remotevars``, ``flask vars`` and ``manage.py vars_*``: 0 done (or nothing to
do), 1 refused, invalid or drift, 2 usage, connection or authentication error. A leaf module: the status
page imports it without the workflows' HTTP code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ['Outcome', 'OutcomeStatus']

OutcomeStatus = Literal[
    'applied', 'dry_run', 'no_changes', 'done', 'refused', 'aborted', 'failed', 'invalid', 'empty', 'usage', 'error'
]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a workflow ended; ``ok`` is what the public push functions return.

    ``status``: ``applied``, ``dry_run``, ``no_changes``, ``done`` (clean); ``refused`` (strict checks,
    no terminal, unserialisable defaults, a destructive change without ``allow_destructive``),
    ``aborted`` (the answer was not yes), ``failed`` (the server rejected the write), ``invalid``
    (validation found values that do not fit); ``empty`` (nothing given), ``usage`` (a bad option or
    module) and ``error`` (no connection, a key the server refuses, misconfiguration). ``reason`` is a
    one-line explanation for the non-clean ones.
    """

    status: OutcomeStatus
    reason: str = ''

    @property
    def ok(self) -> bool:
        """True when changes were applied, or would be in a dry run."""
        return self.status in ('applied', 'dry_run')

    @property
    def exit_code(self) -> int:
        """The command-line exit code: 0 done or nothing to do, 1 refused or invalid, 2 usage, connection or auth."""
        if self.status in ('applied', 'dry_run', 'no_changes', 'done'):
            return 0
        if self.status in ('refused', 'aborted', 'failed', 'invalid'):
            return 1
        return 2
