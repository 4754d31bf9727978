"""The flat ``REMOTEVARS_*`` settings as Django sees them: read lazily, cached, re-read on ``setting_changed``.

Names and defaults come from the core's shared table (``remotevars._settings.SETTINGS_DEFAULTS``), so the
Django app and the Flask extension accept the same settings. The request callables named by
``REMOTEVARS_TARGETING_KEY`` / ``REMOTEVARS_ATTRIBUTES`` are imported once and cached with the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from django.conf import settings as django_settings

from remotevars._settings import SETTINGS_DEFAULTS, import_callable

__all__ = [
    'PREFIX',
    'RequestFunction',
    'attributes_function',
    'clear_cache',
    'get',
    'remotevars_settings',
    'targeting_key_function',
]

PREFIX: Final = 'REMOTEVARS_'

RequestFunction = Callable[[Any], Any]

# One dict holding the settings under 'values' (absent until read), so no module global is rebound.
_cache: dict[str, dict[str, Any]] = {}
_functions: dict[str, RequestFunction | None] = {}


def remotevars_settings() -> Mapping[str, Any]:
    """Return every ``REMOTEVARS_*`` setting of the table, with its default where the project sets none."""
    values = _cache.get('values')
    if values is None:
        values = {name: getattr(django_settings, name, default) for name, default in SETTINGS_DEFAULTS.items()}
        _cache['values'] = values
    return values


def get(name: str) -> Any:
    """Return one setting (``KeyError`` for a name that is not in the table)."""
    return remotevars_settings()[name]


def _request_function(name: str) -> RequestFunction | None:
    if name not in _functions:
        value = get(name)
        # A callable may be given directly; a string is a dotted path (a bad path raises ConfigurationError,
        # which the system checks report as remotevars.E003 before any request is served).
        _functions[name] = None if value is None else (value if callable(value) else import_callable(str(value)))
    return _functions[name]


def targeting_key_function() -> RequestFunction | None:
    """Return the callable of ``REMOTEVARS_TARGETING_KEY`` (request -> key), or None for the default."""
    return _request_function('REMOTEVARS_TARGETING_KEY')


def attributes_function() -> RequestFunction | None:
    """Return the callable of ``REMOTEVARS_ATTRIBUTES`` (request -> mapping), or None for no attributes."""
    return _request_function('REMOTEVARS_ATTRIBUTES')


def clear_cache() -> None:
    """Forget the cached settings and callables (called on ``setting_changed``)."""
    _cache.clear()
    _functions.clear()
