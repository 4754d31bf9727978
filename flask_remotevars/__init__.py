"""Flask integration for remotevars: the ``RemoteVars`` extension.

``RemoteVars(app)`` (or ``RemoteVars().init_app(app)`` in an app factory) reads the ``REMOTEVARS_*``
settings of ``app.config``, starts the app's client, pins one config snapshot and the targeting per
request, adds the ``remotevars`` Jinja global and the ``flask vars`` commands, and sends the
``flask_remotevars.signals``. Test helpers are in ``flask_remotevars.testing``. See docs/flask.md.
"""

from __future__ import annotations

from flask_remotevars.extension import (
    EXTENSION_KEY,
    AttributesLoader,
    KeyLoader,
    RemoteVars,
    RemoteVarsState,
    TemplateVariables,
    get_state,
)

__all__ = [
    'AttributesLoader',
    'EXTENSION_KEY',
    'KeyLoader',
    'RemoteVars',
    'RemoteVarsState',
    'TemplateVariables',
    'get_state',
]
