"""Shared fixtures: a fresh client per test, and the path of the copied golden fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import remotevars

FIXTURES = Path(__file__).parent / 'fixtures'

# The reference SDK (test-only dependency) registers a pydantic plugin that imports Logfire into every
# process building a model; subprocesses started by the tests inherit this and start faster.
os.environ.setdefault('PYDANTIC_DISABLE_PLUGINS', '__all__')


@pytest.fixture
def client() -> Iterator[remotevars.Client]:
    """A client of its own, shut down after the test."""
    c = remotevars.Client()
    yield c
    c.shutdown()
