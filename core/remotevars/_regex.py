"""Regular expressions of regex conditions: ``re.search`` semantics, searched with a time bound.

A pattern comes from a server, and a server can hold any pattern (a Logfire project included), so a
read must survive one that backtracks catastrophically. Searches run on the ``regex`` package, which
takes a ``timeout`` and releases the GIL while it matches (``concurrent=True``), so a bad pattern
costs one read at most :data:`SEARCH_TIMEOUT` and never stalls the process's other threads.

The Logfire SDK evaluates with ``re``, so a pattern means here what it means to ``re``: it is parsed by
``re``'s own parser (what ``re`` refuses is refused) and written out again in ``regex`` syntax, with
the few things the two engines define differently spelt out: ``\\w``, ``\\s`` and ``\\b`` (``re``
follows ``str.isalnum`` and ``str.isspace``; ``regex`` follows Unicode properties and counts
combining marks as word characters), ``\\B`` on an empty string, the case-insensitive equivalence of
``i``, ``I`` and the Turkish dotted and dotless I, and ``[[:alpha:]]`` (a POSIX class for ``regex``, a plain set for
``re``). tests/core/test_regex.py checks the result against ``re.search`` on a generated corpus.
Characters assigned after the Unicode version of the running Python can still differ.

``regex`` unrolls a repeat's minimum count when it compiles (``a{1000000}`` costs ~270 MB, and
``((a{1000}){1000}){1000}`` exhausts memory), so patterns whose repeats would unroll to more than
:data:`MAX_REPEAT_EXPANSION` elements are refused before ``regex`` sees them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from re import _constants as sre  # type: ignore[attr-defined]  # re's parse tree: no public API
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Final

import regex

__all__ = [
    'MAX_REPEAT_EXPANSION',
    'SEARCH_TIMEOUT',
    'ConditionPattern',
    'PatternError',
    'compile_pattern',
    'search',
    'to_regex_syntax',
]

#: The longest one search may take, in seconds; past it the search raises TimeoutError.
SEARCH_TIMEOUT: Final = 0.002

#: The most elements a pattern's repeats may add when unrolled (``a{10000}`` adds 9,999); ~250 bytes each.
MAX_REPEAT_EXPANSION: Final = 10_000

#: ``re`` flags of a pattern and their inline letters (VERBOSE is resolved by the parser, UNICODE is
#: the default of both engines).
_FLAG_LETTERS: Final = ((re.IGNORECASE, 'i'), (re.MULTILINE, 'm'), (re.DOTALL, 's'), (re.ASCII, 'a'))
_ENGINE_FLAGS: Final = (
    (re.IGNORECASE, regex.IGNORECASE),
    (re.MULTILINE, regex.MULTILINE),
    (re.DOTALL, regex.DOTALL),
    (re.ASCII, regex.ASCII),
)

#: What ``re`` means by ``\\w``, ``\\d`` and ``\\s``, as members of a ``regex`` set (Unicode, then ASCII).
_WORD: Final = {False: r'\p{L}\p{N}_', True: r'a-zA-Z0-9_'}
_DIGIT: Final = {False: r'\d', True: r'0-9'}
_SPACE: Final = {False: r'\s\x1c-\x1f', True: r'\t\n\x0b\x0c\r\x20'}
#: Characters ``re`` treats as one another's case under IGNORECASE (and ``regex`` does not all).
_DOTTED_I: Final = 'iI\u0130\u0131'
_REPEATS: Final = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)


class PatternError(ValueError):
    """A condition's pattern does not compile; the message says why (without a traceback's worth of text)."""


class ConditionPattern:
    """A condition's pattern compiled for :meth:`search`; ``pattern`` is its text as the config has it."""

    __slots__ = ('_search', 'pattern')

    def __init__(self, pattern: str, compiled: regex.Pattern[str]) -> None:
        self.pattern = pattern
        self._search = compiled.search

    def __repr__(self) -> str:
        return f'ConditionPattern({self.pattern!r})'

    def search(self, text: str) -> bool:
        """Return whether the pattern is found in ``text`` (``re.search`` semantics).

        Raises TimeoutError when the search takes longer than :data:`SEARCH_TIMEOUT`.
        """
        return self._search(text, timeout=SEARCH_TIMEOUT, concurrent=True) is not None


