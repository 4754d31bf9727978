"""``manage.py vars_pull [-o FILE]``: write the server's whole config as JSON (``remotevars pull``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_remotevars import _commands
from remotevars import push
from remotevars._errors import RemoteVarsError
from remotevars.config import VariablesConfig


def write_config(command: BaseCommand, config: VariablesConfig, output: str | None) -> None:
    """Write ``config`` as indented JSON to ``output`` (stdout for None or ``-``); raises ``CommandError``."""
    text = config.model_dump_json(indent=2)
    if output is None or output == '-':
        command.stdout.write(text)
        return
    try:
        Path(output).write_text(text + '\n', encoding='utf-8')
    except OSError as exc:
        _commands.fail(f'cannot write {output}: {exc}', 2)


class Command(BaseCommand):
    help = "Write the server's whole config (labels, versions, rollouts) as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument('--output', '-o', metavar='FILE', help='Write the config here (default: stdout).')
        _commands.add_server_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        with _commands.server(options) as api:
            try:
                config = push.variables_pull_config(api=api)
            except RemoteVarsError as exc:
                _commands.fail(f'cannot fetch the server config: {exc}', 2)
        write_config(self, config, options['output'])
