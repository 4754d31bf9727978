"""REMOTEVARS_ATTRIBUTES of the test project: the request's attributes for rollout overrides."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def request_attributes(request: HttpRequest) -> dict[str, Any]:
    """Return ``{'plan': ...}`` from the ``plan`` query parameter, when given."""
    plan = request.GET.get('plan')
    return {} if plan is None else {'plan': plan}
