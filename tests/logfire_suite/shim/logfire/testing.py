"""``logfire.testing``: the span exporter tests import (tests that read spans are not applicable)."""

from __future__ import annotations


class TestExporter:
    __test__ = False