def compile_pattern(pattern: str | re.Pattern[str], *, cache: bool = True) -> ConditionPattern:
    """Return ``pattern`` compiled for :func:`search`; raises :class:`PatternError` when it does not compile.

    A compiled ``re.Pattern`` keeps its flags. A pattern ``re`` refuses is refused, including the
    ones that make it overflow (``a{4294967295}``) or recurse too deeply (1,000 nested groups), and
    so are those whose repeats unroll past :data:`MAX_REPEAT_EXPANSION`. ``cache=False`` keeps the
    result out of ``regex``'s module-level cache (for a caller that only checks the pattern).
    """
    if isinstance(pattern, re.Pattern):
        text, flags = pattern.pattern, pattern.flags
    else:
        text, flags = pattern, 0
    if not isinstance(text, str):
        raise PatternError('the pattern must be a string')
    try:
        re.compile(text, flags)  # what re refuses (a look-behind of variable width...) is refused
        parsed = sre_parse.parse(text, flags)
        if _repeat_expansion(parsed) > MAX_REPEAT_EXPANSION:
            raise PatternError(
                f'invalid regular expression (its repeat counts unroll to more than {MAX_REPEAT_EXPANSION:,} elements)'
            )
        translated, engine_flags = _translate(parsed)
        return ConditionPattern(text, regex.compile(translated, engine_flags | regex.VERSION0, cache_pattern=cache))
    except (re.error, regex.error) as exc:
        raise PatternError(f'invalid regular expression ({exc})') from None
    except (OverflowError, RecursionError, MemoryError) as exc:
        reason = f'{type(exc).__name__}: too large or too deeply nested'
        raise PatternError(f'invalid regular expression ({reason})') from None


def search(compiled: ConditionPattern, text: str) -> bool:
    """Return whether ``compiled`` is found in ``text`` (``re.search`` semantics).

    Raises TimeoutError when the search takes longer than :data:`SEARCH_TIMEOUT`.
    """
    return compiled.search(text)


# -- re's pattern in regex syntax --------------------------------------------------------------------


def to_regex_syntax(pattern: str, flags: int = 0) -> tuple[str, int]:
    """Return ``pattern`` (``re`` syntax, with ``re`` ``flags``) in ``regex`` syntax, and the ``regex`` flags.

    Raises ``re.error`` when ``re`` cannot parse it.
    """
    return _translate(sre_parse.parse(pattern, flags))


def _translate(parsed: Any) -> tuple[str, int]:
    """Return ``re``'s parse tree of a pattern in ``regex`` syntax, and the ``regex`` flags."""
    state = parsed.state
    names = {number: name for name, number in state.groupdict.items()}
    global_flags = state.flags
    text = _Writer(names).sequence(parsed, global_flags)
    engine_flags = 0
    for ours, theirs in _ENGINE_FLAGS:
        if global_flags & ours:
            engine_flags |= theirs
    return text, engine_flags


def _repeat_expansion(parsed: Any) -> int:
    """Return how many elements unrolling the repeats of ``re``'s parse tree to their minimum counts adds.

    Each node counts once per unrolled copy of every repeat around it; the walk stops once past
    :data:`MAX_REPEAT_EXPANSION` (iterative: deep nesting costs no stack).
    """
    nodes = unrolled = 0
    stack: list[tuple[Any, int]] = [(parsed, 1)]
    while stack and unrolled - nodes <= MAX_REPEAT_EXPANSION:
        subpattern, copies = stack.pop()
        for op, av in subpattern:
            nodes += 1
            unrolled += copies
            if op in _REPEATS:
                low, _high, inner = av
                stack.append((inner, copies * max(low, 1)))
                continue
            for part in av if isinstance(av, tuple | list) else (av,):
                for child in part if isinstance(part, list) else (part,):
                    if isinstance(child, sre_parse.SubPattern):
                        stack.append((child, copies))
    return unrolled - nodes


def _char(code: int) -> str:
    """Return one character, escaped unless it is an ASCII letter or digit (safe everywhere)."""
    char = chr(code)
    if char.isascii() and char.isalnum():
        return char
    return f'\\U{code:08x}'


def _letters(flags: int) -> str:
    return ''.join(letter for flag, letter in _FLAG_LETTERS if flags & flag)


