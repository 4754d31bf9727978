"""Strict JSON: decoding only what every JSON parser accepts (nested no deeper than a bound), and encoding so.

Python's ``json`` module accepts ``NaN``, ``Infinity`` and ``-Infinity``, turns ``1e400`` into an
infinite float and keeps unpaired UTF-16 surrogates (``"\\ud800"``); strict parsers (msgspec, which
remotevars clients use, browsers, Go, Rust) refuse all of these, so one such value stored by the
server would make the whole configuration unreadable for every client. :func:`loads_strict` decodes
with msgspec itself (the clients' parser, and twice as fast as ``json``); only text it refuses is
decoded again with ``json`` and walked, to name where the offending value is. :func:`dumps_strict`
is the matching encoder (what the server stores and serves), :func:`loads_stored` the decoder of what
it stored.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final, NoReturn

import msgspec

__all__ = ['StrictJsonError', 'dumps_strict', 'format_path', 'loads_stored', 'loads_strict']

#: A ``\\uD800``-``\\uDFFF`` escape: with raw surrogates (which UTF-8 cannot carry), how one gets into decoded JSON.
_SURROGATE_ESCAPE: Final = re.compile(r'\\u[dD][89a-fA-F]')
#: After decoding, a surrogate left in a str is unpaired (json joins valid pairs into one character).
_SURROGATE: Final = re.compile('[\ud800-\udfff]')

_NOT_FINITE: Final = 'NaN and Infinity are not JSON numbers'

Path = tuple[str | int, ...]
_CONTAINERS: Final = (dict, list)


class StrictJsonError(ValueError):
    """Text that is not strict JSON; ``path`` locates the offending value (empty: the text as a whole)."""

    def __init__(self, reason: str, path: Path = (), *, malformed: bool = False) -> None:
        self.reason = reason
        self.path = path
        #: True when the text does not parse at all (as opposed to parsing to something refused).
        self.malformed = malformed
        super().__init__(f'{format_path(path)}: {reason}' if path else reason)


def format_path(path: Path) -> str:
    """Return ``path`` as dotted text: ``overrides.0.conditions.1.value``."""
    return '.'.join(str(part) for part in path)


def loads_strict(text: str | bytes, *, max_depth: int) -> Any:
    """Return the decoded JSON ``text``; raises :class:`StrictJsonError`.

    Refused: text that is not UTF-8 (bytes), malformed text, nesting deeper than ``max_depth``
    arrays/objects, non-finite numbers (``NaN``, ``Infinity``, ``1e400``) and unpaired surrogates in
    strings or keys.
    """
    try:
        value = msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError, UnicodeError) as exc:  # bytes not UTF-8, a str with a surrogate
        _explain(text, max_depth, exc)
    _check_depth(value, max_depth)
    return value


def dumps_strict(value: Any) -> bytes:
    """Return ``value`` as compact, strict JSON (UTF-8); raises :class:`StrictJsonError` (why) when it has none.

    Encoded by msgspec, which refuses unpaired surrogates and takes a tenth of ``json``'s time (a 2 MiB
    document: ~1.5 ms against ~15 ms, all of it holding the GIL, so every read waited). msgspec writes
    NaN and Infinity as ``null``, so a walk of the value refuses them first; the walk is Python code,
    which lets other threads (the event loop) run while it goes.
    """
    _check_finite(value)
    try:
        return msgspec.json.encode(value)
    except (UnicodeEncodeError, TypeError) as exc:  # an unpaired surrogate; a value JSON cannot hold
        raise StrictJsonError(str(exc)) from None


def loads_stored(text: str | bytes) -> Any:
    """Return JSON a store wrote: decoded by msgspec, or by ``json`` when an older release wrote NaN or Infinity."""
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)


def _check_finite(root: Any) -> None:
    # Iterative; only containers are stacked, and exact type checks keep the scan of a 2 MiB document
    # at a few milliseconds (x - x is 0.0 for every finite float, NaN for NaN and the infinities).
    kind = type(root)
    if kind is float and root - root != 0.0:
        raise StrictJsonError(_NOT_FINITE)
    if kind is not dict and kind is not list and kind is not tuple:
        return
    stack = [root]
    while stack:
        value = stack.pop()
        for item in value.values() if type(value) is dict else value:
            kind = type(item)
            if kind is float:
                if item - item != 0.0:
                    raise StrictJsonError(_NOT_FINITE)
            elif kind is dict or kind is list or kind is tuple:
                stack.append(item)


def _explain(text: str | bytes, max_depth: int, refusal: BaseException) -> NoReturn:
    """Raise the :class:`StrictJsonError` for ``text``, which msgspec refused with ``refusal``."""
    if isinstance(text, bytes):
        try:
            text = text.decode('utf-8')  # JSON between systems is UTF-8 (RFC 8259); json.loads would guess
        except UnicodeDecodeError as exc:
            reason = f'malformed JSON (not UTF-8: {exc.reason} at byte {exc.start})'
            raise StrictJsonError(reason, malformed=True) from None
    try:
        value = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, and integers past the interpreter's digit limit
        raise StrictJsonError(f'malformed JSON ({exc})', malformed=True) from None
    except RecursionError:
        raise StrictJsonError('malformed JSON (nested too deeply)', malformed=True) from None
    _check(value, max_depth, check_strings=_may_hold_surrogates(text))
    # json accepts it and finds nothing to name (e.g. an integer msgspec cannot hold): msgspec's words.
    message = 'nested too deeply' if isinstance(refusal, RecursionError) else str(refusal)
    raise StrictJsonError(f'malformed JSON ({message})', malformed=True)


def _check_depth(root: Any, max_depth: int) -> None:
    # The fast path's only check (msgspec refused everything else): containers deeper than max_depth.
    # msgspec decodes to exact dicts and lists, so `type(...) in` suffices; the comprehensions keep the
    # scan of long lists of scalars cheap (~40 ns an element).
    if type(root) not in _CONTAINERS:
        return
    stack: list[tuple[Any, int, Any]] = [(root, 0, None)]
    while stack:
        value, depth, crumb = stack.pop()
        if depth >= max_depth:
            raise StrictJsonError(f'nests deeper than {max_depth} levels', _path(crumb)[:4])
        items = value.items() if type(value) is dict else enumerate(value)
        stack += [(item, depth + 1, (crumb, key)) for key, item in items if type(item) in _CONTAINERS]


def _may_hold_surrogates(text: str) -> bool:
    # Both tests are fast scans (~1 ms for 2 MB); the per-string walk runs only when one of them hits.
    if _SURROGATE_ESCAPE.search(text):
        return True
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:
        return True
    return False


def _check(root: Any, max_depth: int, *, check_strings: bool) -> None:
    # Iterative, so depth is limited by max_depth and not by the interpreter's stack. Each stack entry
    # carries (value, depth, breadcrumb); a breadcrumb is (parent breadcrumb, key), rebuilt into a path
    # only when something is refused.
    stack: list[tuple[Any, int, Any]] = [(root, 0, None)]
    while stack:
        value, depth, crumb = stack.pop()
        if isinstance(value, dict):
            items: Any = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            _check_scalar(value, crumb, check_strings=check_strings)
            continue
        if depth >= max_depth:
            # The path down to the limit would be max_depth segments long: name where it starts.
            raise StrictJsonError(f'nests deeper than {max_depth} levels', _path(crumb)[:4])
        for key, item in items:
            here = (crumb, key)
            if check_strings and isinstance(key, str) and _SURROGATE.search(key):
                raise StrictJsonError('key holds an unpaired UTF-16 surrogate, which strict JSON refuses', _path(here))
            if isinstance(item, (dict, list)):
                stack.append((item, depth + 1, here))
            else:
                _check_scalar(item, here, check_strings=check_strings)


def _check_scalar(value: Any, crumb: Any, *, check_strings: bool) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise StrictJsonError('NaN and Infinity are not JSON numbers (expected a finite number)', _path(crumb))
    if check_strings and isinstance(value, str) and _SURROGATE.search(value):
        raise StrictJsonError('string holds an unpaired UTF-16 surrogate, which strict JSON refuses', _path(crumb))


def _path(crumb: Any) -> Path:
    parts: list[str | int] = []
    while crumb is not None:
        crumb, key = crumb
        parts.append(key)
    return tuple(reversed(parts))
