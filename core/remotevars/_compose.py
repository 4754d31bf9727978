"""Composition: expanding ``@{other_variable}@`` references inside a serialized value.

Pure: a value and a function that resolves a referenced name go in; the composed JSON text and what
each reference resolved to come out. References are Handlebars with the ``@{`` / ``}@`` delimiters
(plain and dotted references, ``#if`` / ``#each`` / ``#with`` blocks, helpers, backslash escapes),
rendered with pydantic-handlebars, the Logfire SDK's renderer, so a composed value is the same text
in both. ``{{...}}`` is left alone for the template pass (:mod:`remotevars._template`).

pydantic-handlebars is imported on first use: a program whose values never contain ``@{`` never
loads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from remotevars._errors import VariableCompositionCycleError, VariableCompositionError

if TYPE_CHECKING:
    from pydantic_handlebars import CompiledTemplate, HandlebarsEnvironment

    from remotevars._result import ResolutionReason

__all__ = [
    'MAX_COMPOSITION_DEPTH',
    'OPEN',
    'ComposedReference',
    'RefResolver',
    'composition_errors',
    'expand_references',
    'find_references',
    'find_references_and_errors',
    'first_fatal_error',
]

#: The composition delimiters; any value containing OPEN goes through the renderer (which also
#: applies the backslash escapes), any other value is returned as it is.
OPEN: Final = '@{'
CLOSE: Final = '}@'
MAX_COMPOSITION_DEPTH: Final = 20
_COMPILE_CACHE: Final = 1024

#: ``name -> (serialized value or None, label, version, reason)`` for a referenced variable.
RefResolver = Callable[[str], 'tuple[str | None, str | None, int | None, ResolutionReason]']


@dataclass
class ComposedReference:
    """What one ``@{name}@`` of a value resolved to.

    ``value`` is the referenced value after its own composition (a string as it is, anything else as
    JSON), None when it could not be used; ``error`` says why. ``fatal`` marks a cycle or a chain too
    deep, after which the whole value cannot be composed; a missing reference is not fatal.
    """

    name: str
    value: str | None
    label: str | None
    version: int | None
    reason: ResolutionReason
    error: str | None = None
    composed_from: list[ComposedReference] = field(default_factory=list)
    fatal: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON-ready summary (name, version, label, reason, error, nested references)."""
        data: dict[str, Any] = {
            'name': self.name,
            'version': self.version,
            'label': self.label,
            'reason': self.reason,
            'error': self.error,
        }
        if self.composed_from:
            data['composed_from'] = [ref.as_dict() for ref in self.composed_from]
        return data


@lru_cache(maxsize=2)
def _environment(strict: bool) -> HandlebarsEnvironment:
    from pydantic_handlebars import HandlebarsEnvironment

    return HandlebarsEnvironment(open_delim=OPEN, close_delim=CLOSE, strict=strict)


@lru_cache(maxsize=_COMPILE_CACHE)
def _compiled(source: str, strict: bool) -> CompiledTemplate:
    # Values are stable across reads: each distinct text is parsed once.
    return _environment(strict).compile(source)


@lru_cache(maxsize=_COMPILE_CACHE)
def _dependencies(source: str) -> frozenset[str]:
    from pydantic_handlebars import extract_dependencies

    return frozenset(extract_dependencies(source, open_delim=OPEN, close_delim=CLOSE))


def _decode(serialized: str) -> Any:
    try:
        return json.loads(serialized)
    except (ValueError, TypeError):
        return None


def _scan(value: Any) -> tuple[set[str], list[str]]:
    """Return the top-level names referenced by the strings of a decoded value, and parse errors.

    A string whose ``@{...}@`` cannot be parsed (an unclosed block, a reserved word such as
    ``@{true}@``) contributes an error instead of references. Iterative: values can nest deeply.
    """
    names: set[str] = set()
    errors: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if OPEN in item:
                try:
                    names.update(_dependencies(item))
                except Exception as exc:  # the parser raises its own errors and, for reserved names, AssertionError
                    errors.append(f'value {item!r} could not be parsed as a composition template: {exc}')
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return names, errors


def find_references(serialized: str) -> list[str]:
    """Return the names a serialized value references, sorted; unparsable strings are skipped."""
    return sorted(_scan(_decode(serialized))[0])


