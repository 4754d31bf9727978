"""System checks: the core's settings problems as ``remotevars.E0xx``, plus the adapter's own ``W0xx``.

- ``E002``-``E012``: a setting whose value cannot work, each setting with its own id (from
  ``remotevars._settings.check_settings``; docs/django.md lists them).
- ``W003``: remote mode without a key or a URL. Only a warning, so ``migrate``, ``test`` and the
  ``vars_*`` commands still run in a CI without secrets (code defaults are served); ``check --deploy``
  reports it as the error ``E001``.
- ``W001``: the context processor is on but the middleware is missing (templates would read without the
  request's targeting and without a pinned snapshot).
- ``W002``: the middleware comes before ``AuthenticationMiddleware`` (it cannot see the user).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from django_remotevars import conf
from remotevars._settings import check_settings

__all__ = [
    'CONTEXT_PROCESSOR',
    'MIDDLEWARE',
    'check_deploy_settings',
    'check_remotevars_settings',
    'check_wiring',
    'register',
]

MIDDLEWARE: Final = 'django_remotevars.middleware.RemoteVarsMiddleware'
CONTEXT_PROCESSOR: Final = 'django_remotevars.context_processors.remotevars'
_AUTH_MIDDLEWARE: Final = 'django.contrib.auth.middleware.AuthenticationMiddleware'


def check_remotevars_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Return the settings problems found by the core, as Django check messages (``E001`` as ``W003``)."""
    messages: list[checks.CheckMessage] = []
    for problem in check_settings(conf.remotevars_settings()):
        if problem.id == 'E001':
            messages.append(
                checks.Warning(problem.message, hint=problem.hint, obj=problem.setting, id='remotevars.W003')
            )
            continue
        level = checks.Error if problem.level == 'error' else checks.Warning
        messages.append(level(problem.message, hint=problem.hint, obj=problem.setting, id=f'remotevars.{problem.id}'))
    return messages


def check_deploy_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``check --deploy``: remote mode without a key or a URL is an error (``E001``) for a deployment."""
    return [
        checks.Error(problem.message, hint=problem.hint, obj=problem.setting, id='remotevars.E001')
        for problem in check_settings(conf.remotevars_settings())
        if problem.id == 'E001'
    ]


def _is_ours(path: str) -> bool:
    """Return whether a MIDDLEWARE entry is the remotevars middleware or a subclass of it."""
    if path == MIDDLEWARE:
        return True
    try:
        found = import_string(path)
    except ImportError:
        return False
    from django_remotevars.middleware import RemoteVarsMiddleware

    return isinstance(found, type) and issubclass(found, RemoteVarsMiddleware)


def _context_processor_enabled() -> bool:
    for engine in getattr(settings, 'TEMPLATES', ()):
        if CONTEXT_PROCESSOR in (engine.get('OPTIONS') or {}).get('context_processors', ()):
            return True
    return False


def check_wiring(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Return warnings about the middleware and context processor set-up."""
    middleware = list(getattr(settings, 'MIDDLEWARE', None) or ())
    messages: list[checks.CheckMessage] = []
    ours = next((i for i, path in enumerate(middleware) if _is_ours(path)), None)
    if ours is None:
        if _context_processor_enabled():
            messages.append(
                checks.Warning(
                    f'The context processor {CONTEXT_PROCESSOR!r} is enabled but {MIDDLEWARE!r} is not in MIDDLEWARE: '
                    'templates read variables without the request targeting and without one pinned config.',
                    hint=f'Add {MIDDLEWARE!r} to MIDDLEWARE, after AuthenticationMiddleware.',
                    obj='MIDDLEWARE',
                    id='remotevars.W001',
                )
            )
    elif _AUTH_MIDDLEWARE in middleware and middleware.index(_AUTH_MIDDLEWARE) > ours:
        messages.append(
            checks.Warning(
                f'{MIDDLEWARE!r} comes before AuthenticationMiddleware, so it cannot target by user.',
                hint=f'Move {MIDDLEWARE!r} after {_AUTH_MIDDLEWARE!r}.',
                obj='MIDDLEWARE',
                id='remotevars.W002',
            )
        )
    return messages


def register() -> None:
    """Register the checks (called from ``AppConfig.ready``)."""
    checks.register(check_remotevars_settings, 'remotevars')
    checks.register(check_deploy_settings, 'remotevars', deploy=True)
    checks.register(check_wiring, 'remotevars')
