"""When the app configures the default client: the start-up decision, lazy start, and re-configuring.

``ready()`` discovers variables and then starts the background refresh only in processes that serve or
read variables: not in ``manage.py migrate`` and friends, and under ``runserver``'s autoreloader only in
the serving child (``RUN_MAIN``). Processes that were not started at ``ready()`` start on their first
request. Test runs (pytest with the plugin, ``manage.py test``) never start by themselves: a test opts in
with ``django_remotevars.test.live_variables``. Forked workers (gunicorn/uWSGI ``--preload``) get fresh
refresh threads from the core's fork hook.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any, Final

import remotevars
from django_remotevars import conf
from django_remotevars._testing import TEST_RUN
from remotevars._errors import ConfigurationError
from remotevars._settings import options_from_settings

__all__ = [
    'SERVING_COMMANDS',
    'apply_settings',
    'is_started',
    'is_test_run',
    'settings_changed',
    'start',
    'starts_at_ready',
    'stop',
]

logger = logging.getLogger('django_remotevars')

#: ``manage.py`` commands that read variables, so ``ready()`` starts the refresh for them.
SERVING_COMMANDS: Final = frozenset({'runserver', 'runserver_plus', 'testserver', 'shell', 'shell_plus', 'runworker'})
#: Serving commands that run under an autoreloader: only its child (``RUN_MAIN=true``) serves.
_RELOADING_COMMANDS: Final = frozenset({'runserver', 'runserver_plus'})
_MANAGE_PROGRAMS: Final = frozenset({'manage.py', 'django-admin', 'django-admin.py'})


def _is_manage(argv: Sequence[str]) -> bool:
    program = PurePath(argv[0])
    return program.name in _MANAGE_PROGRAMS or (program.name == '__main__.py' and program.parent.name == 'django')


def is_test_run(argv: Sequence[str]) -> bool:
    """Return whether this process runs tests: pytest with the plugin loaded, or ``manage.py test``."""
    return TEST_RUN.is_set() or (len(argv) > 1 and _is_manage(argv) and argv[1] == 'test')


def starts_at_ready(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Return whether a process with this command line should start the refresh in ``ready()``.

    Servers (gunicorn, uwsgi, daphne, uvicorn), workers and scripts: yes. ``manage.py``: only for
    :data:`SERVING_COMMANDS`, and for the autoreloader's parent process, no.
    """
    if not argv or not _is_manage(argv):
        return True
    command = argv[1] if len(argv) > 1 else None  # Django takes the subcommand from argv[1] only
    if command not in SERVING_COMMANDS:
        return False
    if command in _RELOADING_COMMANDS and '--noreload' not in argv:
        return environ.get('RUN_MAIN') == 'true' or environ.get('WERKZEUG_RUN_MAIN') == 'true'
    return True


class _State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.started = False
        # The options this app gave the default client; None when it left the client alone.
        self.options: Any = None
        # How many live_variables() blocks are active (tests).
        self.live = 0


_STATE: Final = _State()


def is_started() -> bool:
    """Return whether this process started the refresh (at ``ready()``, on a request or by a command)."""
    return _STATE.started


def apply_settings() -> None:
    """Configure the default client from the settings if they changed since the last time.

    When the settings name no source (and the environment neither), a client configured by the
    project itself (``remotevars.configure(...)``) is left alone. Raises :class:`ConfigurationError`
    for settings that cannot work.
    """
    with _STATE.lock:
        options = options_from_settings(conf.remotevars_settings())
        if options is None and _STATE.options is None:
            return
        if options == _STATE.options:
            return
        remotevars.get_client().configure(options)
        _STATE.options = options
        if options is not None:
            logger.info('remotevars: refresh started in process %d (%r)', os.getpid(), options)


def start(*, live: bool = False) -> remotevars.Client:
    """Start the background refresh from the settings (idempotent) and return the default client.

    ``live``: for ``live_variables()``, which :func:`stop` with ``live`` ends. Raises
    :class:`ConfigurationError` for settings that cannot work.
    """
    with _STATE.lock:
        _STATE.started = True
        apply_settings()
        _STATE.live += live
    return remotevars.get_client()


def stop(*, live: bool = False) -> None:
    """Forget the settings' source (reads serve code defaults) until the next :func:`start`.

    ``live``: end one ``live_variables()`` block; the source stays while another one is active.
    """
    with _STATE.lock:
        _STATE.live = max(0, _STATE.live - live)
        if _STATE.live:
            return
        _STATE.started = False
        if _STATE.options is not None:
            remotevars.get_client().configure(None)
            _STATE.options = None


def start_quietly() -> None:
    """Like :func:`start`, but a configuration problem is logged (the system checks report it) and defaults served."""
    try:
        start()
    except ConfigurationError as exc:
        logger.error('remotevars is not configured, code defaults are served: %s', exc)


def settings_changed(setting: str) -> None:
    """React to ``setting_changed``: re-read the settings and re-configure a started client."""
    if not setting.startswith(conf.PREFIX):
        return
    conf.clear_cache()
    with _STATE.lock:
        if not _STATE.started:
            return
        try:
            apply_settings()
        except ConfigurationError as exc:
            # Settings may pass through invalid states while a test changes them one by one.
            logger.warning('remotevars settings changed to an unusable state, code defaults are served: %s', exc)
            if _STATE.options is not None:
                remotevars.get_client().configure(None)
                _STATE.options = None
