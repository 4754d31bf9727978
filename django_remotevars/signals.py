"""Django signals for config changes, sent from the client's refresh thread.

- ``variables_refreshed``: a config was applied. Keyword arguments: ``source`` (where it came from) and
  ``changes`` (a tuple of :class:`remotevars.VariableChange`, possibly empty).
- ``variable_updated``: one variable was created, updated or deleted by that config. Keyword arguments:
  ``name``, ``kind`` (``'created'``, ``'updated'`` or ``'deleted'``), ``old`` and ``new``
  (:class:`remotevars.VariableState` or None: ``.labels`` maps each label to its version, ``.rollout``
  each label to its weight) and ``change`` (the :class:`remotevars.VariableChange` itself).

The sender is the :class:`remotevars.Client`. Receivers run on the refresh thread, so they must be quick
and thread-safe; one that raises is logged and neither stops the other receivers nor the refresh.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

import remotevars

__all__ = ['forward_event', 'variable_updated', 'variables_refreshed']

logger = logging.getLogger('django_remotevars')

variables_refreshed = Signal()
variable_updated = Signal()


def _log_failures(signal_name: str, results: list[tuple[Any, Any]]) -> None:
    for receiver, outcome in results:
        if isinstance(outcome, Exception):
            logger.error(
                'A receiver of django_remotevars.signals.%s (%r) raised; the other receivers still ran',
                signal_name,
                receiver,
                exc_info=outcome,
            )


def forward_event(client: remotevars.Client, event: remotevars.RefreshEvent) -> None:
    """Send ``variable_updated`` once per change, then ``variables_refreshed``; never raises."""
    for change in event.changes:
        results = variable_updated.send_robust(
            sender=client, name=change.name, kind=change.kind, old=change.old, new=change.new, change=change
        )
        _log_failures('variable_updated', results)
    results = variables_refreshed.send_robust(sender=client, source=event.source, changes=event.changes)
    _log_failures('variables_refreshed', results)
