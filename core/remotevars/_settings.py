"""The flat ``REMOTEVARS_*`` settings shared by the Django app and the Flask extension.

One table of settings (name, default, the check id of a bad value, what a good value is), one function
turning a settings mapping into options, and one function listing everything wrong with a settings
mapping. The adapters only read their framework's settings and report these problems the framework's
way (Django system checks, Flask ``init_app``), so a bad value is refused before it can crash start-up.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from remotevars._errors import ConfigurationError
from remotevars._options import MIN_POLLING_INTERVAL, LocalVariablesOptions, VariablesOptions

__all__ = [
    'SETTINGS',
    'SETTINGS_DEFAULTS',
    'Setting',
    'SettingProblem',
    'check_settings',
    'import_callable',
    'options_from_settings',
    'value_problem',
]

_LOGFIRE_KEY_PREFIX: Final = 'pylf_v'
#: The API path under the base URL; a base URL ending with it was copied from a request URL.
_API_PATH: Final = '/v1/variables'


def _optional_text(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else f'must be a string, not {type(value).__name__}'


def _base_url(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return f'must be a string, not {type(value).__name__}'
    if not value:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        return f'must be an http(s) URL such as https://vars.example.com, got {value!r}'
    if parts.query or parts.fragment or parts.username or parts.password:
        return f'must not carry a query, a fragment or credentials, got {value!r}'
    if parts.path.rstrip('/').endswith(_API_PATH):
        return f'is the base URL of the server, without the API path {_API_PATH}/, got {value!r}'
    return None


def _path(value: Any) -> str | None:
    if value is None or isinstance(value, str | os.PathLike):
        return None
    return f'must be a file path, not {type(value).__name__}'


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f'must be True or False, not {value!r}'


def _seconds(minimum: float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or value < minimum:
            return f'must be a number of seconds of at least {minimum:g}, not {value!r}'
        return None

    return check


def _modules(value: Any) -> str | None:
    if value is None or (isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)):
        return None
    return f'must be a list of module paths such as ["shop.variables"], not {value!r}'


def _callable_path(value: Any) -> str | None:
    if value is None or callable(value) or isinstance(value, str):
        return None
    return f'must be a dotted path to a function taking the request, not {value!r}'


@dataclass(frozen=True)
class Setting:
    """One setting: its default, the id of the problem a bad value raises, and how to check a value.

    ``check(value)`` returns what is wrong with a value (completing ``"<NAME> ..."``), or None.
    """

    name: str
    default: Any
    id: str
    check: Callable[[Any], str | None]
    hint: str


#: Every setting. ``None`` for the key and URL means: fall back to the environment variables
#: ``REMOTEVARS_API_KEY`` / ``REMOTEVARS_BASE_URL``; ``REMOTEVARS_ENABLED = False`` ignores both.
SETTINGS: Final[tuple[Setting, ...]] = (
    Setting(
        'REMOTEVARS_ENABLED',
        True,
        'E012',
        _bool,
        'False serves code defaults: no server, no file, whatever the environment says.',
    ),
    Setting(
        'REMOTEVARS_API_KEY',
        None,
        'E005',
        _optional_text,
        'Use the key as a string, e.g. from an environment variable.',
    ),
    Setting(
        'REMOTEVARS_BASE_URL',
        None,
        'E006',
        _base_url,
        'Use the URL the server is reachable at, e.g. http://127.0.0.1:8000.',
    ),
    Setting(
        'REMOTEVARS_LOCAL_CONFIG',
        None,
        'E002',
        _path,
        'Point it at a JSON file written by the build-config or pull command.',
    ),
    Setting('REMOTEVARS_WATCH_LOCAL_CONFIG', True, 'E007', _bool, 'Use True (reload the file when saved) or False.'),
    Setting(
        'REMOTEVARS_POLLING_INTERVAL',
        60.0,
        'E004',
        _seconds(MIN_POLLING_INTERVAL),
        'Polling is only the fallback for the update stream; 60 seconds is a good value.',
    ),
    Setting(
        'REMOTEVARS_BLOCK_BEFORE_FIRST_RESOLVE',
        True,
        'E008',
        _bool,
        'Use True (the first read waits for the first fetch) or False.',
    ),
    Setting(
        'REMOTEVARS_FIRST_RESOLVE_TIMEOUT',
        5.0,
        'E009',
        _seconds(0.0),
        'A few seconds: how long the first read may wait for the first fetch.',
    ),
    Setting('REMOTEVARS_CACHE_FILE', None, 'E010', _path, 'Use a file path in a writable directory, or None.'),
    Setting('REMOTEVARS_MODULES', (), 'E011', _modules, 'A list or tuple of module paths, even for one module.'),
    Setting(
        'REMOTEVARS_TARGETING_KEY',
        None,
        'E003',
        _callable_path,
        'Use a dotted path to a function taking the request, e.g. "myapp.targeting.user_key".',
    ),
    Setting(
        'REMOTEVARS_ATTRIBUTES',
        None,
        'E003',
        _callable_path,
        'Use a dotted path to a function taking the request, e.g. "myapp.targeting.attributes".',
    ),
)

#: Every setting with its default.
SETTINGS_DEFAULTS: Final[Mapping[str, Any]] = {setting.name: setting.default for setting in SETTINGS}
_BY_NAME: Final = {setting.name: setting for setting in SETTINGS}


def value_problem(name: str, value: Any) -> str | None:
    """Return what is wrong with ``value`` as the setting ``name`` (completing ``"<NAME> ..."``), or None."""
    return _BY_NAME[name].check(value)


@dataclass(frozen=True)
class SettingProblem:
    """One thing wrong with the settings: a stable id (``E001``...), the setting, what and how to fix.

    ``concerns_source``: the problem only matters when the variables source starts (a key or URL
    missing, the local file unusable), so a process that never connects (a command-line tool) can
    go on.
    """

    id: str
    level: Literal['error', 'warning']
    setting: str
    message: str
    hint: str
    concerns_source: bool = False

    def __str__(self) -> str:
        return f'remotevars.{self.id} ({self.setting}): {self.message} Hint: {self.hint}'


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
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise ConfigurationError(f'cannot import {path!r}: {exc}') from exc
    if not callable(found):
        raise ConfigurationError(f'{path!r} is not callable')
    return found  # type: ignore[no-any-return]


def _local_config_problem(path: Path) -> str | None:
    """Return why the local config file cannot be used, or None."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        return f'cannot be read ({exc.strerror or exc})'
    try:
        data = json.loads(text)
    except ValueError as exc:
        return f'is not valid JSON ({exc})'
    if not isinstance(data, dict) or not isinstance(data.get('variables'), dict):
        return 'is not a variables config (a JSON object with a "variables" object)'
    return None


