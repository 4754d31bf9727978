"""``manage.py vars_status``: the source in use, connection and update-stream state, last refresh, and each
variable's served labels and versions (the same text as the status page and ``flask vars status``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_remotevars import _commands, conf
from remotevars._status import client_report, format_report


class Command(BaseCommand):
    help = 'Show where remote variables come from, whether the server is reachable, and what each variable serves.'

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            '--timeout',
            type=float,
            default=None,
            help='Seconds to wait for the first config (default: REMOTEVARS_FIRST_RESOLVE_TIMEOUT).',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        client = _commands.started_client()
        timeout = options['timeout']
        if timeout is None:
            timeout = float(conf.get('REMOTEVARS_FIRST_RESOLVE_TIMEOUT'))
        client.wait_for_first_config(timeout)
        self.stdout.write(format_report(client_report(client)))
