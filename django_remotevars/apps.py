"""The ``AppConfig``: discovers each app's ``variables`` module, wires signals and checks, starts the refresh."""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sys
from typing import Any

from django.apps import AppConfig
from django.core.signals import request_started
from django.test.signals import setting_changed
from django.utils.module_loading import autodiscover_modules

import remotevars
from django_remotevars import _runtime, conf
from remotevars._settings import value_problem

__all__ = ['RemoteVarsConfig', 'discover']

logger = logging.getLogger('django_remotevars')


def discover() -> list[str]:
    """Import every installed app's ``variables`` module and each of ``REMOTEVARS_MODULES``.

    Returns the modules of ``REMOTEVARS_MODULES`` that could not be imported (logged here, reported by
    the system checks: ``remotevars.E003``, or ``E011`` for a value that is not a list of module paths);
    an error raised inside an existing module propagates.
    """
    autodiscover_modules('variables')
    modules = conf.get('REMOTEVARS_MODULES')
    problem = value_problem('REMOTEVARS_MODULES', modules)
    if problem is not None:
        logger.error('REMOTEVARS_MODULES %s: no module imported', problem)
        return []
    missing = []
    for name in modules or ():
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise  # the module exists, one of its own imports is missing
            logger.error('REMOTEVARS_MODULES names %r, which cannot be imported', name)
            missing.append(name)
        except (ValueError, TypeError):  # not a module path at all ('', '.x')
            logger.error('REMOTEVARS_MODULES names %r, which cannot be imported', name)
            missing.append(name)
    return missing


def _start_on_first_request(**kwargs: Any) -> None:
    request_started.disconnect(_start_on_first_request)
    _runtime.start_quietly()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    _runtime.settings_changed(setting)


class RemoteVarsConfig(AppConfig):
    """``django_remotevars``: add it to ``INSTALLED_APPS``."""

    name = 'django_remotevars'
    verbose_name = 'Remote variables'

    def ready(self) -> None:
        from django_remotevars import checks, signals

        checks.register()
        setting_changed.connect(_on_setting_changed, dispatch_uid='django_remotevars.setting_changed')
        client = remotevars.get_client()
        client.add_listener(functools.partial(signals.forward_event, client))
        discover()
        if _runtime.is_test_run(sys.argv):
            # Hermetic tests: code defaults and override_variables; a test opts in with live_variables.
            logger.debug('remotevars: a test run, no connection unless a test uses live_variables')
        elif _runtime.starts_at_ready(sys.argv, os.environ):
            _runtime.start_quietly()
        else:
            # Management commands do not connect; a process that serves anyway starts on its first request.
            request_started.connect(_start_on_first_request, dispatch_uid='django_remotevars.start')