class _Writer:
    """Writes ``re``'s parse tree as a ``regex`` pattern (see the module docstring)."""

    def __init__(self, group_names: dict[int, str]) -> None:
        self._names = group_names

    def sequence(self, items: Iterable[tuple[Any, Any]], flags: int) -> str:
        return ''.join(self._item(op, av, flags) for op, av in items)

    def _group(self, items: Iterable[tuple[Any, Any]], flags: int) -> str:
        return f'(?:{self.sequence(items, flags)})'

    def _item(self, op: Any, av: Any, flags: int) -> str:
        caseless = bool(flags & re.IGNORECASE) and not flags & re.ASCII
        if op is sre.LITERAL:
            if caseless and chr(av) in _DOTTED_I:
                return f'[{_DOTTED_I}]'
            return _char(av)
        if op is sre.NOT_LITERAL:
            if caseless and chr(av) in _DOTTED_I:
                return f'[^{_DOTTED_I}]'
            return f'[^{_char(av)}]'
        if op is sre.ANY:
            return '.'
        if op is sre.IN:
            return self._set(av, flags)
        if op is sre.AT:
            return self._at(av, flags)
        if op is sre.BRANCH:
            return '(?:' + '|'.join(self.sequence(branch, flags) for branch in av[1]) + ')'
        if op is sre.SUBPATTERN:
            return self._subpattern(av, flags)
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            low, high, item = av
            upper = '' if high is sre.MAXREPEAT else str(high)
            mode = {sre.MAX_REPEAT: '', sre.MIN_REPEAT: '?', sre.POSSESSIVE_REPEAT: '+'}[op]
            return f'{self._group(item, flags)}{{{low},{upper}}}{mode}'
        if op is sre.ATOMIC_GROUP:
            return f'(?>{self.sequence(av, flags)})'
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            direction, item = av
            kind = ('=' if op is sre.ASSERT else '!') if direction == 1 else ('<=' if op is sre.ASSERT else '<!')
            return f'(?{kind}{self.sequence(item, flags)})'
        if op is sre.GROUPREF:
            return f'(?:\\g<{av}>)'
        if op is sre.GROUPREF_EXISTS:
            group, yes, no = av
            otherwise = '' if no is None else '|' + self.sequence(no, flags)
            return f'(?({group}){self.sequence(yes, flags)}{otherwise})'
        if op is getattr(sre, 'FAILURE', None):  # Python 3.13 parses an empty negative look-ahead to FAILURE
            return '(?!)'
        raise re.error(f'unsupported construct {op}')  # pragma: no cover - every node re's parser makes

    def _subpattern(self, av: Any, flags: int) -> str:
        group, add, remove, item = av
        inner = (flags | add) & ~remove
        if group is None:
            switches = _letters(add) + ('-' + _letters(remove) if _letters(remove) else '')
            return f'(?{switches}:{self.sequence(item, inner)})'
        name = self._names.get(group)
        opening = f'(?P<{name}>' if name is not None else '('
        return f'{opening}{self.sequence(item, inner)})'

    def _at(self, code: Any, flags: int) -> str:
        if code is sre.AT_BEGINNING:
            return '^'
        if code is sre.AT_BEGINNING_STRING:
            return r'\A'
        if code is sre.AT_END:
            return '$'
        if code is sre.AT_END_STRING:
            return r'\Z'
        word = f'(?-i:[{_WORD[bool(flags & re.ASCII)]}])'
        if code is sre.AT_BOUNDARY:
            return f'(?:(?<={word})(?!{word})|(?<!{word})(?={word}))'
        # re's \B never matches in an empty string.
        return f'(?:(?<={word})(?={word})|(?<!{word})(?!{word})(?!(?<!(?s:.))(?!(?s:.))))'

    def _set(self, members: list[tuple[Any, Any]], flags: int) -> str:
        """Write a set: its characters under the flags in force, its classes (``\\w``...) case-sensitively."""
        ascii_only = bool(flags & re.ASCII)
        negated = False
        characters: list[str] = []
        classes: list[str] = []  # members of the set
        complements: list[str] = []  # sets the character must be outside of (\W, \S)
        for op, av in members:
            if op is sre.NEGATE:
                negated = True
            elif op is sre.LITERAL:
                characters.append(_char(av))
            elif op is sre.RANGE:
                characters.append(f'{_char(av[0])}-{_char(av[1])}')
            elif op is sre.CATEGORY:
                self._category(av, ascii_only, classes, complements)
            else:  # pragma: no cover - every member re's parser makes
                raise re.error(f'unsupported set member {op}')
        chars = ''.join(characters)
        if chars and flags & re.IGNORECASE and not ascii_only:
            # re makes i, I and the Turkish dotted and dotless I one another's case: a set holding
            # one of them holds all four.
            probe = re.compile(f'[{chars}]', re.IGNORECASE)
            if any(probe.match(char) for char in _DOTTED_I):
                chars += _DOTTED_I
        if not negated:
            options = [f'[{chars}]'] if chars else []
            if classes:
                options.append(f'(?-i:[{"".join(classes)}])')
            options.extend(f'(?-i:[^{complement}])' for complement in complements)
            return options[0] if len(options) == 1 else '(?:' + '|'.join(options) + ')'
        if not classes and not complements:
            return f'[^{chars}]'
        conditions = [f'(?![{chars}])'] if chars else []
        if classes:
            conditions.append(f'(?-i:(?![{"".join(classes)}]))')
        conditions.extend(f'(?-i:(?=[{complement}]))' for complement in complements)
        return '(?:' + ''.join(conditions) + '(?s:.))'

    @staticmethod
    def _category(code: Any, ascii_only: bool, classes: list[str], complements: list[str]) -> None:
        if code in (sre.CATEGORY_WORD, sre.CATEGORY_UNI_WORD):
            classes.append(_WORD[ascii_only])
        elif code in (sre.CATEGORY_NOT_WORD, sre.CATEGORY_UNI_NOT_WORD):
            complements.append(_WORD[ascii_only])
        elif code in (sre.CATEGORY_DIGIT, sre.CATEGORY_UNI_DIGIT):
            classes.append(_DIGIT[ascii_only])
        elif code in (sre.CATEGORY_NOT_DIGIT, sre.CATEGORY_UNI_NOT_DIGIT):
            complements.append(_DIGIT[ascii_only])
        elif code in (sre.CATEGORY_SPACE, sre.CATEGORY_UNI_SPACE):
            classes.append(_SPACE[ascii_only])
        elif code in (sre.CATEGORY_NOT_SPACE, sre.CATEGORY_UNI_NOT_SPACE):
            complements.append(_SPACE[ascii_only])
        else:  # pragma: no cover - line breaks are bytes-only
            raise re.error(f'unsupported class {code}')
