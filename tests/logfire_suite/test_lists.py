"""The lists of ``make logfire-suite`` are well formed, and docs/compatibility.md shows them as they are.

Runs in the main test run (the SDK's tests themselves run with ``make logfire-suite``). When a list
changes, ``python tests/logfire_suite/lists.py`` regenerates the document's table and lists.
"""

from __future__ import annotations

from tests.logfire_suite import lists


def test_each_header_states_its_count() -> None:
    for name in lists.LISTS:
        for group in lists.read(name):
            assert group.stated == len(group.ids), f'{name}: "{group.title}" says {group.stated}'


def test_no_test_is_listed_twice() -> None:
    listed = [test_id for name in lists.LISTS for group in lists.read(name) for test_id in group.ids]
    assert len(listed) == len(set(listed))


def test_compatibility_doc_is_current() -> None:
    doc = lists.DOC.read_text()
    assert doc == lists.rendered(doc), 'run: python tests/logfire_suite/lists.py'
