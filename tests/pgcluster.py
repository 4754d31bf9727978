"""A throwaway PostgreSQL server for the tests and benchmarks: a cluster in a temporary directory on 127.0.0.1.

Uses the binaries of Debian's ``postgresql`` package (``initdb``, ``pg_ctl``: on the PATH, or under
/usr/lib/postgresql/N/bin; ``make test`` installs the package when missing). PostgreSQL refuses to run
as root, so as root the cluster belongs to the ``postgres`` user and its commands run through
``runuser``. Durability is off (``fsync``, ``synchronous_commit``, ``full_page_writes``): the data is
thrown away, and starting takes about a second.

- ``postgres_cluster()``: a context manager yielding a started :class:`PostgresCluster` (stopped and
  removed on exit); raises :class:`PostgresUnavailable` saying why it cannot start.
- :meth:`PostgresCluster.create_database` returns the URL of a new empty database.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ['PostgresCluster', 'PostgresUnavailable', 'find_bin_dir', 'postgres_cluster']

_SETTINGS = {
    'listen_addresses': '127.0.0.1',
    'unix_socket_directories': '',
    'fsync': 'off',
    'synchronous_commit': 'off',
    'full_page_writes': 'off',
    'max_connections': '300',
    'shared_buffers': '64MB',
}


class PostgresUnavailable(Exception):
    """No PostgreSQL server could be started here (binaries missing, or the start failed)."""


def find_bin_dir() -> Path | None:
    """Return the directory of ``initdb`` and ``pg_ctl`` (the newest Debian version), or None."""
    on_path = shutil.which('initdb')
    if on_path and shutil.which('pg_ctl'):
        return Path(on_path).resolve().parent
    candidates = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'), key=lambda p: int(Path(p).parts[-3]))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    """A PostgreSQL cluster in ``root`` (a fresh directory), listening on 127.0.0.1:``port``."""

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.port = port
        self.data = root / 'data'
        self.log = root / 'server.log'
        self._names = itertools.count(1)
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ['runuser', '-u', 'postgres', '--', *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise PostgresUnavailable(f'{" ".join(args[:1])} failed ({result.returncode}): {result.stderr.strip()}')

    def start(self) -> None:
        """Create the cluster and start the server; returns once it accepts connections."""
        if self._as_postgres:
            shutil.chown(self.root, 'postgres', 'postgres')
        self._run('initdb', '-D', str(self.data), '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8')
        options = ' '.join(f"-c {key}='{value}'" for key, value in _SETTINGS.items())
        options += f' -p {self.port}'
        self._run('pg_ctl', '-D', str(self.data), '-l', str(self.log), '-o', options, '-w', '-t', '60', 'start')

    def stop(self) -> None:
        """Stop the server at once (its data is thrown away)."""
        with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
            self._run('pg_ctl', '-D', str(self.data), '-m', 'immediate', '-w', 'stop', timeout=30)

    def url(self, database: str = 'postgres') -> str:
        """Return the connection URL of ``database``."""
        return f'postgresql://postgres@127.0.0.1:{self.port}/{database}'

    def create_database(self, prefix: str = 'test') -> str:
        """Create a new empty database; return its URL."""
        import psycopg

        name = f'{prefix}_{next(self._names)}'
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE {name}')
        return self.url(name)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Yield a started cluster; stop and remove it on exit. Raises :class:`PostgresUnavailable`."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable('initdb/pg_ctl not found (apt-get install postgresql)')
    if os.geteuid() == 0 and shutil.which('runuser') is None:
        raise PostgresUnavailable('running as root without runuser, and PostgreSQL refuses to run as root')
    # Not under pytest's tmp_path: as root that is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix='remotevars-pg-'))
    cluster = PostgresCluster(bin_dir, root, _free_port())
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
