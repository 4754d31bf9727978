"""The base of the ``vars_*`` management commands: the core's workflow commands behind Django's parser.

Each command module names its workflow (``workflow = 'push'``); :class:`WorkflowCommand` turns the core's
options (:data:`remotevars._commands.COMMANDS`) into argparse arguments, and ``handle()`` is one call to
:func:`remotevars._commands.run_command`. The output, flags, rules and exit codes are therefore those of
``remotevars push`` and ``flask vars push``: 0 done, 1 refused or invalid, 2 usage, connection,
authentication or server failure, a non-zero one with one line ``Error: <reason>`` on stderr. The variables are the
discovered ones, the server defaults to the ``REMOTEVARS_*`` settings.
"""

from __future__ import annotations

import argparse
from typing import Any, ClassVar, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

import remotevars
from django_remotevars import _runtime, conf
from remotevars._commands import Adapter, Option, run_command, workflow_command

__all__ = ['CommandStream', 'Error', 'WorkflowCommand', 'adapter']


class Error(CommandError):
    """A command's failure; Django prints the class name before the message, hence ``Error: <reason>``."""


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


def adapter() -> Adapter:
    """Where the Django commands find things: the default client (discovered variables) and the settings."""
    return Adapter(
        client=remotevars.get_client,
        settings=conf.remotevars_settings,
        declare_hint=(
            "declare them in an app's variables.py, list their modules in REMOTEVARS_MODULES, "
            'or name them with --module'
        ),
        start=_runtime.start,
    )


def _add_argument(parser: CommandParser, option: Option) -> None:
    common: dict[str, Any] = {'dest': option.dest, 'help': option.help}
    if option.kind == 'flag':
        parser.add_argument(*option.flags, action='store_true', **common)
    elif option.kind == 'switch':
        parser.add_argument(*option.flags, action=argparse.BooleanOptionalAction, default=option.default, **common)
    elif option.kind == 'many':
        parser.add_argument(*option.flags, action='append', default=[], metavar=option.metavar, **common)
    elif option.kind == 'choice':
        parser.add_argument(*option.flags, choices=option.choices, default=option.default, **common)
    else:
        kind = float if option.kind == 'seconds' else str
        parser.add_argument(*option.flags, type=kind, default=option.default, metavar=option.metavar, **common)


class WorkflowCommand(BaseCommand):
    """A ``vars_*`` command: set ``workflow`` to the core command's name."""

    workflow: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.help = workflow_command(cls.workflow).help

    def add_arguments(self, parser: CommandParser) -> None:
        for option in workflow_command(self.workflow).options:
            _add_argument(parser, option)

    def handle(self, *args: Any, **options: Any) -> None:
        colors = False if options.get('no_color') else (True if options.get('force_color') else None)
        outcome = run_command(
            workflow_command(self.workflow), options, adapter(), out=cast(TextIO, CommandStream(self)), colors=colors
        )
        if outcome.exit_code:
            raise Error(outcome.reason or outcome.status, returncode=outcome.exit_code)
