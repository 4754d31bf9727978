"""The ``flask vars`` commands: the core's workflow commands and status report, run for the current app.

Built by the core's factory (:func:`remotevars.cli.workflows.build_commands`), so they take the flags of
``remotevars push`` and friends, print the same output and follow the same exit-code policy. Only where
things come from differs, through the adapter below: the variables are the ones the app serves (its
``REMOTEVARS_MODULES``, imported by ``init_app``; ``--module`` adds more), the server defaults to the
app's ``REMOTEVARS_BASE_URL`` / ``REMOTEVARS_API_KEY`` settings, then to the environment, and ``status``
starts the app's client. The app's state is read from ``current_app.extensions``, as flask-sqlalchemy's
commands do, so this module does not import the extension.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.cli import AppGroup, with_appcontext

from remotevars._commands import Adapter
from remotevars._errors import ConfigurationError
from remotevars.cli.workflows import build_commands

__all__ = ['vars_group']

#: ``app.extensions`` key of the extension's per-app state (the extension's ``EXTENSION_KEY``).
_EXTENSION_KEY = 'remotevars'

vars_group = AppGroup('vars', help='Remote variables: push, validate, pull and inspect them.')


def _app_adapter() -> Adapter:
    """Return the adapter of the current app; raises ConfigurationError when the extension is not on it."""
    app: Any = current_app._get_current_object()  # type: ignore[attr-defined]
    state = app.extensions.get(_EXTENSION_KEY)
    if state is None:
        raise ConfigurationError(
            f'flask_remotevars is not initialised on the app {app.name!r}: call RemoteVars(app) or init_app(app).'
        )

    def start() -> Any:
        state.start(now=True)
        return state.client

    return Adapter(
        client=lambda: state.client,
        settings=lambda: app.config,
        declare_hint='list the modules that declare them in REMOTEVARS_MODULES or name them with --module',
        start=start,
    )


for _command in build_commands(_app_adapter, with_status=True, wrap=with_appcontext):
    vars_group.add_command(_command)
