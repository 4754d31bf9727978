"""``manage.py vars_push_types``: ``remotevars push-types`` on the project's variables and settings."""

from __future__ import annotations

from django_remotevars._commands import WorkflowCommand


class Command(WorkflowCommand):
    workflow = 'push-types'
