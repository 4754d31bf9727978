"""``REMOTEVARS_ATTRIBUTES``: the attributes rollout overrides match on."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

#: Members of this group are on the enterprise plan.
ENTERPRISE_GROUP = 'enterprise'


def request_attributes(request: HttpRequest) -> dict[str, Any]:
    """Return ``{'plan': 'enterprise' | 'free'}`` for a signed-in user, nothing for a visitor."""
    user = getattr(request, 'user', None)
    if user is None or not user.is_authenticated:
        return {}
    enterprise = user.groups.filter(name=ENTERPRISE_GROUP).exists()
    return {'plan': 'enterprise' if enterprise else 'free'}
