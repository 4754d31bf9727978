"""What the ``vars_*`` management commands share, as a thin layer over ``remotevars.push``.

The commands take the flags of the ``remotevars`` command line (``--dry-run``, ``--yes``, ``--no-input``,
``--strict``, ``--base-url``, ``--api-key``, ``--module``...) and end the same way: the same printed
output and exit codes (0 clean, 1 validation errors or a refused plan, 2 usage or connection errors),
non-zero ones as a one-line ``CommandError``. The server defaults to the ``REMOTEVARS_*`` settings.
"""

from __future__ import annotations

import importlib
from argparse import ArgumentParser
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, TextIO, cast

from django.core.management.base import BaseCommand, CommandError

import remotevars
from django_remotevars import _runtime, conf
from remotevars import push
from remotevars._api import ApiClient
from remotevars._errors import ConfigurationError

__all__ = [
    'CommandStream',
    'add_module_argument',
    'add_plan_arguments',
    'add_server_arguments',
    'console',
    'fail',
    'finish',
    'import_modules',
    'registered_variables',
    'server',
    'started_client',
]


class CommandStream:
    """A command's stdout as a plain text stream: ``print()`` through Django's wrapper adds no newlines."""

    def __init__(self, command: BaseCommand) -> None:
        self._wrapper = command.stdout

    def write(self, text: str) -> int:
        self._wrapper.write(text, ending='')
        return len(text)

    def flush(self) -> None:
        self._wrapper.flush()

    def isatty(self) -> bool:
        return bool(self._wrapper.isatty())


def fail(reason: str, code: int) -> NoReturn:
    """Raise the ``CommandError`` ending a command with exit ``code`` and ``reason`` on one line."""
    raise CommandError(' '.join(reason.split()), returncode=code)


def finish(outcome: push.Outcome) -> None:
    """End a command as the ``remotevars`` command line does for ``outcome`` (raises unless clean)."""
    if outcome.exit_code:
        fail(outcome.reason or outcome.status, outcome.exit_code)


def add_server_arguments(parser: ArgumentParser) -> None:
    """Add ``--base-url`` and ``--api-key`` (defaults: the ``REMOTEVARS_*`` settings, then the environment)."""
    parser.add_argument('--base-url', help='Base URL of the variables server (default: REMOTEVARS_BASE_URL).')
    parser.add_argument('--api-key', help='API key of the variables server (default: REMOTEVARS_API_KEY).')


def add_plan_arguments(parser: ArgumentParser, *, strict: bool = True) -> None:
    """Add ``--dry-run``, ``--yes``/``-y``, ``--no-input`` (and ``--strict``)."""
    parser.add_argument('--dry-run', action='store_true', help='Show the plan, change nothing.')
    parser.add_argument('--yes', '-y', action='store_true', help='Apply without asking for confirmation.')
    parser.add_argument('--no-input', action='store_true', help='Never prompt; refuse a plan that needs confirmation.')
    if strict:
        parser.add_argument(
            '--strict', action='store_true', help='Refuse when a server value would not fit the new type.'
        )


def add_module_argument(parser: ArgumentParser) -> None:
    """Add ``--module``/``-m`` (extra modules to import besides the discovered ones)."""
    parser.add_argument(
        '--module',
        '-m',
        dest='modules',
        action='append',
        default=[],
        metavar='MODULE',
        help='Also import this module to register its variables (repeatable).',
    )


def import_modules(modules: Sequence[str]) -> None:
    """Import each module; raises ``CommandError`` (exit 2) naming one that fails."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            fail(f'cannot import module {name!r}: {type(exc).__name__}: {exc}', 2)


def registered_variables(modules: Sequence[str]) -> list[remotevars.Variable[Any]]:
    """Return the registered variables (after importing ``modules``); raises ``CommandError`` when none."""
    import_modules(modules)
    variables = remotevars.get_client().variables()
    if not variables:
        fail(
            "no variables are registered: declare them in an app's variables.py, list their modules in "
            'REMOTEVARS_MODULES, or name them with --module',
            2,
        )
    return variables


def console(command: BaseCommand, options: dict[str, Any], *, can_prompt: bool = True) -> push.Console:
    """Return the workflow console printing to the command's stdout (colours follow ``--no-color`` etc.)."""
    colors = False if options.get('no_color') else (True if options.get('force_color') else None)
    prompt = False if options.get('no_input') or not can_prompt else None
    return push.make_console(cast(TextIO, CommandStream(command)), colors, None, can_prompt=prompt)


@contextmanager
def server(options: dict[str, Any]) -> Iterator[ApiClient]:
    """Yield the API client for ``--base-url``/``--api-key`` or the settings; bad ones end the command (exit 2)."""
    base_url = options.get('base_url') or conf.get('REMOTEVARS_BASE_URL') or None
    api_key = options.get('api_key') or conf.get('REMOTEVARS_API_KEY') or None
    try:
        with push.connect(remotevars.get_client(), base_url=base_url, api_key=api_key) as api:
            yield api
    except ConfigurationError as exc:
        fail(str(exc), 2)


def started_client() -> remotevars.Client:
    """Start the refresh from the settings; raises ``CommandError`` (exit 2) for unusable settings."""
    try:
        return _runtime.start()
    except ConfigurationError as exc:
        fail(str(exc), 2)
