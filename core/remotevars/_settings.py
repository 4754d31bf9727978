"""The flat ``REMOTEVARS_*`` settings shared by the Django app and the Flask extension.

One table of names and defaults, one function turning a settings mapping into options, and one
function listing what is wrong with a settings mapping. The adapters only read their framework's
settings and report these problems the framework's way (Django system checks, Flask ``init_app``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from remotevars._errors import ConfigurationError
from remotevars._options import MIN_POLLING_INTERVAL, LocalVariablesOptions, VariablesOptions

__all__ = [
    'SETTINGS_DEFAULTS',
    'SettingProblem',
    'check_settings',
    'import_callable',
    'options_from_settings',
]

#: Every setting with its default. ``None`` for the key and URL means: fall back to the environment
#: variables ``REMOTEVARS_API_KEY`` / ``REMOTEVARS_BASE_URL``.
SETTINGS_DEFAULTS: Final[Mapping[str, Any]] = {
    'REMOTEVARS_API_KEY': None,
    'REMOTEVARS_BASE_URL': None,
    'REMOTEVARS_LOCAL_CONFIG': None,
    'REMOTEVARS_WATCH_LOCAL_CONFIG': True,
    'REMOTEVARS_POLLING_INTERVAL': 60.0,
    'REMOTEVARS_BLOCK_BEFORE_FIRST_RESOLVE': True,
    'REMOTEVARS_FIRST_RESOLVE_TIMEOUT': 5.0,
    'REMOTEVARS_CACHE_FILE': None,
    'REMOTEVARS_MODULES': (),
    'REMOTEVARS_TARGETING_KEY': None,
    'REMOTEVARS_ATTRIBUTES': None,
}

_LOGFIRE_KEY_PREFIX: Final = 'pylf_v'


@dataclass(frozen=True)
class SettingProblem:
    """One thing wrong with the settings: a stable id (``E001``...), the setting, what and how to fix."""

    id: str
    level: Literal['error', 'warning']
    setting: str
    message: str
    hint: str


def _get(settings: Mapping[str, Any], name: str) -> Any:
    return settings.get(name, SETTINGS_DEFAULTS[name])


def _remote_target(settings: Mapping[str, Any]) -> tuple[str | None, str | None]:
    api_key = _get(settings, 'REMOTEVARS_API_KEY') or os.environ.get('REMOTEVARS_API_KEY') or None
    base_url = _get(settings, 'REMOTEVARS_BASE_URL') or os.environ.get('REMOTEVARS_BASE_URL') or None
    return api_key, base_url


def import_callable(path: str) -> Callable[..., Any]:
    """Import ``'package.module.attribute'`` (or ``'package.module:attribute'``) and return it.

    Raises :class:`ConfigurationError` saying what could not be imported.
    """
    module_name, sep, attribute = path.replace(':', '.').rpartition('.')
    if not sep or not module_name:
        raise ConfigurationError(f'{path!r} is not a dotted path to a callable')
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f'cannot import {path!r}: {exc}') from exc
    if not callable(found):
        raise ConfigurationError(f'{path!r} is not callable')
    return found  # type: ignore[no-any-return]


def check_settings(settings: Mapping[str, Any]) -> list[SettingProblem]:
    """Return every problem with a ``REMOTEVARS_*`` settings mapping (empty when all is well)."""
    problems: list[SettingProblem] = []
    local = _get(settings, 'REMOTEVARS_LOCAL_CONFIG')
    api_key, base_url = _remote_target(settings)
    if local:
        path = Path(local)
        if not path.is_file() or not os.access(path, os.R_OK):
            problems.append(
                SettingProblem(
                    'E002',
                    'error',
                    'REMOTEVARS_LOCAL_CONFIG',
                    f'The local variables config {str(path)!r} cannot be read.',
                    'Point REMOTEVARS_LOCAL_CONFIG at a readable JSON file, e.g. one written by `vars_build_config`.',
                )
            )
    elif base_url and not api_key:
        problems.append(
            SettingProblem(
                'E001',
                'error',
                'REMOTEVARS_API_KEY',
                'Remote variables need an API key: REMOTEVARS_BASE_URL is set but REMOTEVARS_API_KEY is not.',
                'Set REMOTEVARS_API_KEY (setting or environment variable) to a key with read access.',
            )
        )
    elif api_key and not base_url and not str(api_key).startswith(_LOGFIRE_KEY_PREFIX):
        problems.append(
            SettingProblem(
                'E001',
                'error',
                'REMOTEVARS_BASE_URL',
                'Remote variables need a server URL: REMOTEVARS_API_KEY is set but REMOTEVARS_BASE_URL is not '
                '(only Logfire keys imply their URL).',
                'Set REMOTEVARS_BASE_URL to the server, e.g. http://127.0.0.1:8000.',
            )
        )
    for name in ('REMOTEVARS_TARGETING_KEY', 'REMOTEVARS_ATTRIBUTES'):
        path = _get(settings, name)
        if path is not None and not callable(path):
            try:
                import_callable(str(path))
            except ConfigurationError as exc:
                problems.append(
                    SettingProblem(
                        'E003',
                        'error',
                        name,
                        f'{name} {exc}.',
                        'Use a dotted path to a function taking the request, e.g. "myapp.targeting.user_key".',
                    )
                )
    for name in ('REMOTEVARS_MODULES',):
        for module in _get(settings, name) or ():
            try:
                found = importlib.util.find_spec(module)
            except (ImportError, ValueError):
                found = None
            if found is None:
                problems.append(
                    SettingProblem(
                        'E003',
                        'error',
                        name,
                        f'{name} names {module!r}, which cannot be imported.',
                        'List importable module paths that declare variables.',
                    )
                )
    try:
        interval = float(_get(settings, 'REMOTEVARS_POLLING_INTERVAL'))
    except (TypeError, ValueError):
        interval = -1.0
    if interval < MIN_POLLING_INTERVAL:
        problems.append(
            SettingProblem(
                'E004',
                'error',
                'REMOTEVARS_POLLING_INTERVAL',
                f'REMOTEVARS_POLLING_INTERVAL must be a number of seconds of at least {MIN_POLLING_INTERVAL:g}.',
                'Polling is only the fallback for the update stream; 60 seconds is a good value.',
            )
        )
    return problems


def options_from_settings(settings: Mapping[str, Any]) -> VariablesOptions | LocalVariablesOptions | None:
    """Turn settings into options: local file, remote server, or None (code defaults only).

    Raises :class:`ConfigurationError` listing the problems :func:`check_settings` finds.
    """
    errors = [p for p in check_settings(settings) if p.level == 'error']
    if errors:
        raise ConfigurationError('; '.join(f'remotevars.{p.id}: {p.message}' for p in errors))
    local = _get(settings, 'REMOTEVARS_LOCAL_CONFIG')
    if local:
        return LocalVariablesOptions(config=str(local), watch=bool(_get(settings, 'REMOTEVARS_WATCH_LOCAL_CONFIG')))
    api_key, base_url = _remote_target(settings)
    if not api_key and not base_url:
        return None
    cache_file = _get(settings, 'REMOTEVARS_CACHE_FILE')
    return VariablesOptions(
        api_key=api_key,
        base_url=base_url,
        polling_interval=float(_get(settings, 'REMOTEVARS_POLLING_INTERVAL')),
        block_before_first_resolve=bool(_get(settings, 'REMOTEVARS_BLOCK_BEFORE_FIRST_RESOLVE')),
        first_resolve_timeout=float(_get(settings, 'REMOTEVARS_FIRST_RESOLVE_TIMEOUT')),
        cache_file=str(cache_file) if cache_file else None,
    )
