"""Shared fixtures: a fresh client per test, and the path of the copied golden fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import remotevars

FIXTURES = Path(__file__).parent / 'fixtures'


@pytest.fixture
def client() -> Iterator[remotevars.Client]:
    """A client of its own, shut down after the test."""
    c = remotevars.Client()
    yield c
    c.shutdown()
