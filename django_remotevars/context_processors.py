"""The ``remotevars`` template context: ``{{ remotevars.banner_text }}``, ``{{ remotevars.agent_config.model }}``.

Enable ``django_remotevars.context_processors.remotevars`` in ``TEMPLATES[...]['OPTIONS']['context_processors']``.
Each lookup reads the variable with the request's targeting and pinned snapshot (set by the middleware).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

import remotevars as _remotevars

__all__ = ['VariableValues', 'remotevars']


class VariableValues:
    """Reads registered variables by name, as items or attributes; an unknown name is a missing key."""

    __slots__ = ('_client',)

    def __init__(self, client: _remotevars.Client) -> None:
        self._client = client

    def __getitem__(self, name: str) -> Any:
        variable = self._client.get_variable(name)
        if variable is None:
            raise KeyError(name)
        return variable.get().value

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._client.get_variable(name) is not None

    def __repr__(self) -> str:
        return f'<remotevars values: {", ".join(v.name for v in self._client.variables())}>'


_VALUES = VariableValues(_remotevars.get_client())


def remotevars(request: HttpRequest) -> dict[str, Any]:
    """Return ``{'remotevars': ...}``: lazy access to every registered variable's value."""
    return {'remotevars': _VALUES}