def _source_problems(settings: Mapping[str, Any], bad: set[str]) -> list[SettingProblem]:
    """Problems of the source as a whole: the local file, or a key and a URL that go together."""
    local = _get(settings, 'REMOTEVARS_LOCAL_CONFIG')
    if local and 'REMOTEVARS_LOCAL_CONFIG' not in bad:
        problem = _local_config_problem(Path(local))
        if problem is None:
            return []
        return [
            SettingProblem(
                'E002',
                'error',
                'REMOTEVARS_LOCAL_CONFIG',
                f'The local variables config {str(local)!r} {problem}.',
                'Point REMOTEVARS_LOCAL_CONFIG at a JSON file written by the build-config or pull command.',
                concerns_source=True,
            )
        ]
    if local or bad & {'REMOTEVARS_API_KEY', 'REMOTEVARS_BASE_URL'}:
        return []
    api_key, base_url = _remote_target(settings)
    if base_url and not api_key:
        return [
            SettingProblem(
                'E001',
                'error',
                'REMOTEVARS_API_KEY',
                'Remote variables need an API key: REMOTEVARS_BASE_URL is set but REMOTEVARS_API_KEY is not.',
                'Set REMOTEVARS_API_KEY (setting or environment variable) to a key with read access, '
                'or REMOTEVARS_ENABLED = False to serve code defaults.',
                concerns_source=True,
            )
        ]
    if api_key and not base_url and not str(api_key).startswith(_LOGFIRE_KEY_PREFIX):
        return [
            SettingProblem(
                'E001',
                'error',
                'REMOTEVARS_BASE_URL',
                'Remote variables need a server URL: REMOTEVARS_API_KEY is set but REMOTEVARS_BASE_URL is not '
                '(only Logfire keys imply their URL).',
                'Set REMOTEVARS_BASE_URL to the server, e.g. http://127.0.0.1:8000.',
                concerns_source=True,
            )
        ]
    return []


