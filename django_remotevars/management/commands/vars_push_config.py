"""``manage.py vars_push_config -i FILE``: push whole configs (labels, rollouts, overrides).

The Django face of ``remotevars push-config``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

from django.core.management.base import BaseCommand, CommandParser
from pydantic import ValidationError

from django_remotevars import _commands
from remotevars import push
from remotevars.config import VariablesConfig


def read_config(path: str | None) -> VariablesConfig:
    """Read a config from ``path`` (stdin for None or ``-``); raises ``CommandError`` (exit 2) saying what is wrong."""
    try:
        raw = sys.stdin.read() if path is None or path == '-' else Path(path).read_text(encoding='utf-8')
    except OSError as exc:
        _commands.fail(f'cannot read {path}: {exc}', 2)
    try:
        return VariablesConfig.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = '.'.join(str(p) for p in first['loc'])
        source = path or 'stdin'
        _commands.fail(
            f'{source} is not a valid variables config ({exc.error_count()} error(s)); {where}: {first["msg"]}', 2
        )


class Command(BaseCommand):
    help = 'Push whole variable configs (labels, rollouts, overrides) from a JSON file.'

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            '--input', '-i', dest='input_path', metavar='FILE', help='The config file to push (default: stdin).'
        )
        parser.add_argument(
            '--mode',
            choices=['merge', 'replace'],
            default='merge',
            help='replace also deletes server variables missing from the file (default: merge).',
        )
        _commands.add_plan_arguments(parser, strict=False)
        _commands.add_server_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        input_path = options['input_path']
        config = read_config(input_path)
        # A config read from stdin leaves no terminal to answer a prompt on.
        console = _commands.console(self, options, can_prompt=input_path not in (None, '-'))
        mode: Literal['merge', 'replace'] = 'replace' if options['mode'] == 'replace' else 'merge'
        with _commands.server(options) as api:
            outcome = push.run_push_config(
                config, api, console, mode=mode, dry_run=options['dry_run'], yes=options['yes']
            )
        _commands.finish(outcome)
