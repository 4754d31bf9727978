"""The difference between two versions' values, line by line (what the console's compare page shows).

Pure. Values are compared as pretty-printed JSON (keys in their stored order, two-space indent), so a
change deep in a structure shows as the lines it touches; two strings are compared as their text,
line by line, because prompts are long strings whose JSON would be one line.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ['DiffLine', 'json_diff', 'pretty_json']


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a diff: ``added``, ``removed``, ``same`` (context) or ``gap`` (lines left out)."""

    kind: Literal['added', 'removed', 'same', 'gap']
    text: str


def pretty_json(serialized_value: str) -> str:
    """Return a stored JSON text pretty-printed (as it is when it does not parse)."""
    try:
        return json.dumps(json.loads(serialized_value), indent=2, ensure_ascii=False)
    except ValueError:
        return serialized_value


def _lines(value: Any, as_text: bool) -> list[str]:
    if as_text:
        text: str = value
        return text.splitlines() or ['']
    return json.dumps(value, indent=2, ensure_ascii=False).splitlines()


def json_diff(before: str, after: str, *, context: int = 3) -> list[DiffLine]:
    """Return the lines that differ between two JSON texts, with ``context`` lines around each change.

    An empty list means the values are equal. A text that is not JSON is compared as it is.
    """
    try:
        old: Any = json.loads(before)
        new: Any = json.loads(after)
    except ValueError:
        old, new = before, after
    if old == new and type(old) is type(new):
        return []
    as_text = isinstance(old, str) and isinstance(new, str)
    lines: list[DiffLine] = []
    old_lines, new_lines = _lines(old, as_text), _lines(new, as_text)
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        if lines:
            lines.append(DiffLine('gap', '...'))
        for tag, i1, i2, j1, j2 in group:
            if tag == 'equal':
                lines.extend(DiffLine('same', text) for text in old_lines[i1:i2])
                continue
            lines.extend(DiffLine('removed', text) for text in old_lines[i1:i2])
            lines.extend(DiffLine('added', text) for text in new_lines[j1:j2])
    return lines
