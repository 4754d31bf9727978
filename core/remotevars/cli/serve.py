"""``remotevars serve``: run the self-hostable variables server (needs the ``server`` extra).

Server dependencies are imported inside the command, so the rest of the CLI works without them.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import NoReturn

import click

from remotevars._errors import ConfigurationError, RemoteVarsError
from remotevars.cli.migrate import db_option

__all__ = ['commands', 'serve']


def _fail(message: str) -> NoReturn:
    click.echo(f'Error: {message}', err=True)
    raise SystemExit(2)


def _keys(values: tuple[str, ...]) -> list[str]:
    # Each option value (or the environment variable) may hold several comma-separated keys.
    return [key.strip() for value in values for key in value.split(',') if key.strip()]


@click.command()
@click.option('--host', default='127.0.0.1', show_default=True, help='Interface to bind (loopback by default).')
@click.option('--port', default=8000, show_default=True, type=click.IntRange(0, 65535), help='TCP port.')
@db_option
@click.option(
    '--keys-file',
    type=click.Path(dir_okay=False, path_type=Path),
    envvar='REMOTEVARS_SERVER_KEYS_FILE',
    help='TOML file of named keys (recommended: no secret on the command line; env REMOTEVARS_SERVER_KEYS_FILE).',
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
@click.option('--no-ui', 'no_ui', is_flag=True, help='Do not serve the web console at /ui/.')
@click.option(
    '--session-secret',
    envvar='REMOTEVARS_SERVER_SESSION_SECRET',
    help="Secret signing the console's session cookies (default: random, so a restart signs everybody out; "
    'env REMOTEVARS_SERVER_SESSION_SECRET).',
)
@click.option('--log-level', default='warning', show_default=True, help='uvicorn log level.')
@click.option(
    '--workers',
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes serving the port; each follows the others' commits.",
)
@click.option('--no-migrate', is_flag=True, help='Refuse an outdated schema rather than migrate it (see migrate).')
def serve(
    host: str,
    port: int,
    db: str,
    keys_file: Path | None,
    read_keys: tuple[str, ...],
    write_keys: tuple[str, ...],
    keepalive: float,
    allow_anonymous_read: bool,
    no_ui: bool,
    session_secret: str | None,
    log_level: str,
    workers: int,
    no_migrate: bool,
) -> None:
    """Run the variables server (Logfire-compatible HTTP API; SQLite, or PostgreSQL for several instances)
    and its web console at /ui/."""
    try:
        from remotevars.server import make_server
        from remotevars.server._keys_file import load_keys_file
        from remotevars.server._open import describe_db
        from remotevars.server._workers import AppSettings, run_workers
    except ModuleNotFoundError as exc:
        _fail(f'the server needs the "server" extra (pip install "remotevars[server]"): {exc}')
    reads, writes = _keys(read_keys), _keys(write_keys)
    try:
        named = [] if keys_file is None else load_keys_file(keys_file)
    except RemoteVarsError as exc:
        _fail(str(exc))
    if not named and not writes and not reads and not allow_anonymous_read:
        _fail('no API keys configured: pass --keys-file (or --read-key/--write-key, REMOTEVARS_SERVER_*_KEYS)')
    settings = AppSettings(
        db=db,
        keys=tuple(named),
        read_keys=tuple(reads),
        write_keys=tuple(writes),
        keepalive_interval=keepalive,
        allow_anonymous_read=allow_anonymous_read,
        migrate=not no_migrate,
        ui=not no_ui,
        # Every worker signs console sessions with the same secret, or a session would work on one only.
        session_secret=session_secret or (secrets.token_urlsafe(32) if workers > 1 and not no_ui else None),
    )
    shown = describe_db(db)
    try:
        # With workers too: start-up problems are reported once, here, and the schema is migrated once.
        app = settings.create_app()
    except ConfigurationError as exc:  # two keys with one name or one secret; the postgres extra is missing
        _fail(str(exc))
    except RemoteVarsError as exc:  # the database cannot be opened, is outdated (--no-migrate) or newer than this code
        _fail(f'database {shown}: {exc}')
    processes = f', {workers} workers' if workers > 1 else ''
    console = '' if no_ui else f', console on http://{host}:{port}/ui/'
    click.echo(f'remotevars server on http://{host}:{port} (database {shown}{processes}){console}', err=True)
    if workers == 1:
        make_server(app, host=host, port=port, log_level=log_level).run()
        return
    app.state.store.close()
    run_workers(settings, workers, host=host, port=port, log_level=log_level)


commands = [serve]
