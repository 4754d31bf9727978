"""Blinker signals sent when an app's variables config changes.

The keyword arguments are those of the Django app's signals; the sender is the Flask app (Django's is
the client), as Flask's own signals do, so ``signal.connect(fn, app)`` hears one app only. Both are
sent from the thread that applied the new config: the remote provider's refresh threads, the local
provider's file watcher, or (a local file's first load) the thread calling ``init_app``. There is no
app or request context then; use the ``sender`` (the app) if you need one.

- ``variable_updated(sender, name, kind, old, new, change)``: once per variable the new config
  created, updated or deleted. ``kind`` is ``'created'``, ``'updated'`` or ``'deleted'``; ``old`` and
  ``new`` are :class:`remotevars.VariableState` (labels -> versions, rollout weights), ``None`` for a
  variable that did not exist before / no longer exists; ``change`` the
  :class:`remotevars.VariableChange` itself.
- ``variables_refreshed(sender, source, changes)``: once per applied config, after the
  ``variable_updated`` signals; ``changes`` is the tuple of :class:`remotevars.VariableChange`
  (possibly empty), ``source`` where the config came from.

A receiver that raises is logged (logger ``flask_remotevars``) and the other receivers still run.
Receivers must be plain (not ``async``) functions.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any

from blinker import Namespace, Signal

if TYPE_CHECKING:
    from flask import Flask

    from remotevars import RefreshEvent

__all__ = ['forwarder', 'remotevars_signals', 'variable_updated', 'variables_refreshed']

logger = logging.getLogger('flask_remotevars')

remotevars_signals = Namespace()

variable_updated = remotevars_signals.signal(
    'remotevars-variable-updated', doc='A variable was created, updated or deleted: sender (app), name, old, new.'
)
variables_refreshed = remotevars_signals.signal(
    'remotevars-variables-refreshed', doc='A config was applied: sender (app), changes, source.'
)


def _send_isolated(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Call every receiver of ``signal`` for ``sender``; a receiver that raises is logged and skipped."""
    if getattr(signal, 'is_muted', False):
        return
    for receiver in signal.receivers_for(sender):
        try:
            receiver(sender, **kwargs)
        except Exception:
            logger.exception(
                'A receiver of the %r signal raised; the other receivers still run', getattr(signal, 'name', signal)
            )


def forwarder(app: Flask) -> Any:
    """Return a client listener that turns refresh events into this module's signals for ``app``.

    The listener holds the app weakly, so a client that outlives its app does not keep it alive.
    """
    app_ref = weakref.ref(app)

    def forward(event: RefreshEvent) -> None:
        sender = app_ref()
        if sender is None:
            return
        for change in event.changes:
            _send_isolated(
                variable_updated,
                sender,
                name=change.name,
                kind=change.kind,
                old=change.old,
                new=change.new,
                change=change,
            )
        _send_isolated(variables_refreshed, sender, changes=event.changes, source=event.source)

    return forward
