"""``remotevars serve``: run the self-hostable variables server (needs the ``server`` extra).

Server dependencies are imported inside the command, so the rest of the CLI works without them; for the
same reason the limit options restate the defaults of ``remotevars.server.Limits`` (a test keeps them equal).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from remotevars._errors import ConfigurationError, RemoteVarsError
from remotevars.cli._exit import fail
from remotevars.cli.migrate import db_option

__all__ = ['LIMIT_OPTIONS', 'commands', 'serve']

F = TypeVar('F', bound=Callable[..., Any])

_COUNT = click.IntRange(min=1)
_SECONDS = click.FloatRange(min=0, min_open=True)

#: One option per field of ``remotevars.server.Limits``: (option, field, type, default, help).
LIMIT_OPTIONS: tuple[tuple[str, str, click.ParamType[Any], int | float | None, str], ...] = (
    ('--max-body-bytes', 'max_body_bytes', _COUNT, 2 * 1024 * 1024, 'Largest request body, in bytes (413).'),
    ('--max-json-depth', 'max_json_depth', _COUNT, 64, 'Deepest nesting of a body or a serialized_value (422).'),
    ('--max-pattern-length', 'max_pattern_length', _COUNT, 1_000, 'Longest regex pattern, in characters (422).'),
    (
        '--max-total-pattern-length',
        'max_total_pattern_length',
        _COUNT,
        10_000,
        'All regex patterns of one request, in characters (422).',
    ),
    ('--max-labels', 'max_labels', _COUNT, 100, 'Labels per variable (422).'),
    ('--max-overrides', 'max_overrides', _COUNT, 100, 'Overrides per variable (422).'),
    ('--max-name-length', 'max_name_length', _COUNT, 128, 'Longest variable or alias name (422).'),
    ('--max-label-length', 'max_label_length', _COUNT, 128, 'Longest label name (422).'),
    ('--header-timeout', 'header_timeout', _SECONDS, 10.0, 'Seconds a connection may take to send its headers.'),
    ('--body-timeout', 'body_timeout', _SECONDS, 30.0, 'Seconds a request body may take after its headers.'),
    ('--idle-timeout', 'idle_timeout', _SECONDS, 5.0, 'Seconds an idle keep-alive connection stays open.'),
    ('--max-header-bytes', 'max_header_bytes', _COUNT, 64 * 1024, 'Largest request line plus headers (431).'),
    (
        '--max-connections',
        'max_connections',
        _COUNT,
        None,
        'Open connections (default: 10,000, or the open-file limit minus 100 if lower).',
    ),
)


def _limit_options(command: F) -> F:
    for option, field, kind, default, help_text in reversed(LIMIT_OPTIONS):
        show = default is not None
        command = click.option(option, field, type=kind, default=default, show_default=show, help=help_text)(command)
    return command


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
@_limit_options
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
    **limit_values: Any,
) -> None:
    """Run the variables server (Logfire-compatible HTTP API; SQLite, or PostgreSQL for several instances)
    and its web console at /ui/.

    The limit options bound what a request may hold and how long a connection may take (docs/server.md,
    "Limits and hardening").
    """
    try:
        from remotevars.server import Limits, make_server
        from remotevars.server._keys_file import load_keys_file
        from remotevars.server._open import describe_db
        from remotevars.server._run import configure_server_process, freeze_start_up_objects
        from remotevars.server._workers import AppSettings, run_workers
    except ModuleNotFoundError as exc:
        fail('error', f'the server needs the "server" extra (pip install "remotevars[server]"): {exc}')
    reads, writes = _keys(read_keys), _keys(write_keys)
    try:
        named = [] if keys_file is None else load_keys_file(keys_file)
    except RemoteVarsError as exc:
        fail('usage', str(exc))
    if not named and not writes and not reads and not allow_anonymous_read:
        fail('usage', 'no API keys configured: pass --keys-file (or --read-key/--write-key, REMOTEVARS_SERVER_*_KEYS)')
    configure_server_process()  # before the connection cap is derived from the open-file limit
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
        limits=Limits(**limit_values),
    )
    shown = describe_db(db)
    try:
        # With workers too: start-up problems are reported once, here, and the schema is migrated once.
        app = settings.create_app()
    except ConfigurationError as exc:  # two keys with one name or one secret; the postgres extra is missing
        fail('usage', str(exc))
    except RemoteVarsError as exc:  # the database cannot be opened, is outdated (--no-migrate) or newer than this code
        fail('error', f'database {shown}: {exc}')
    processes = f', {workers} workers' if workers > 1 else ''
    console = '' if no_ui else f', console on http://{host}:{port}/ui/'
    click.echo(f'remotevars server on http://{host}:{port} (database {shown}{processes}){console}', err=True)
    if workers == 1:
        server = make_server(app, host=host, port=port, log_level=log_level)
        freeze_start_up_objects()
        server.run()
        return
    app.state.store.close()
    run_workers(settings, workers, host=host, port=port, log_level=log_level)


commands = [serve]
