"""What the admin commands share: the ``--base-url``/``--api-key`` options, the API client and its failures.

A failure ends the command as every command ends (:mod:`._exit`): 1 refused by the server or invalid
input; 2 usage, connection or authentication (401/403) errors, and server failures (5xx). Its one
``Error: ...`` line never contains the API key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import click

from remotevars._api import ApiClient
from remotevars._errors import ApiConnectionError, ApiError, ConfigurationError, RemoteVarsError
from remotevars._outcome import api_failure_status
from remotevars.cli._exit import fail, warn

__all__ = ['api', 'connection_options', 'request_edit']

P = ParamSpec('P')
R = TypeVar('R')


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


@contextmanager
def api(base_url: str, api_key: str) -> Iterator[ApiClient]:
    """Yield a client; turn any failure into one ``Error:`` line and its exit code."""
    try:
        with ApiClient(base_url, api_key) as client:
            yield client
    except ApiConnectionError as exc:
        fail('error', f'cannot reach the server: {exc}')
    except ApiError as exc:
        fail(api_failure_status(exc), str(exc))
    except ConfigurationError as exc:  # an unusable --base-url
        fail('usage', str(exc))
    except RemoteVarsError as exc:
        fail('refused', str(exc))


def request_edit(client: ApiClient, method: str, api_path: str, body: Any = None) -> dict[str, Any]:
    """Send an edit request; return its JSON answer (``changed``, ``warnings``, ``variable``...)."""
    data: dict[str, Any] = client.request_json(method, api_path, json_body=body)
    for warning in data.get('warnings', []):
        warn(
            f'{warning["variable"]}: label {warning["label"]!r} (version {warning["version"]}) does not match'
            f' the json_schema at {warning["path"]}: {warning["message"]}'
        )
    return data
