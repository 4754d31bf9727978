"""``manage.py vars_validate``: ``remotevars validate`` on the project's variables and settings."""

from __future__ import annotations

from django_remotevars._commands import WorkflowCommand


class Command(WorkflowCommand):
    workflow = 'validate'
