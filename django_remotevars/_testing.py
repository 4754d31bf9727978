"""Whether this process is a test run: then the app never connects unless a test opts in.

Kept free of Django imports: the pytest plugin sets it when pytest loads it, before pytest-django sets
Django up.
"""

from __future__ import annotations

import threading
from typing import Final

__all__ = ['TEST_RUN']

#: Set by the pytest plugin (``django_remotevars.pytest_plugin``) and by ``ready()`` under ``manage.py test``.
TEST_RUN: Final = threading.Event()
