"""Regular expressions of regex conditions: compiled once, searched with a time bound.

A pattern comes from a server, and a server can hold any pattern (a Logfire project included), so a
read must survive one that backtracks catastrophically. Searches run on the ``regex`` package, which
speaks Python's ``re`` dialect (its default ``V0`` mode), takes a ``timeout`` and releases the GIL
while it matches (``concurrent=True``), so a bad pattern costs one read at most :data:`SEARCH_TIMEOUT`
and never stalls the process's other threads. A pattern must also compile with ``re``: the Logfire
SDK evaluates with ``re``, and what it refuses must not match here either.
"""

from __future__ import annotations

import re
from typing import Final, TypeAlias

import regex

__all__ = ['SEARCH_TIMEOUT', 'ConditionPattern', 'PatternError', 'compile_pattern', 'search']

#: The longest one search may take, in seconds; past it the search raises TimeoutError.
SEARCH_TIMEOUT: Final = 0.002

#: ``re`` flags a compiled ``re.Pattern`` may carry, and their ``regex`` equivalents.
_FLAGS: Final = (
    (re.IGNORECASE, regex.IGNORECASE),
    (re.MULTILINE, regex.MULTILINE),
    (re.DOTALL, regex.DOTALL),
    (re.VERBOSE, regex.VERBOSE),
    (re.ASCII, regex.ASCII),
)

ConditionPattern: TypeAlias = regex.Pattern[str]


class PatternError(ValueError):
    """A condition's pattern does not compile; the message says why (without a traceback's worth of text)."""


def compile_pattern(pattern: str | re.Pattern[str]) -> ConditionPattern:
    """Return ``pattern`` compiled for :func:`search`; raises :class:`PatternError` when it does not compile.

    A compiled ``re.Pattern`` keeps its flags. A pattern either engine refuses is refused, including
    the ones that make ``re`` overflow (``a{4294967295}``) or recurse too deeply (1,000 nested groups).
    """
    if isinstance(pattern, re.Pattern):
        text, flags = pattern.pattern, pattern.flags
    else:
        text, flags = pattern, 0
    if not isinstance(text, str):
        raise PatternError('the pattern must be a string')
    converted = 0
    for ours, theirs in _FLAGS:
        if flags & ours:
            converted |= theirs
    try:
        if not isinstance(pattern, re.Pattern):
            re.compile(text)
        return regex.compile(text, converted | regex.VERSION0)
    except (re.error, regex.error) as exc:
        raise PatternError(f'invalid regular expression ({exc})') from None
    except (OverflowError, RecursionError, MemoryError) as exc:
        reason = f'{type(exc).__name__}: too large or too deeply nested'
        raise PatternError(f'invalid regular expression ({reason})') from None


def search(compiled: ConditionPattern, text: str) -> bool:
    """Return whether ``compiled`` is found in ``text`` (``re.search`` semantics).

    Raises TimeoutError when the search takes longer than :data:`SEARCH_TIMEOUT`.
    """
    return compiled.search(text, timeout=SEARCH_TIMEOUT, concurrent=True) is not None