def find_references_and_errors(serialized: str) -> tuple[list[str], list[str]]:
    """Return ``(sorted referenced names, one message per string that cannot be parsed)``."""
    names, errors = _scan(_decode(serialized))
    return sorted(names), errors


def _render(value: Any, context: dict[str, Any], strict: bool) -> Any:
    if isinstance(value, str):
        return _compiled(value, strict).render(context) if OPEN in value else value
    if isinstance(value, dict):
        return {key: _render(item, context, strict) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, context, strict) for item in value]
    return value


def first_fatal_error(composed: list[ComposedReference]) -> str | None:
    """Return the first cycle or depth error in a tree of references, or None."""
    for ref in composed:
        if ref.fatal and ref.error is not None:
            return ref.error
        nested = first_fatal_error(ref.composed_from)
        if nested is not None:
            return nested
    return None


def expand_references(
    serialized: str,
    name: str,
    resolve: RefResolver,
    *,
    strict: bool = False,
    _visited: tuple[str, ...] = (),
    _depth: int = 0,
) -> tuple[str, list[ComposedReference]]:
    """Compose the value ``serialized`` of variable ``name``; return the new JSON text and its references.

    Referenced names are resolved in alphabetical order with ``resolve`` and inserted as decoded
    JSON (objects allow dotted access), each expanded recursively first. A value that is not JSON
    comes back unchanged. When a nested reference is circular or too deep the value comes back
    unrendered, with the failure in the returned references (see :func:`first_fatal_error`).

    Raises :class:`VariableCompositionError` when the chain is deeper than
    :data:`MAX_COMPOSITION_DEPTH`, :class:`VariableCompositionCycleError` when ``name`` is already in
    the chain, and, with ``strict``, the renderer's error for a reference that cannot be resolved (a
    parse error is raised either way).
    """
    if _depth > MAX_COMPOSITION_DEPTH:
        raise VariableCompositionError(
            f'Maximum composition depth ({MAX_COMPOSITION_DEPTH}) exceeded '
            f"while expanding '{name}'. This likely indicates a circular reference."
        )
    if name in _visited:
        raise VariableCompositionCycleError(f'Circular reference detected: {" -> ".join((*_visited, name))}')
    chain = (*_visited, name)
    decoded = _decode(serialized)
    if decoded is None and serialized.strip() != 'null':
        return serialized, []
    composed: list[ComposedReference] = []
    context: dict[str, Any] = {}
    for ref in sorted(_scan(decoded)[0]):
        ref_serialized, label, version, reason = resolve(ref)
        if ref_serialized is None:
            composed.append(
                ComposedReference(
                    ref, None, label, version, reason, f"Referenced variable '{ref}' could not be resolved."
                )
            )
            continue
        try:
            ref_value = json.loads(ref_serialized)
        except (ValueError, TypeError):
            error = f"Referenced variable '{ref}' has a non-JSON serialized value."
            composed.append(ComposedReference(ref, None, label, version, reason, error))
            continue
        nested: list[ComposedReference] = []
        if OPEN in ref_serialized:
            try:
                expanded, nested = expand_references(
                    ref_serialized, ref, resolve, strict=strict, _visited=chain, _depth=_depth + 1
                )
            except VariableCompositionError as exc:
                composed.append(ComposedReference(ref, None, label, version, reason, str(exc), fatal=True))
                continue
            ref_value = json.loads(expanded)
        text = ref_value if isinstance(ref_value, str) else json.dumps(ref_value)
        composed.append(ComposedReference(ref, text, label, version, reason, composed_from=nested))
        context[ref] = ref_value
    if first_fatal_error(composed) is not None:
        return serialized, composed
    # Unresolved names stay out of the context: lenient rendering shows them empty (and ``#if``
    # takes its else branch), strict rendering raises.
    return json.dumps(_render(decoded, context, strict), ensure_ascii=False), composed


def composition_errors() -> tuple[type[Exception], ...]:
    """Return the exception types a composition attempt can raise (for ``except`` clauses)."""
    from pydantic_handlebars import HandlebarsError

    return (VariableCompositionError, HandlebarsError, AssertionError)
