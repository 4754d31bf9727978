"""Regular expressions of regex conditions: compiled once, searched with a time bound.

A pattern comes from a server, and a server can hold any pattern (a Logfire project included), so a
read must survive one that backtracks catastrophically. Searches run on the ``regex`` package, which
speaks Python's ``re`` dialect (its default ``V0`` mode), takes a ``timeout`` and releases the GIL
while it matches (``concurrent=True``), so a bad pattern costs one read at most :data:`SEARCH_TIMEOUT`
and never stalls the process's other threads. A pattern must also compile with ``re``: the Logfire
SDK evaluates with ``re``, and what it refuses must not match here either.

``regex`` unrolls a repeat's minimum count when it compiles (``a{1000000}`` costs ~270 MB, and
``((a{1000}){1000}){1000}`` exhausts memory), so patterns whose repeats would unroll to more than
:data:`MAX_REPEAT_EXPANSION` elements are refused before ``regex`` sees them.
"""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any, Final, TypeAlias

import regex

__all__ = ['MAX_REPEAT_EXPANSION', 'SEARCH_TIMEOUT', 'ConditionPattern', 'PatternError', 'compile_pattern', 'search']

#: The longest one search may take, in seconds; past it the search raises TimeoutError.
SEARCH_TIMEOUT: Final = 0.002

#: The most elements a pattern's repeats may add when unrolled (``a{10000}`` adds 9,999); ~250 bytes each.
MAX_REPEAT_EXPANSION: Final = 10_000

#: ``re``'s own parser (private, so not in the type stubs); it gives the counts of every repeat.
_re_parser: Any = importlib.import_module('re._parser')
_REPEATS: Final = frozenset({'MAX_REPEAT', 'MIN_REPEAT', 'POSSESSIVE_REPEAT'})

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


@functools.lru_cache(maxsize=512)  # it re-parses the pattern: as costly as the rest of a cached compile
def _repeat_expansion(text: str, flags: int) -> int:
    """Return how many elements unrolling ``text``'s repeats to their minimum counts adds (stops past the limit).

    Each node of the parse tree counts once per unrolled copy of every repeat around it.
    """
    nodes = unrolled = 0
    stack: list[tuple[Any, int]] = [(_re_parser.parse(text, flags), 1)]
    while stack and unrolled - nodes <= MAX_REPEAT_EXPANSION:
        subpattern, copies = stack.pop()
        for op, av in subpattern:
            nodes += 1
            unrolled += copies
            if op.name in _REPEATS:
                low, _high, inner = av
                stack.append((inner, copies * max(low, 1)))
                continue
            for part in av if isinstance(av, (tuple, list)) else (av,):
                for child in part if isinstance(part, list) else (part,):
                    if isinstance(child, _re_parser.SubPattern):
                        stack.append((child, copies))
    return unrolled - nodes


def compile_pattern(pattern: str | re.Pattern[str], *, cache: bool = True) -> ConditionPattern:
    """Return ``pattern`` compiled for :func:`search`; raises :class:`PatternError` when it does not compile.

    A compiled ``re.Pattern`` keeps its flags. A pattern either engine refuses is refused, including
    the ones that make ``re`` overflow (``a{4294967295}``) or recurse too deeply (1,000 nested groups),
    and those whose repeats unroll past :data:`MAX_REPEAT_EXPANSION`. ``cache=False`` keeps the result
    out of ``regex``'s module-level cache (for a caller that only checks the pattern).
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
            flags = re.compile(text).flags
        expansion = _repeat_expansion(text, flags)
        if expansion > MAX_REPEAT_EXPANSION:
            raise PatternError(
                f'invalid regular expression (its repeat counts unroll to more than {MAX_REPEAT_EXPANSION:,} elements)'
            )
        return regex.compile(text, converted | regex.VERSION0, cache_pattern=cache)
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
