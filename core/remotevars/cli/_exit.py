"""How every ``remotevars`` command ends: exit 0, or one ``Error: <reason>`` line on stderr and the exit code
of its :class:`~remotevars._outcome.Outcome` (the one policy: 1 refused or invalid, 2 usage, connection,
authentication or server failure). Nothing of a failure goes to stdout.
"""

from __future__ import annotations

from typing import NoReturn

import click

from remotevars._outcome import Outcome, OutcomeStatus

__all__ = ['CommandFailed', 'fail', 'finish', 'warn']


class CommandFailed(click.ClickException):
    """Ends a command as ``outcome`` says; click prints ``Error: <reason>`` (one line) on stderr, once."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(' '.join((outcome.reason or outcome.status).split()))
        self.exit_code = outcome.exit_code  # type: ignore[misc]  # click reads it per instance too


def finish(outcome: Outcome) -> None:
    """End the command as ``outcome`` says: return when it exits 0, else raise :class:`CommandFailed`."""
    if outcome.exit_code:
        raise CommandFailed(outcome)


def fail(status: OutcomeStatus, reason: str) -> NoReturn:
    """End the command with ``status`` (``usage``, ``refused``...) and ``reason``: raise :class:`CommandFailed`."""
    raise CommandFailed(Outcome(status, reason))


def warn(message: str) -> None:
    """Print ``Warning: <message>`` (one line) on stderr; the command still succeeds."""
    click.echo(f'Warning: {" ".join(message.split())}', err=True)
