"""``remotevars serve``: run the self-hostable variables server (needs the ``server`` extra).

Server dependencies are imported inside the command, so the rest of the CLI works without them.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ['commands', 'serve']


def _keys(values: tuple[str, ...]) -> list[str]:
    # Each option value (or the environment variable) may hold several comma-separated keys.
    return [key.strip() for value in values for key in value.split(',') if key.strip()]


@click.command()
@click.option('--host', default='127.0.0.1', show_default=True, help='Interface to bind (loopback by default).')
@click.option('--port', default=8000, show_default=True, type=click.IntRange(0, 65535), help='TCP port.')
@click.option(
    '--db',
    'db_path',
    default='remotevars.sqlite3',
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help='SQLite database file (created if missing).',
)
@click.option(
    '--read-key',
    'read_keys',
    multiple=True,
    envvar='REMOTEVARS_SERVER_READ_KEYS',
    help='API key allowed to read (repeatable or comma-separated; env REMOTEVARS_SERVER_READ_KEYS).',
)
@click.option(
    '--write-key',
    'write_keys',
    multiple=True,
    envvar='REMOTEVARS_SERVER_WRITE_KEYS',
    help='API key allowed to read and write (repeatable or comma-separated; env REMOTEVARS_SERVER_WRITE_KEYS).',
)
@click.option(
    '--keepalive',
    default=15.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help='Seconds between keepalive comments on the SSE stream.',
)
@click.option('--allow-anonymous-read', is_flag=True, help='Let requests without a key read (not write).')
@click.option('--log-level', default='warning', show_default=True, help='uvicorn log level.')
def serve(
    host: str,
    port: int,
    db_path: Path,
    read_keys: tuple[str, ...],
    write_keys: tuple[str, ...],
    keepalive: float,
    allow_anonymous_read: bool,
    log_level: str,
) -> None:
    """Run the variables server (Logfire-compatible HTTP API, SQLite storage)."""
    try:
        from remotevars.server import create_app, make_server
    except ModuleNotFoundError as exc:
        click.echo(f'error: the server needs the "server" extra (pip install "remotevars[server]"): {exc}', err=True)
        raise SystemExit(2) from None
    reads, writes = _keys(read_keys), _keys(write_keys)
    if not writes and not reads and not allow_anonymous_read:
        click.echo(
            'error: no API keys configured: pass --read-key/--write-key or set REMOTEVARS_SERVER_*_KEYS', err=True
        )
        raise SystemExit(2)
    app = create_app(
        db_path,
        read_keys=reads,
        write_keys=writes,
        keepalive_interval=keepalive,
        allow_anonymous_read=allow_anonymous_read,
    )
    click.echo(f'remotevars server on http://{host}:{port} (database {db_path})', err=True)
    make_server(app, host=host, port=port, log_level=log_level).run()


commands = [serve]
