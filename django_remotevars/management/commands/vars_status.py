"""``manage.py vars_status``: where the variables come from and what each serves (as ``flask vars status``).

Exits 0 only when a source is configured, its config is loaded and the server answers: usable as a
deploy health check (see docs/django.md).
"""

from __future__ import annotations

from django_remotevars._commands import WorkflowCommand


class Command(WorkflowCommand):
    workflow = 'status'
