"""``remotevars migrate``: bring a server database's schema to this release's, or check whether it is (``--check``).

Also the ``--db`` option that ``serve`` shares: a SQLite path or a PostgreSQL URL. Server dependencies are
imported inside the command, so the rest of the CLI works without them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from remotevars._errors import ConfigurationError, RemoteVarsError
from remotevars.cli._exit import fail

__all__ = ['commands', 'db_option', 'migrate']

F = TypeVar('F', bound=Callable[..., Any])


def db_option(command: F) -> F:
    """The ``--db`` option (env ``REMOTEVARS_SERVER_DB``), passed to the command as ``db``."""
    return click.option(
        '--db',
        'db',
        default='remotevars.sqlite3',
        show_default=True,
        envvar='REMOTEVARS_SERVER_DB',
        help='SQLite database file (created if missing), or a PostgreSQL URL '
        'postgresql://user:password@host:port/dbname (env REMOTEVARS_SERVER_DB).',
    )(command)


@click.command()
@db_option
@click.option('--check', is_flag=True, help='Change nothing; exit 1 when steps are pending (for deploy scripts).')
def migrate(db: str, check: bool) -> None:
    """Migrate the server database's schema forward to this release (servers also do it when they start).

    Forward only, each step in its own transaction; several processes migrating at once apply each step once.
    Exit codes: 0 current (or migrated), 1 steps pending (--check) or a database newer than this release,
    2 the database cannot be reached.
    """
    try:
        from remotevars.server._migrations import SchemaTooNew
        from remotevars.server._open import describe_db, migration_status
    except ModuleNotFoundError as exc:
        fail('error', f'migrating needs the "server" extra (pip install "remotevars[server]"): {exc}')
    shown = describe_db(db)
    try:
        found, steps = migration_status(db, apply=not check)
    except SchemaTooNew as exc:
        fail('refused', f'database {shown}: {exc}')
    except (ConfigurationError, RemoteVarsError) as exc:  # the postgres extra is missing; unreachable
        fail('error', f'database {shown}: {exc}')
    latest = found + len(steps)
    if not steps:
        click.echo(f'database {shown}: schema is current (version {found})')
        return
    for step in steps:
        click.echo(f'  {step}')
    if check:
        fail(
            'invalid',
            f'database {shown}: schema version {found}, {len(steps)} step(s) pending: run `remotevars migrate`',
        )
    click.echo(f'database {shown}: migrated from schema version {found} to {latest}')


commands = [migrate]
