"""Django integration for remotevars: add ``'django_remotevars'`` to ``INSTALLED_APPS``.

Variables are declared with ``remotevars.var(...)`` in each app's ``variables.py`` (found like the admin's
``admin.py``) or in a module of ``REMOTEVARS_MODULES``. Then: :mod:`~django_remotevars.middleware` for
per-request targeting and a pinned config, :mod:`~django_remotevars.context_processors` and the
``remotevars`` tag library for templates, :mod:`~django_remotevars.signals` for changes,
:mod:`~django_remotevars.test` for ``override_variables``, the ``vars_*`` management commands, and
``django_remotevars.urls`` for a staff-only status page. See docs/django.md.
"""

from __future__ import annotations

import remotevars

__all__ = ['start']


def start() -> remotevars.Client:
    """Start the background refresh from the ``REMOTEVARS_*`` settings now and return the default client.

    ``ready()`` already does this in serving processes; call it from a process that was not started
    (e.g. a custom management command). Raises ``remotevars.ConfigurationError`` for unusable settings.
    """
    from django_remotevars import _runtime

    return _runtime.start()
