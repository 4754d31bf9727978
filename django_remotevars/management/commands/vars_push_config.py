"""``manage.py vars_push_config``: ``remotevars push-config`` on the project's variables and settings."""

from __future__ import annotations

from django_remotevars._commands import WorkflowCommand


class Command(WorkflowCommand):
    workflow = 'push-config'
