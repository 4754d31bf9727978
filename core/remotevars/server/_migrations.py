"""Forward-only schema migrations, for any backend: numbered steps, each applied in its own transaction.

A backend supplies a :class:`MigrationTarget` (an exclusive transaction on its connection type, and
where it records the schema version) and its list of :class:`Migration` steps numbered 1..N. The
runner re-reads the version inside each transaction, so several processes starting at once each apply
a step at most once; a database newer than the code is refused, never touched. A backend's target
may serialise more than its writers (PostgreSQL takes an advisory lock), so that schema changes by
several instances starting at once never run side by side.

:func:`pending_steps` and :func:`check_version` are for processes that must not migrate
(``remotevars migrate --check``, ``remotevars serve --no-migrate``, readiness checks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from remotevars._errors import RemoteVarsError

__all__ = [
    'Migration',
    'MigrationTarget',
    'SchemaOutdated',
    'SchemaTooNew',
    'check_version',
    'migrate',
    'pending_steps',
]

C = TypeVar('C')


class SchemaTooNew(RemoteVarsError):
    """The database was written by a newer remotevars (its schema version is above what this code knows)."""


class SchemaOutdated(RemoteVarsError):
    """The database's schema is older than this code's and was not to be migrated here (``remotevars migrate``)."""


@dataclass(frozen=True, slots=True)
class Migration(Generic[C]):
    """Step ``version``: what it changes (``description``) and the function applying it on a connection."""

    version: int
    description: str
    apply: Callable[[C], None]


class MigrationTarget(Protocol[C]):
    """A database the runner migrates."""

    def exclusive(self) -> AbstractContextManager[C]:
        """Return a context manager for one transaction that no other writer runs beside; commit on a clean exit."""
        ...

    def schema_version(self, connection: C) -> int:
        """Return the recorded schema version (0: an empty database)."""
        ...

    def set_schema_version(self, connection: C, version: int) -> None:
        """Record ``version`` as the schema version."""
        ...


def check_version(current: int, migrations: Sequence[Migration[C]]) -> None:
    """Return if schema version ``current`` is the last of ``migrations``.

    Raises :class:`SchemaOutdated` (steps are pending: run ``remotevars migrate``) or :class:`SchemaTooNew`.
    """
    if current > len(migrations):
        raise _too_new(current, len(migrations))
    if current < len(migrations):
        pending = ', '.join(str(m.version) for m in migrations[current:])
        raise SchemaOutdated(
            f'the database has schema version {current}, and this remotevars needs {len(migrations)} '
            f'(pending steps: {pending}): run `remotevars migrate`'
        )


def pending_steps(target: MigrationTarget[C], migrations: Sequence[Migration[C]]) -> list[Migration[C]]:
    """Return the steps ``target`` still needs, changing nothing. Raises :class:`SchemaTooNew`."""
    with target.exclusive() as connection:
        current = target.schema_version(connection)
    if current > len(migrations):
        raise _too_new(current, len(migrations))
    return list(migrations[current:])


def _too_new(current: int, known: int) -> SchemaTooNew:
    return SchemaTooNew(
        f'the database has schema version {current}, and this remotevars knows versions up to '
        f'{known}: upgrade remotevars (a database is never migrated backwards)'
    )


def migrate(target: MigrationTarget[C], migrations: Sequence[Migration[C]]) -> list[Migration[C]]:
    """Bring ``target`` to the last of ``migrations`` (numbered 1..N in order); return the steps applied here.

    Raises :class:`SchemaTooNew` when the database is past N, ``ValueError`` for a mis-numbered list,
    and whatever a step raises (that step is rolled back; the ones before it stay).
    """
    if [m.version for m in migrations] != list(range(1, len(migrations) + 1)):
        raise ValueError('migrations must be numbered 1..N in order')
    applied: list[Migration[C]] = []
    while True:
        with target.exclusive() as connection:
            current = target.schema_version(connection)
            if current > len(migrations):
                raise _too_new(current, len(migrations))
            if current == len(migrations):
                return applied
            step = migrations[current]
            step.apply(connection)
            target.set_schema_version(connection, step.version)
        applied.append(step)