def _import_problems(settings: Mapping[str, Any], bad: set[str]) -> list[SettingProblem]:
    problems: list[SettingProblem] = []
    for name in ('REMOTEVARS_TARGETING_KEY', 'REMOTEVARS_ATTRIBUTES'):
        path = _get(settings, name)
        if isinstance(path, str) and name not in bad:
            try:
                import_callable(path)
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
    if 'REMOTEVARS_MODULES' not in bad:
        for module in _get(settings, 'REMOTEVARS_MODULES') or ():
            try:
                found = importlib.util.find_spec(module)
            except (ImportError, ValueError, TypeError):
                found = None
            if found is None:
                problems.append(
                    SettingProblem(
                        'E003',
                        'error',
                        'REMOTEVARS_MODULES',
                        f'REMOTEVARS_MODULES names {module!r}, which cannot be imported.',
                        'List importable module paths that declare variables.',
                    )
                )
    return problems


def check_settings(settings: Mapping[str, Any]) -> list[SettingProblem]:
    """Return every problem with a ``REMOTEVARS_*`` settings mapping (empty when all is well).

    Each setting's value is checked first (its own id); the source (``E001``, ``E002``) and the
    imports (``E003``) are checked only for settings whose values are usable.
    """
    problems: list[SettingProblem] = []
    bad: set[str] = set()
    for setting in SETTINGS:
        what = setting.check(_get(settings, setting.name))
        if what is not None:
            bad.add(setting.name)
            problems.append(SettingProblem(setting.id, 'error', setting.name, f'{setting.name} {what}.', setting.hint))
    _, env_url = _remote_target({})
    if 'REMOTEVARS_BASE_URL' not in bad and not _get(settings, 'REMOTEVARS_BASE_URL') and env_url:
        what = _base_url(env_url)
        if what is not None:
            bad.add('REMOTEVARS_BASE_URL')
            problems.append(
                SettingProblem(
                    'E006',
                    'error',
                    'REMOTEVARS_BASE_URL',
                    f'The environment variable REMOTEVARS_BASE_URL {what}.',
                    'Use the URL the server is reachable at, e.g. http://127.0.0.1:8000.',
                )
            )
    if _get(settings, 'REMOTEVARS_ENABLED') is not False:
        problems.extend(_source_problems(settings, bad))
    problems.extend(_import_problems(settings, bad))
    return problems


def options_from_settings(settings: Mapping[str, Any]) -> VariablesOptions | LocalVariablesOptions | None:
    """Turn settings into options: local file, remote server, or None (code defaults only).

    ``REMOTEVARS_ENABLED = False`` gives None whatever the other settings and the environment say.
    Raises :class:`ConfigurationError` listing the problems :func:`check_settings` finds.
    """
    errors = [p for p in check_settings(settings) if p.level == 'error']
    if errors:
        raise ConfigurationError('; '.join(f'remotevars.{p.id}: {p.message}' for p in errors))
    if _get(settings, 'REMOTEVARS_ENABLED') is False:
        return None
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
        cache_file=os.fspath(cache_file) if cache_file else None,
    )
