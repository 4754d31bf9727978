"""Which store a ``--db`` value names: a PostgreSQL URL (``postgresql://...``) or a SQLite file path.

The PostgreSQL backend needs the ``postgres`` extra (psycopg, psycopg-pool); it is imported only when a
URL asks for it, so SQLite servers run without it.
"""

from __future__ import annotations

import re
from pathlib import Path

from remotevars._errors import ConfigurationError
from remotevars.server._storage import Store

__all__ = ['describe_db', 'is_postgres_url', 'migration_status', 'open_store']

_POSTGRES_SCHEMES = ('postgresql://', 'postgres://')
_PASSWORD = re.compile(r'^(?P<head>[a-z]+://[^:/@]*:)[^@]*(?P<at>@)')
_PASSWORD_PARAMETER = re.compile(r'(?P<head>[?&]password=)[^&]*')


def is_postgres_url(db: str | Path) -> bool:
    """Return whether ``db`` is a PostgreSQL connection URL (else it is a SQLite path)."""
    return isinstance(db, str) and db.startswith(_POSTGRES_SCHEMES)


def describe_db(db: str | Path) -> str:
    """Return ``db`` as it may be shown in logs and messages: a URL's password replaced by ``***``."""
    return _PASSWORD_PARAMETER.sub(r'\g<head>***', _PASSWORD.sub(r'\g<head>***\g<at>', str(db)))


def _missing_extra(exc: ModuleNotFoundError) -> ConfigurationError:
    return ConfigurationError(
        f'a PostgreSQL database needs the "postgres" extra (pip install "remotevars[postgres]"): {exc}'
    )


def open_store(db: str | Path, *, migrate: bool = True) -> Store:
    """Open the store ``db`` names, migrating its schema forward unless ``migrate`` is False.

    Raises :class:`~remotevars.ConfigurationError` (the ``postgres`` extra is missing),
    :class:`~._storage.StorageUnavailable` and the errors of :mod:`._migrations`.
    """
    if is_postgres_url(db):
        try:
            from remotevars.server._postgres import PostgresStore
        except ModuleNotFoundError as exc:
            raise _missing_extra(exc) from None
        return PostgresStore(str(db), migrate=migrate)
    from remotevars.server._sqlite import SQLiteStore

    return SQLiteStore(db, migrate=migrate)


def migration_status(db: str | Path, *, apply: bool) -> tuple[int, list[str]]:
    """Return the schema version of ``db`` before, and the steps applied (``apply``) or pending, described.

    Raises like :func:`open_store`.
    """
    if is_postgres_url(db):
        try:
            from remotevars.server._postgres import migration_status as postgres_status
        except ModuleNotFoundError as exc:
            raise _missing_extra(exc) from None
        found, steps = postgres_status(str(db), apply=apply)
        return found, [f'{step.version}: {step.description}' for step in steps]
    from remotevars.server._sqlite import migration_status as sqlite_status

    found_in_file, file_steps = sqlite_status(db, apply=apply)
    return found_in_file, [f'{step.version}: {step.description}' for step in file_steps]
