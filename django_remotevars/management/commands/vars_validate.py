"""``manage.py vars_validate``: check that every server value still fits its type in code (``remotevars validate``).

Exit 1 when something does not fit (or a variable is missing on the server), 2 when the server cannot be read.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_remotevars import _commands
from remotevars import push
from remotevars._errors import RemoteVarsError


class Command(BaseCommand):
    help = 'Check that every server value of the variables still fits their types in code (exit 1 if not).'

    def add_arguments(self, parser: CommandParser) -> None:
        _commands.add_module_argument(parser)
        _commands.add_server_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        variables = _commands.registered_variables(options['modules'])
        console = _commands.console(self, options, can_prompt=False)
        with _commands.server(options) as api:
            try:
                report = push.variables_validate(variables, api=api)
            except RemoteVarsError as exc:
                _commands.fail(f'cannot fetch the server config: {exc}', 2)
        console.print(report.format(colors=console.colors))
        if report.has_errors:
            problems = len({e.variable_name for e in report.errors}) + len(report.variables_not_on_server)
            _commands.fail(f'validation failed: {problems} issue(s) found', 1)
