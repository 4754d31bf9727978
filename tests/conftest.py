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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI (``CI`` set, as ``.ci/run`` does) a skipped test fails: a real part (a browser, PostgreSQL,
    gunicorn, a framework) that cannot run there must be fixed, not silently left out."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.skipped or hasattr(report, 'wasxfail') or not os.environ.get('CI'):
        return
    if os.environ.get('REMOTEVARS_ALLOW_SKIPS'):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = 'failed'
    report.longrepr = f'skipped in CI, where every real part must run: {reason}'


@pytest.hookimpl(tryfirst=True)
def pytest_collectreport(report: pytest.CollectReport) -> None:
    """In CI a test module that skips itself at import (``importorskip``) fails too."""
    if report.skipped and os.environ.get('CI') and not os.environ.get('REMOTEVARS_ALLOW_SKIPS'):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = 'failed'
        report.longrepr = f'skipped in CI, where every real part must run: {reason}'
