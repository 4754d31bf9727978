"""pytest plugin, registered by the package's entry point: Django tests are hermetic by default.

Loading it marks the process as a test run before pytest-django sets Django up, so ``ready()`` neither
connects to the server nor reads the local config, and no request starts it: every read serves its code
default (or an ``override_variables`` value), whatever ``REMOTEVARS_*`` settings and environment variables
say. A test opts in to the configured source with the ``remotevars_live`` fixture, or with
``django_remotevars.test.live_variables`` (a decorator or context manager, also for ``manage.py test``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from django_remotevars._testing import TEST_RUN

TEST_RUN.set()


@pytest.fixture
def remotevars_live() -> Iterator[Any]:
    """Serve the configured source (settings, then environment) for this test; yields the default client."""
    from django_remotevars.test import live_variables

    with live_variables() as client:
        yield client
