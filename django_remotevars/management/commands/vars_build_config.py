"""``manage.py vars_build_config [-o FILE]``: a config template of the declared variables.

The Django face of ``remotevars build-config``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_remotevars import _commands
from django_remotevars.management.commands.vars_pull import write_config
from remotevars import push
from remotevars._errors import RemoteVarsError


class Command(BaseCommand):
    help = 'Write a config template (name, description, schema, example) of the variables declared in code.'

    def add_arguments(self, parser: CommandParser) -> None:
        _commands.add_module_argument(parser)
        parser.add_argument('--output', '-o', metavar='FILE', help='Write the config here (default: stdout).')

    def handle(self, *args: Any, **options: Any) -> None:
        variables = _commands.registered_variables(options['modules'])
        try:
            config = push.variables_build_config(variables)
        except RemoteVarsError as exc:
            _commands.fail(str(exc), 1)
        write_config(self, config, options['output'])
