"""``manage.py vars_push``: push the schemas and descriptions of the declared variables (``remotevars push``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_remotevars import _commands
from remotevars import push


class Command(BaseCommand):
    help = 'Push the schemas and descriptions of variables declared in code to the server.'

    def add_arguments(self, parser: CommandParser) -> None:
        _commands.add_module_argument(parser)
        _commands.add_plan_arguments(parser)
        _commands.add_server_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        variables = _commands.registered_variables(options['modules'])
        console = _commands.console(self, options)
        with _commands.server(options) as api:
            outcome = push.run_push(
                variables, api, console, dry_run=options['dry_run'], yes=options['yes'], strict=options['strict']
            )
        _commands.finish(outcome)
