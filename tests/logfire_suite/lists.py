"""The two lists of ``make logfire-suite`` and their copy in docs/compatibility.md.

``not_applicable.txt`` (tests left out) and ``known_differences.txt`` (applicable tests run as strict
xfail) hold groups: a ``# reason (count)`` line, then one test id per line. docs/compatibility.md
shows each file between ``<!-- begin NAME -->`` and ``<!-- end NAME -->``; ``python
tests/logfire_suite/lists.py`` rewrites those parts and the result table from the files (the total
number of tests is the one line to edit by hand when the SDK version changes).
``tests/logfire_suite/test_lists.py`` checks that the copy is current.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / 'docs' / 'compatibility.md'
LISTS = ('known_differences.txt', 'not_applicable.txt')
_HEADER = re.compile(r'^# (?P<title>.+) \((?P<count>\d+)\)$')
_TOTAL = re.compile(r'^## Result \(5\.4\.0, (?P<total>\d+) tests\)$', re.MULTILINE)
_TABLE = re.compile(r'(<!-- begin table -->\n).*?(<!-- end table -->)', re.DOTALL)


@dataclass
class Group:
    """One reason and the test ids it covers; ``stated`` is the count written in the header line."""

    title: str
    stated: int
    ids: list[str]


def read(name: str) -> list[Group]:
    """Return the groups of list file ``name``, in file order."""
    groups: list[Group] = []
    for line in (HERE / name).read_text().splitlines():
        header = _HEADER.match(line)
        if header:
            groups.append(Group(header['title'], int(header['count']), []))
        elif line and not line.startswith('#'):
            groups[-1].ids.append(line.split()[0])
    return groups


def markdown(groups: list[Group]) -> str:
    """Return the groups as the Markdown docs/compatibility.md shows."""
    parts = []
    for group in groups:
        ids = '\n'.join(f'- `{test_id}`' for test_id in group.ids)
        parts.append(f'### {group.title} ({len(group.ids)})\n\n{ids}\n')
    return '\n'.join(parts)


def table(total: int) -> str:
    """Return the result table for a suite of ``total`` tests."""
    different = sum(len(g.ids) for g in read('known_differences.txt'))
    left_out = sum(len(g.ids) for g in read('not_applicable.txt'))
    applicable = total - left_out
    rows = [
        ('applicable', applicable),
        ('pass', applicable - different),
        ('fail because of a documented deliberate difference (strict xfail)', different),
        ('not applicable (left out)', left_out),
    ]
    lines = ['| | tests |', '| --- | ---: |', *(f'| {what} | {count} |' for what, count in rows)]
    return '\n'.join(lines) + '\n'


def rendered(doc: str) -> str:
    """Return ``doc`` with its generated parts (table, lists) brought up to date."""
    found = _TOTAL.search(doc)
    assert found is not None, 'docs/compatibility.md has no "## Result (5.4.0, N tests)" heading'
    doc = _TABLE.sub(lambda m: m[1] + table(int(found['total'])) + m[2], doc)
    for name in LISTS:
        pattern = re.compile(rf'(<!-- begin {re.escape(name)} -->\n).*?(<!-- end {re.escape(name)} -->)', re.DOTALL)
        assert pattern.search(doc), f'docs/compatibility.md has no part for {name}'
        doc = pattern.sub(lambda m, n=name: m[1] + '\n' + markdown(read(n)) + '\n' + m[2], doc)
    return doc


def main() -> int:
    DOC.write_text(rendered(DOC.read_text()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
