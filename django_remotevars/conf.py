"""The flat ``REMOTEVARS_*`` settings as Django sees them: read lazily, cached, re-read on ``setting_changed``.

Names and defaults come from the core's shared table (``remotevars._settings.SETTINGS_DEFAULTS``), so the
Django app and the Flask extension accept the same settings. The request callables named by
``REMOTEVARS_TARGETING_KEY`` / ``REMOTEVARS_ATTRIBUTES`` are imported once and cached with the rest.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from django.conf import settings as django_settings

from remotevars._errors import ConfigurationError
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

logger = logging.getLogger('django_remotevars')


@functools.cache
def remotevars_settings() -> Mapping[str, Any]:
    """Return every ``REMOTEVARS_*`` setting of the table, with its default where the project sets none."""
    return {name: getattr(django_settings, name, default) for name, default in SETTINGS_DEFAULTS.items()}


def get(name: str) -> Any:
    """Return one setting (``KeyError`` for a name that is not in the table)."""
    return remotevars_settings()[name]


@functools.cache
def _request_function(name: str) -> RequestFunction | None:
    value = get(name)
    if value is None or callable(value):
        return value  # type: ignore[no-any-return]
    try:
        return import_callable(str(value))
    except ConfigurationError as exc:
        # The system checks report it (remotevars.E003); requests go on without it rather than fail.
        logger.error('%s cannot be used, requests are served without it: %s', name, exc)
        return None


def targeting_key_function() -> RequestFunction | None:
    """Return the callable of ``REMOTEVARS_TARGETING_KEY`` (request -> key), or None for the default."""
    return _request_function('REMOTEVARS_TARGETING_KEY')


def attributes_function() -> RequestFunction | None:
    """Return the callable of ``REMOTEVARS_ATTRIBUTES`` (request -> mapping), or None for no attributes."""
    return _request_function('REMOTEVARS_ATTRIBUTES')


def clear_cache() -> None:
    """Forget the cached settings and callables (called on ``setting_changed``)."""
    remotevars_settings.cache_clear()
    _request_function.cache_clear()
