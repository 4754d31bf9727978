"""What the admin commands share: the ``--base-url``/``--api-key`` options, the API client, failures and exit codes.

Exit codes: 0 done or nothing to do; 1 refused by the server or invalid input; 2 usage, connection or
authentication (401/403) errors, and server failures (5xx). A failure is exactly one ``Error: ...``
line on stderr (nothing on stdout), which never contains the API key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, ParamSpec, TypeVar
from urllib.parse import quote

import click

from remotevars._api import ApiClient
from remotevars._errors import ApiConnectionError, ApiError, ConfigurationError, RemoteVarsError

__all__ = ['EXIT_REFUSED', 'EXIT_USAGE', 'api', 'connection_options', 'fail', 'path', 'request_edit', 'warn']

P = ParamSpec('P')
R = TypeVar('R')

EXIT_REFUSED = 1
EXIT_USAGE = 2


def fail(message: str, code: int) -> NoReturn:
    """Print ``Error: <message>`` (one line) on stderr and exit with ``code``."""
    click.echo(f'Error: {" ".join(message.split())}', err=True)
    raise SystemExit(code)


def warn(message: str) -> None:
    """Print ``Warning: <message>`` (one line) on stderr; the command still succeeds."""
    click.echo(f'Warning: {" ".join(message.split())}', err=True)


def connection_options(command: Callable[P, R]) -> Callable[P, R]:
    """Add ``--base-url`` and ``--api-key`` (env ``REMOTEVARS_BASE_URL``, ``REMOTEVARS_API_KEY``) to a command."""
    command = click.option(
        '--api-key',
        envvar='REMOTEVARS_API_KEY',
        required=True,
        help='API key (env REMOTEVARS_API_KEY); a write key for changes.',
    )(command)
    return click.option(
        '--base-url',
        envvar='REMOTEVARS_BASE_URL',
        required=True,
        help='Server origin, e.g. http://127.0.0.1:8000 (env REMOTEVARS_BASE_URL).',
    )(command)


def _exit_code(exc: ApiError) -> int:
    if exc.status is None or exc.status in (401, 403) or exc.status >= 500:
        return EXIT_USAGE
    return EXIT_REFUSED


@contextmanager
def api(base_url: str, api_key: str) -> Iterator[ApiClient]:
    """Yield a client; turn any failure into one ``Error:`` line and its exit code."""
    try:
        with ApiClient(base_url, api_key) as client:
            yield client
    except ApiConnectionError as exc:
        fail(f'cannot reach the server: {exc}', EXIT_USAGE)
    except ApiError as exc:
        fail(str(exc), _exit_code(exc))
    except ConfigurationError as exc:  # an unusable --base-url
        fail(str(exc), EXIT_USAGE)
    except RemoteVarsError as exc:
        fail(str(exc), EXIT_REFUSED)


def path(name: str, *rest: str | int) -> str:
    """Return the API path of variable ``name`` (and of a sub-resource: ``path('v', 'labels', 'prod')``)."""
    parts = [quote(name, safe=''), *(quote(str(p), safe='') for p in rest)]
    return '/v1/variables/' + '/'.join(parts) + '/'


def request_edit(client: ApiClient, method: str, api_path: str, body: Any = None) -> dict[str, Any]:
    """Send an edit request; return its JSON answer (``changed``, ``warnings``, ``variable``...)."""
    data: dict[str, Any] = client.request_json(method, api_path, json_body=body)
    for warning in data.get('warnings', []):
        warn(
            f'{warning["variable"]}: label {warning["label"]!r} (version {warning["version"]}) does not match'
            f' the json_schema at {warning["path"]}: {warning["message"]}'
        )
    return data
