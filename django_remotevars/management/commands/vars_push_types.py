"""``manage.py vars_push_types --type app.module:Model``: push reusable type schemas (``remotevars push-types``)."""

from __future__ import annotations

import importlib
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_remotevars import _commands
from remotevars import push


def load_type(spec: str) -> Any:
    """Return the type named by ``module:Name`` (or ``(type, name)`` for ``module:Name=explicit``).

    Raises ``CommandError`` (exit 2) for a malformed or unimportable spec.
    """
    target, _, explicit = spec.partition('=')
    module_name, sep, attribute = target.partition(':')
    if not sep or not module_name or not attribute:
        _commands.fail(f'--type {spec!r}: expected module:Name or module:Name=explicit_name', 2)
    _commands.import_modules([module_name])
    found: Any = importlib.import_module(module_name)
    for part in attribute.split('.'):
        try:
            found = getattr(found, part)
        except AttributeError:
            _commands.fail(f'--type {spec!r}: module {module_name!r} has no attribute {attribute!r}', 2)
    return (found, explicit) if explicit else found


class Command(BaseCommand):
    help = 'Push reusable type schemas (pydantic models and other types) to the server.'

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            '--type',
            dest='type_specs',
            action='append',
            required=True,
            metavar='MODULE:NAME[=EXPLICIT]',
            help='A type to push, optionally under an explicit name (repeatable).',
        )
        _commands.add_plan_arguments(parser)
        _commands.add_server_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        types = [load_type(spec) for spec in options['type_specs']]
        console = _commands.console(self, options)
        with _commands.server(options) as api:
            outcome = push.run_push_types(
                types, api, console, dry_run=options['dry_run'], yes=options['yes'], strict=options['strict']
            )
        _commands.finish(outcome)
